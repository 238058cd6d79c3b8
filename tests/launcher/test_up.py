"""`citymesh up` as a user runs it: a subprocess that serves, stores, stops on Ctrl-C, resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.launcher.services import SERVICES
from citymesh.runtime import auth

T = TypeVar("T")


def poll(what: str, get: Callable[[], T | None], timeout: float, proc: subprocess.Popen[bytes]) -> T:
    """Call `get` until it returns something, failing if `up` exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if value is not None:
            return value
        assert proc.poll() is None, f"citymesh up exited with {proc.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes of a session."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class Up:
    """`citymesh up --data DIR --rate 50` in its own session, as a terminal would run it."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data = data
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "citymesh", "up", "--data", str(data), "--rate", "50"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def ports(self) -> dict[str, Any]:
        def serving() -> dict[str, Any] | None:
            try:
                ports: dict[str, Any] = json.loads((self.data / "run" / "ports.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return None
            return ports if ports["state"] == "serving" else None

        return poll("ports.json of a serving platform", serving, 60, self.proc)

    def token(self) -> str:
        """A zone administrator's token, as `citymesh token sign` makes it from up's keys."""
        key = auth.load_private_key((self.data / "keys" / "signing-key.pem").read_text())
        return auth.sign(key, auth.Identity("zone", "", frozenset({"zone-admin"})), time.time() + 600)

    def rows(self, address: str, more_than: int | None = None) -> int:
        """The exchange's rows now, or once there are more than `more_than`."""
        metadata = auth.bearer(self.token())
        with grpc.insecure_channel(address) as channel:
            stub = exchange_pb2_grpc.ExchangeServiceStub(channel)

            def rows() -> int | None:
                n = int(stub.GetStats(exchange_pb2.GetStatsRequest(), timeout=5, metadata=metadata).rows)
                return n if more_than is None or n > more_than else None

            return poll(f"more than {more_than} exchange rows", rows, 45, self.proc)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole foreground process group, then wait for the exit."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(45)

    def kill(self) -> None:
        for pid in session_members(self.proc.pid):
            os.kill(pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[], Up]]:
    started: list[Up] = []

    def start() -> Up:
        up = Up(tmp_path / "city", tmp_path / "up.log")
        started.append(up)
        return up

    try:
        yield start
    finally:
        for up in started:
            if up.proc.poll() is None or session_members(up.proc.pid):
                up.kill()
        print((tmp_path / "up.log").read_text(errors="replace"))


@pytest.mark.integration
def test_up_stores_the_city_stops_cleanly_on_ctrl_c_and_resumes(launch: Callable[[], Up]) -> None:
    first = launch()
    ports = first.ports()
    exchange = ports["services"]["exchange"]["address"]
    peaks = {"peak-tianjian-lake", "peak-fengyang-5g", "peak-digital-governance"}  # the seed's active ones
    assert set(ports["services"]) == {s.name for s in SERVICES} | peaks
    governance_env = Path(f"/proc/{ports['services']['governance']['pid']}/environ").read_bytes().split(b"\0")
    compute = ports["services"]["compute"]["address"]
    assert f"CITYMESH_COMPUTE_ADDRESS={compute}".encode() in governance_env  # ETAs from the route kernel
    with grpc.insecure_channel(exchange) as channel, pytest.raises(grpc.RpcError) as refused:
        exchange_pb2_grpc.ExchangeServiceStub(channel).GetStats(exchange_pb2.GetStatsRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    public_key = (first.data / "keys" / "public-key.pem").read_text()
    signing = first.data / "keys" / "signing-key.pem"
    assert f"citymesh token sign --signing-key {signing.resolve()}" in first.log.read_text()
    stored = first.rows(exchange, more_than=0)  # the simulator's token works
    assert first.interrupt() == 0
    assert session_members(first.proc.pid) == []
    assert not (first.data / "run" / "ports.json").exists()
    assert (first.data / "logs" / "collection.log").stat().st_size > 0
    assert json.loads((first.data / "run" / "simulator.json").read_text())["cursors"]

    second = launch()
    exchange = second.ports()["services"]["exchange"]["address"]
    assert (second.data / "keys" / "public-key.pem").read_text() == public_key  # the same keys
    assert second.rows(exchange) >= stored  # before the simulator adds anything
    second.rows(exchange, more_than=stored)
    assert second.interrupt() == 0
    assert session_members(second.proc.pid) == []
