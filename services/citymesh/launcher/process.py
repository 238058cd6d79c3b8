"""One service as a child process: start it, wait until it serves, stop it gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from citymesh.launcher.services import ServiceSpec
from citymesh.runtime import auth


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def last_lines(path: Path, n: int = 20) -> list[str]:
    """The last n lines of a log file (empty when there is none)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in deque(f, maxlen=n)]
    except FileNotFoundError:
        return []


@dataclass(frozen=True)
class Credentials:
    """What a process of the platform needs for tokens: governance's public key (every process
    verifies tokens with it), its signing key (governance only), and the `service` token each
    process presents when it calls another (the launcher's probes present it too)."""

    public_key: str
    signing_key: str
    token: str

    def env(self, service: str) -> dict[str, str]:
        env = {"CITYMESH_AUTH_PUBLIC_KEY": self.public_key, "CITYMESH_TOKEN": self.token}
        if service == "governance":
            env["CITYMESH_SIGNING_KEY"] = self.signing_key
        return env


DEVELOPMENT_ENV = {"CITYMESH_AUTH_DEV_HEADERS": "true", "CITYMESH_AUTH_PUBLIC_KEY": "", "CITYMESH_TOKEN": ""}
"""A process without Credentials: it trusts the x-citymesh-* headers (development only)."""


class ServiceProcess:
    """A `citymesh serve <name>` process on 127.0.0.1:<port>, logging to logs/<name>.log. With
    `credentials` it checks tokens and presents its own; without, it runs in development mode."""

    def __init__(
        self, spec: ServiceSpec, data_dir: Path, nats_url: str, credentials: Credentials | None = None
    ) -> None:
        self.spec = spec
        self.data_dir = data_dir
        self.nats_url = nats_url
        self.credentials = credentials
        self.port = free_port()
        self.log_path = data_dir / "logs" / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.aio.Channel | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return None if self.proc is None else self.proc.poll()

    def start(self, addresses: dict[str, str] | None = None) -> None:
        """Start it; `addresses` (service name → host:port) tells it where its spec's peers listen."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(CITYMESH_NATS_URL=self.nats_url, CITYMESH_LISTEN=self.address)
        env.update(self.credentials.env(self.name) if self.credentials else DEVELOPMENT_ENV)
        env.update(self.spec.env(self.data_dir))
        for peer in self.spec.peers:
            if addresses and peer in addresses:
                env[f"CITYMESH_{peer.upper()}_ADDRESS"] = addresses[peer]
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"--- citymesh up: starting {self.name} on {self.address} at {stamp}\n".encode())
            log.flush()
            # Its own process group: a Ctrl-C in the terminal reaches the launcher only, which
            # then stops everything in order.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "citymesh", "serve", self.spec.command or self.name],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                process_group=0,
            )
        self.channel = auth.channel(self.address, self.credentials.token if self.credentials else "")

    async def serving(self) -> bool:
        """True when health says its service is SERVING."""
        if self.channel is None:
            return False
        stub = health_pb2_grpc.HealthStub(self.channel)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=self.spec.grpc_service), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def wait_serving(self, timeout: float) -> None:
        """Poll health until SERVING; ServiceFailed if the process exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        while not await self.serving():
            code = self.exit_code()
            if code is not None:
                raise ServiceFailed(self, f"{self.name} exited with code {code} while starting")
            if time.monotonic() > deadline:
                raise ServiceFailed(self, f"{self.name} was not SERVING within {timeout:.0f} s")
            await asyncio.sleep(0.1)

    async def probe(self) -> dict[str, float] | None:
        if self.spec.probe is None or self.channel is None or self.exit_code() is not None:
            return None
        try:
            return await self.spec.probe(self.channel)
        except grpc.aio.AioRpcError:
            return None

    async def stop(self, timeout: float) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds; its exit code."""
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                return await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        return await asyncio.to_thread(proc.wait)


class ServiceFailed(Exception):
    def __init__(self, service: ServiceProcess, message: str) -> None:
        super().__init__(message)
        self.service = service


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_leftover(pid: int, must_contain: str, timeout: float = 10.0) -> bool:
    """Stop a process a crashed launcher left behind, if `pid` still runs `must_contain`."""
    if not alive(pid) or must_contain not in command_line(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True
