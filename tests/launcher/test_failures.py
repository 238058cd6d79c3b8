"""`citymesh up` when something goes wrong: a service that cannot start, a second launcher."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

import pytest

from citymesh.launcher import SERVICES, Launcher, Options
from citymesh.launcher.process import alive
from citymesh.launcher.up import write_json
from citymesh.runtime.natsd import NatsServer
from tests.polling import eventually


@pytest.mark.integration
async def test_a_service_that_cannot_start_stops_everything_with_its_last_log_lines(tmp_path: Path) -> None:
    broken = replace(SERVICES[0], env=lambda data: {"CITYMESH_MAX_CLOCK_SKEW_S": "-1"})
    out = io.StringIO()
    launcher = Launcher(Options(tmp_path, services=(broken,), simulator=False), out)
    assert await launcher.run() == 1
    text = out.getvalue()
    assert "collection exited with code 2 while starting" in text
    assert "CITYMESH_MAX_CLOCK_SKEW_S" in text  # its log line, shown
    assert launcher.nats is not None
    assert launcher.nats.proc is not None
    assert launcher.nats.proc.poll() is not None
    assert not (tmp_path / "run" / "ports.json").exists()


@pytest.mark.integration
async def test_a_second_launcher_on_the_same_data_refuses_to_start(tmp_path: Path) -> None:
    first = Launcher(Options(tmp_path, services=(), simulator=False), io.StringIO())
    running = asyncio.create_task(first.run())
    ports = tmp_path / "run" / "ports.json"
    await eventually(lambda: ports.exists(), bool, 30, "ports.json written")
    out = io.StringIO()
    assert await Launcher(Options(tmp_path, services=(), simulator=False), out).run() == 1
    assert "another `citymesh up`" in out.getvalue()
    first.stop.set()
    assert await running == 0
    assert first.nats is not None
    assert first.nats.proc is not None
    assert not alive(first.nats.proc.pid) or first.nats.proc.poll() is not None


@pytest.mark.integration
async def test_processes_left_by_a_killed_launcher_are_stopped_by_the_next(tmp_path: Path) -> None:
    leftover = NatsServer(tmp_path / "nats").start()
    assert leftover.proc is not None
    write_json(
        tmp_path / "run" / "ports.json",
        {"state": "serving", "nats": {"url": leftover.url, "pid": leftover.proc.pid}, "services": {}},
    )
    out = io.StringIO()
    launcher = Launcher(Options(tmp_path, services=(), simulator=False), out)
    launcher.stop.set()
    try:
        assert await launcher.run() == 0
        assert leftover.proc.poll() is not None
        assert "stopped 1 processes a previous run left behind" in out.getvalue()
    finally:
        leftover.stop()
