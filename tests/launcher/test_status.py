"""The status view and the service table of `citymesh up`, without processes."""

from __future__ import annotations

import io
import re

import grpc
import pytest

from citymesh.cli import SERVICES as SERVEABLE
from citymesh.launcher.services import SERVICES, governance_probe
from citymesh.launcher.status import Screen, ServiceRow, Snapshot, render, render_line
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer
from citymesh.simulator import SimulationStats
from tests.governance.conftest import governance
from tests.tokens import PUBLIC, SERVICE_TOKEN


def snapshot() -> Snapshot:
    return Snapshot(
        data_dir=".citymesh",
        uptime_s=3725,
        services=[
            ServiceRow("collection", "127.0.0.1:50001", 101, up=True, detail="2,515 devices"),
            ServiceRow("exchange", "127.0.0.1:50002", 102, up=False, exit_code=3),
        ],
        readings_per_s=10_432.4,
        accepted=1_234_567,
        rejected=2,
        rows=1_230_000,
        lag_batches=3,
        simulator=SimulationStats(phase="streaming", devices=2515, registered=2515),
        rate=50,
        errors=["exchange is down (exit 3): see logs/exchange.log"],
    )


def test_the_status_shows_services_ports_ingest_store_and_simulator() -> None:
    text = "\n".join(render(snapshot()))
    assert "up 01:02:05" in text
    assert "127.0.0.1:50001" in text
    assert "pid 101" in text
    assert "DOWN (exit 3)" in text
    assert "10,432 readings/s" in text
    assert "1,234,567 accepted" in text
    assert "2 rejected" in text
    assert "1,230,000 rows" in text
    assert "lag 3 batches" in text
    assert "streaming at 50×" in text
    assert "! exchange is down" in text


def test_the_one_line_status_names_every_service() -> None:
    line = render_line(snapshot())
    assert "\n" not in line
    assert "collection=up" in line
    assert "exchange=down" in line
    assert "rows 1,230,000" in line


def test_a_terminal_gets_the_status_redrawn_in_place() -> None:
    out = io.StringIO()
    screen = Screen(out, tty=True)
    screen.show(snapshot())
    first = out.getvalue()
    screen.show(snapshot())
    second = out.getvalue()[len(first) :]
    assert re.match(r"\x1b\[\d+F", first) is None  # nothing to move back over yet
    assert second.startswith(f"\x1b[{len(render(snapshot()))}F")


def test_a_pipe_gets_one_line_every_few_seconds() -> None:
    out = io.StringIO()
    screen = Screen(out, tty=False, every_s=60)
    for _ in range(5):
        screen.show(snapshot())
    assert out.getvalue().count("\n") == 1
    assert "\x1b" not in out.getvalue()


def test_every_service_up_runs_is_one_citymesh_serve_knows() -> None:
    # and `serve peak` once per active peak (launcher/peaks.py)
    assert [s.name for s in SERVICES] == [name for name in SERVEABLE if name != "peak"]
    assert all(s.grpc_service.startswith(f"citymesh.{s.name}.v1.") for s in SERVICES)


async def test_governances_row_counts_active_peaks_and_unresolved_incidents(nats_server: NatsServer) -> None:
    async with governance(nats_server, auth_public_key=PUBLIC) as g:
        address = f"127.0.0.1:{g.port}"
        async with auth.channel(address) as nobody:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await governance_probe(nobody)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        async with auth.channel(address, SERVICE_TOKEN) as channel:  # as `up` probes it
            counters = await governance_probe(channel)
    (spec,) = [s for s in SERVICES if s.name == "governance"]
    assert spec.describe(counters) == "3 of 5 peaks active, 0 incidents unresolved"
