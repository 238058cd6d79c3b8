"""Integration: the exchange as its own process, killed with SIGKILL mid-stream and restarted,
stores every published reading exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer, environ_with
from tests.conftest import free_port
from tests.exchange.harness import BASE_MS, ZONE, Dev, publish, register, unavailable_ok
from tests.polling import eventually

DEVICES = [Dev(f"air-{i:02d}", common_pb2.DEVICE_KIND_AIR, 1 + i % 5) for i in range(10)]
BATCHES = 240
PER_BATCH = 500


def command() -> list[str]:
    """`python -m citymesh serve exchange`, or the same App and serve() directly while the CLI
    cannot load (it imports modules other engineers are still writing)."""
    try:
        from citymesh import cli

        cli.parser()
    except Exception:
        code = (
            "import asyncio; from citymesh.exchange.app import App, Settings; "
            "from citymesh.runtime.server import serve; s = Settings(); asyncio.run(serve(App(s), s))"
        )
        return [sys.executable, "-c", code]
    return [sys.executable, "-m", "citymesh", "serve", "exchange"]


@contextlib.contextmanager
def exchange_process(
    nats_url: str, db_path: Path, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = environ_with(
        CITYMESH_NATS_URL=nats_url,
        CITYMESH_LISTEN=f"127.0.0.1:{port}",
        CITYMESH_DB_PATH=str(db_path),
        CITYMESH_FETCH_BATCH="4",
        CITYMESH_FETCH_WAIT_S="0.05",
        CITYMESH_GRACE_S="1",
        CITYMESH_AUTH_DEV_HEADERS="true",
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(command(), env=env, stdout=out, stderr=out)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def batch(i: int) -> list[tuple[str, int, float]]:
    device = DEVICES[i % len(DEVICES)].device_id
    return [(device, BASE_MS + i * 1000 + j, float(i)) for j in range(PER_BATCH)]


@pytest.mark.integration
async def test_a_killed_exchange_restarts_with_no_reading_lost_or_repeated(
    nats_server: NatsServer, bus: Bus, tmp_path: Path
) -> None:
    await register(bus, *DEVICES)
    db_path = tmp_path / "exchange" / "exchange.duckdb"
    log = tmp_path / "exchange.log"
    first_half = BATCHES // 2

    halfway = asyncio.Event()

    async def publish_all() -> None:
        for i in range(BATCHES):
            await publish(bus, batch(i), district=DEVICES[i % len(DEVICES)].district)
            if i == first_half:
                halfway.set()

    try:
        with exchange_process(nats_server.url, db_path, log) as (proc, port):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
                await eventually(
                    lambda: unavailable_ok(stub), lambda s: s is not None, timeout=30, what="serving"
                )
                publishing = asyncio.create_task(publish_all())
                await halfway.wait()
                # The publisher goes on while the exchange dies, mid-stream.
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(10) == -signal.SIGKILL
        assert not publishing.done()
        await publishing

        with exchange_process(nats_server.url, db_path, log) as (proc, port):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = exchange_pb2_grpc.ExchangeServiceStub(channel)
                final = await eventually(
                    lambda: unavailable_ok(stub),
                    lambda s: s is not None and s.lag_batches == 0 and s.committed_sequence == BATCHES,
                    timeout=40,
                    what="caught up after the restart",
                )
                per_device = await stub.Query(
                    pb.QueryRequest(
                        time_range=common_pb2.TimeRange(
                            start=_ts(BASE_MS), end=_ts(BASE_MS + BATCHES * 1000 + 1000)
                        ),
                        group_by=[pb.GROUP_BY_DEVICE],
                    ),
                    metadata=ZONE,
                )
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(20) == 0
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-5000:])
        raise

    if "EXCHANGE_TEST_SHOW_LOG" in os.environ:
        sys.stderr.write(log.read_text(errors="replace"))
    assert final is not None
    assert final.rows == BATCHES * PER_BATCH
    want = {d.device_id: [i for i in range(BATCHES) if DEVICES[i % len(DEVICES)] == d] for d in DEVICES}
    got = {r.device_id: (r.count, r.mean) for r in per_device.rows}
    assert got == {d: (len(ix) * PER_BATCH, pytest.approx(sum(ix) / len(ix))) for d, ix in want.items()}


def _ts(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)
