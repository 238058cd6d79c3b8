"""The telemetry path end to end: readings enter collection over gRPC, flow through JetStream,
are materialised by exchange, and come back from Query and Subscribe with the right figures.
Authentication is on, as in production: readings come with the simulator's `service` token, and
the queries with the zone administrator's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as xpb
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.collection import app as collection_app
from citymesh.exchange import app as exchange_app
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.collection.conftest import GOUZHAO, WUTONG, device
from tests.exchange.harness import caught_up
from tests.tokens import ADMIN_TOKEN, PUBLIC, SERVICE_TOKEN


@dataclass
class Mesh:
    collection: collection_pb2_grpc.CollectionServiceStub
    exchange: exchange_pb2_grpc.ExchangeServiceStub
    collection_channel: grpc.aio.Channel
    exchange_channel: grpc.aio.Channel


@pytest.fixture
async def mesh(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Mesh]:
    cs = collection_app.Settings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_public_key=PUBLIC)
    xs = exchange_app.Settings(
        nats_url=nats_server.url, listen="127.0.0.1:0", db_path=tmp_path / "x.duckdb", auth_public_key=PUBLIC
    )
    async with (
        running(collection_app.App(cs), cs) as c,
        running(exchange_app.App(xs), xs) as x,
        auth.channel(f"127.0.0.1:{c.port}", SERVICE_TOKEN) as cch,
        auth.channel(f"127.0.0.1:{x.port}", ADMIN_TOKEN) as xch,
    ):
        yield Mesh(
            collection_pb2_grpc.CollectionServiceStub(cch),
            exchange_pb2_grpc.ExchangeServiceStub(xch),
            cch,
            xch,
        )


def minute_start_ms() -> int:
    now = time.time_ns() // 1_000_000
    return now - now % 60_000 - 10 * 60_000


async def test_streamed_readings_are_queryable_with_the_right_aggregates(mesh: Mesh) -> None:
    for device_id, at in [("air-g1", GOUZHAO), ("air-g2", GOUZHAO), ("air-w1", WUTONG)]:
        await mesh.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=device(device_id, at=at)))
    await mesh.collection.RegisterDevice(
        cpb.RegisterDeviceRequest(device=device("noise-w1", kind=common_pb2.DEVICE_KIND_NOISE, at=WUTONG))
    )
    rng = np.random.default_rng(3)
    start = minute_start_ms()
    ids = ["air-g1", "air-g2", "air-w1", "noise-w1"]
    n = 4000
    index = rng.integers(0, 4, n)
    times = start + rng.integers(0, 120_000, n)  # two one-minute buckets
    values = np.round(rng.uniform(0, 150, n), 2)
    values[::97] = np.nan  # rejected, the rest of their batches land

    async def batches() -> AsyncIterator[cpb.StreamReadingsRequest]:
        for b, lo in enumerate(range(0, n, 500)):
            sl = slice(lo, lo + 500)
            yield cpb.StreamReadingsRequest(
                batch=cpb.ReadingBatch(
                    batch_id=f"e2e-{b}",
                    device_ids=ids,
                    device_index=index[sl].tolist(),
                    time_unix_ms=times[sl].tolist(),
                    values=values[sl].tolist(),
                )
            )

    acks = [r.ack async for r in mesh.collection.StreamReadings(batches())]
    accepted = sum(a.accepted for a in acks)
    good = ~np.isnan(values)
    assert accepted == good.sum()
    assert sum(a.rejected for a in acks) == n - good.sum()
    await caught_up(mesh.exchange, accepted)

    reply = await mesh.exchange.Query(
        xpb.QueryRequest(
            time_range=common_pb2.TimeRange(start=ts(start), end=ts(start + 120_000)),
            bucket=Duration(seconds=60),
            group_by=[xpb.GROUP_BY_DISTRICT, xpb.GROUP_BY_KIND],
        )
    )
    assert not reply.truncated
    district_of = np.array([1, 1, 3, 3])
    kind_of = np.array([2, 2, 2, 3])
    seen = 0
    for row in reply.rows:
        bucket = (row.bucket_start.ToMilliseconds() - start) // 60_000
        mine = good & (district_of[index] == row.district) & (kind_of[index] == row.kind)
        mine &= (times - start) // 60_000 == bucket
        expected = values[mine]
        assert row.count == len(expected)
        assert row.mean == pytest.approx(expected.mean())
        assert (row.min, row.max) == (expected.min(), expected.max())
        assert row.p50 == pytest.approx(np.percentile(expected, 50))
        assert row.p95 == pytest.approx(np.percentile(expected, 95))
        seen += row.count
    assert seen == accepted
    assert {(r.district, r.kind) for r in reply.rows} == {(1, 2), (3, 2), (3, 3)}


async def test_a_batch_sent_twice_through_collection_is_stored_once(mesh: Mesh) -> None:
    await mesh.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=device("air-1")))
    t = minute_start_ms()
    batch = cpb.ReadingBatch(
        batch_id="again", device_ids=["air-1"], device_index=[0] * 3, time_unix_ms=[t] * 3, values=[1, 2, 3]
    )
    first = await mesh.collection.Ingest(cpb.IngestRequest(batch=batch))
    second = await mesh.collection.Ingest(cpb.IngestRequest(batch=batch))
    assert (first.ack.duplicate, second.ack.duplicate) == (False, True)
    stats = await caught_up(mesh.exchange, 3)
    assert stats.rows == 3


async def test_a_subscriber_sees_live_readings_of_its_filter_only(mesh: Mesh) -> None:
    for device_id, at in [("air-g1", GOUZHAO), ("air-w1", WUTONG)]:
        await mesh.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=device(device_id, at=at)))
    call = mesh.exchange.Subscribe(
        xpb.SubscribeRequest(filter=xpb.ReadingFilter(districts=[common_pb2.DISTRICT_WUTONG]))
    )
    await call.initial_metadata()
    t = minute_start_ms()
    batch = cpb.ReadingBatch(
        batch_id="live",
        device_ids=["air-g1", "air-w1"],
        device_index=[0, 1, 1],
        time_unix_ms=[t, t, t + 1],
        values=[5, 6, 7],
    )
    await mesh.collection.Ingest(cpb.IngestRequest(batch=batch))
    got = await asyncio.wait_for(call.read(), 20)
    call.cancel()
    assert [(r.device_id, r.value, r.district) for r in got.readings] == [
        ("air-w1", 6.0, common_pb2.DISTRICT_WUTONG),
        ("air-w1", 7.0, common_pb2.DISTRICT_WUTONG),
    ]


def ts(ms: int) -> Timestamp:
    out = Timestamp()
    out.FromMilliseconds(ms)
    return out


async def test_no_method_of_any_service_fails_on_garbage(mesh: Mesh, nats_server: NatsServer) -> None:
    """Random bytes to every unary and server-streaming method: an error status a client can act
    on (never INTERNAL or UNKNOWN), and both services still serve afterwards."""
    from citymesh.api.collection.v1 import collection_pb2
    from citymesh.api.exchange.v1 import exchange_pb2

    rng = np.random.default_rng(5)
    garbage = [b"", b"\xff", b"\x0a\x05abc", *(rng.bytes(int(rng.integers(1, 200))) for _ in range(25))]
    allowed = {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    channels = {
        collection_pb2.DESCRIPTOR.services_by_name["CollectionService"]: mesh.collection_channel,
        exchange_pb2.DESCRIPTOR.services_by_name["ExchangeService"]: mesh.exchange_channel,
    }
    seen: set[grpc.StatusCode] = set()
    for service, channel in channels.items():
        for method in service.methods:
            if method.client_streaming:
                continue
            path = f"/{service.full_name}/{method.name}"
            for raw in garbage:
                if method.server_streaming:
                    call = channel.unary_stream(path)(raw, timeout=5)
                    try:
                        await asyncio.wait_for(call.read(), 0.5)
                        code = grpc.StatusCode.OK
                    except TimeoutError:  # a live subscription that matched nothing yet
                        code = grpc.StatusCode.OK
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code()
                    call.cancel()
                else:
                    try:
                        await channel.unary_unary(path)(raw, timeout=5)
                        code = grpc.StatusCode.OK
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code()
                assert code in allowed, f"{path} answered {code} to {raw!r}"
                seen.add(code)
    assert grpc.StatusCode.INVALID_ARGUMENT in seen
    assert (await mesh.collection.GetIngestStats(cpb.GetIngestStatsRequest())).devices == 0
    assert (await mesh.exchange.GetStats(xpb.GetStatsRequest())).rows == 0
