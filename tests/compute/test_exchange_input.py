"""Integration: a job whose input is a query against a real exchange (through its public gRPC API)."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from citymesh.api.common.v1 import common_pb2
from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.compute.exchange_input import series
from citymesh.exchange.app import App as ExchangeApp
from citymesh.exchange.app import Settings as ExchangeSettings
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.runtime.settings import ServiceSettings
from tests.compute.conftest import StartCompute
from tests.exchange.harness import BASE_MS, Dev, caught_up, publish, register

DEVICES = [Dev("gz-air-1", common_pb2.DEVICE_KIND_AIR, 1), Dev("gz-air-2", common_pb2.DEVICE_KIND_AIR, 1)]


def ts(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def test_rows_become_one_series_per_device_in_time_order() -> None:
    got = series([("b", 2, 5.0), ("a", 3, 2.0), ("b", 1, 4.0), ("a", 1, 1.0)])
    assert got["values"].tolist() == [1.0, 2.0, 4.0, 5.0]
    assert got["offsets"].tolist() == [0, 2, 4]
    assert series([])["offsets"].tolist() == [0]


@pytest.mark.integration
async def test_anomaly_scan_over_a_query_finds_the_minute_that_stands_out(
    nats_server: NatsServer, start_compute: StartCompute, tmp_path: Path
) -> None:
    bus = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test-collection")
    try:
        await register(bus, *DEVICES)
        rng = np.random.default_rng(3)
        minutes = 40
        readings = []
        for dev in DEVICES:
            for m in range(minutes):
                level = 35.0 + rng.normal(0, 1.0) + (60.0 if (dev.device_id, m) == ("gz-air-2", 30) else 0.0)
                readings += [(dev.device_id, BASE_MS + m * 60_000 + j * 1000, level) for j in range(3)]
        await publish(bus, readings)
        settings = ExchangeSettings(
            nats_url=nats_server.url,
            listen="127.0.0.1:0",
            db_path=tmp_path / "x.duckdb",
            grace_s=0.5,
            auth_dev_headers=True,
        )
        async with (
            running(ExchangeApp(settings), settings) as exchange,
            grpc.aio.insecure_channel(f"127.0.0.1:{exchange.port}") as channel,
        ):
            await caught_up(exchange_pb2_grpc.ExchangeServiceStub(channel), len(readings))
            async with start_compute(exchange_address=f"127.0.0.1:{exchange.port}") as compute:
                me = compute.as_tenant("alibaba-cloud", "gouzhao")  # compute forwards both to exchange
                query = exchange_pb2.QueryRequest(
                    time_range=common_pb2.TimeRange(start=ts(BASE_MS), end=ts(BASE_MS + minutes * 60_000)),
                    bucket=duration_pb2.Duration(seconds=60),
                    group_by=[exchange_pb2.GROUP_BY_DEVICE],
                )
                request = pb.SubmitJobRequest(
                    kernel="anomaly_scan",
                    params={"window": 10, "threshold": 5.0},
                    exchange=pb.ExchangeInput(query=query, aggregate="mean"),
                )
                job = (await compute.stub.SubmitJob(request, metadata=me.md)).job
                done = await me.finished(job.job_id)
                assert done.state == pb.JOB_STATE_SUCCEEDED, done.error
                assert done.size == f"{2 * minutes} readings × 2 devices"
                _, data = await me.result(job.job_id, "index")
                index = np.load(io.BytesIO(data), allow_pickle=False)
                assert index.tolist() == [minutes + 30]  # gz-air-2's series starts at `minutes`
    finally:
        await bus.close()
