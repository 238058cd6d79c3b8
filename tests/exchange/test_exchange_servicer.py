"""ExchangeService against a real in-process gRPC server and a real nats-server.

The test plays collection: it puts devices in the `devices` bucket and publishes ReadingBatch
messages on telemetry.<district>, exactly as collection does.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, cast

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.runtime.bus import Bus
from tests.exchange.conftest import Exchange, StartExchange
from tests.exchange.harness import BASE_MS, Dev, Reading, caught_up, deregister, publish, register
from tests.polling import eventually

AIR, NOISE, CAMERA, TEMPERATURE = (
    common_pb2.DEVICE_KIND_AIR,
    common_pb2.DEVICE_KIND_NOISE,
    common_pb2.DEVICE_KIND_CAMERA,
    common_pb2.DEVICE_KIND_TEMPERATURE,
)
GOUZHAO, FENGYANG, WUTONG = (
    common_pb2.DISTRICT_GOUZHAO,
    common_pb2.DISTRICT_FENGYANG,
    common_pb2.DISTRICT_WUTONG,
)

DEVICES = [
    Dev("gz-air-1", AIR, GOUZHAO),
    Dev("gz-air-2", AIR, GOUZHAO),
    Dev("gz-noise-1", NOISE, GOUZHAO),
    Dev("wt-air-1", AIR, WUTONG),
    Dev("wt-temp-1", TEMPERATURE, WUTONG),
    Dev("fy-cam-1", CAMERA, FENGYANG),
]
BY_ID = {d.device_id: d for d in DEVICES}


def ts(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def time_range(start_ms: int, end_ms: int) -> common_pb2.TimeRange:
    return common_pb2.TimeRange(start=ts(start_ms), end=ts(end_ms))


def random_readings(rng: np.random.Generator, n: int, span_ms: int = 180_000) -> list[Reading]:
    ids = rng.choice([d.device_id for d in DEVICES], n)
    times = BASE_MS + rng.integers(0, span_ms, n)
    values = np.round(rng.uniform(0, 100, n), 3)
    return [(str(d), int(t), float(v)) for d, t, v in zip(ids, times, values, strict=True)]


async def store(exchange: Exchange, bus: Bus, batches: Iterable[list[Reading]]) -> list[Reading]:
    everything: list[Reading] = []
    for readings in batches:
        await publish(bus, readings, district=BY_ID[readings[0][0]].district)
        everything += readings
    await caught_up(exchange.stub, len(everything))
    return everything


def expected(
    readings: list[Reading],
    key: Callable[[Reading], Any],
) -> dict[Any, dict[str, float]]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for r in readings:
        groups[key(r)].append(r[2])
    return {
        k: {
            "count": len(v),
            "mean": float(np.mean(v)),
            "min": float(np.min(v)),
            "max": float(np.max(v)),
            "p50": float(np.percentile(v, 50)),
            "p95": float(np.percentile(v, 95)),
        }
        for k, v in groups.items()
    }


def aggregates(row: pb.AggregateRow) -> dict[str, float]:
    return {
        "count": row.count,
        "mean": row.mean,
        "min": row.min,
        "max": row.max,
        "p50": row.p50,
        "p95": row.p95,
    }


async def test_query_aggregates_per_device_and_minute_match_numpy(exchange: Exchange, bus: Bus) -> None:
    await register(bus, *DEVICES)
    rng = np.random.default_rng(7)
    readings = await store(exchange, bus, [random_readings(rng, 400) for _ in range(3)])

    response = await exchange.stub.Query(
        pb.QueryRequest(
            time_range=time_range(BASE_MS, BASE_MS + 180_000),
            bucket=duration_pb2.Duration(seconds=60),
            group_by=[pb.GROUP_BY_DEVICE],
        )
    )

    want = expected(readings, lambda r: ((r[1] - BASE_MS) // 60_000, r[0]))
    got = {
        ((row.bucket_start.ToMilliseconds() - BASE_MS) // 60_000, row.device_id): aggregates(row)
        for row in response.rows
    }
    assert got.keys() == want.keys()
    for key, values in want.items():
        assert got[key] == pytest.approx(values), key
    for row in response.rows:
        assert (row.kind, row.district) == (BY_ID[row.device_id].kind, BY_ID[row.device_id].district)
    order = [(r.bucket_start.ToMilliseconds(), r.district, r.kind, r.device_id) for r in response.rows]
    assert order == sorted(order)
    assert not response.truncated


async def test_query_groups_by_district_and_kind_filters_and_truncates(exchange: Exchange, bus: Bus) -> None:
    await register(bus, *DEVICES)
    rng = np.random.default_rng(11)
    readings = await store(exchange, bus, [random_readings(rng, 300) for _ in range(2)])
    whole = time_range(BASE_MS, BASE_MS + 180_000)

    by_district_kind = await exchange.stub.Query(
        pb.QueryRequest(time_range=whole, group_by=[pb.GROUP_BY_KIND, pb.GROUP_BY_DISTRICT])
    )
    want = expected(readings, lambda r: (BY_ID[r[0]].district, BY_ID[r[0]].kind))
    got = {(row.district, row.kind): aggregates(row) for row in by_district_kind.rows}
    assert got.keys() == want.keys()
    for key, values in want.items():
        assert got[key] == pytest.approx(values), key
    assert all(row.bucket_start == whole.start and row.device_id == "" for row in by_district_kind.rows)
    assert [(r.district, r.kind) for r in by_district_kind.rows] == sorted(want)

    air_in_gouzhao = await exchange.stub.Query(
        pb.QueryRequest(
            time_range=whole,
            filter=pb.ReadingFilter(districts=[GOUZHAO], kinds=[AIR]),
        )
    )
    chosen = [r for r in readings if BY_ID[r[0]].district == GOUZHAO and BY_ID[r[0]].kind == AIR]
    (row,) = air_in_gouzhao.rows
    assert aggregates(row) == pytest.approx(expected(chosen, lambda r: ())[()])
    assert (row.district, row.kind) == (common_pb2.DISTRICT_UNSPECIFIED, common_pb2.DEVICE_KIND_UNSPECIFIED)

    one_device = await exchange.stub.Query(
        pb.QueryRequest(time_range=whole, filter=pb.ReadingFilter(device_ids=["wt-temp-1", "no-such-device"]))
    )
    assert one_device.rows[0].count == sum(1 for r in readings if r[0] == "wt-temp-1")

    per_second = await exchange.stub.Query(
        pb.QueryRequest(
            time_range=whole, bucket=duration_pb2.Duration(seconds=1), group_by=[pb.GROUP_BY_DEVICE], limit=5
        )
    )
    assert len(per_second.rows) == 5
    assert per_second.truncated

    nothing = await exchange.stub.Query(pb.QueryRequest(time_range=time_range(BASE_MS - 60_000, BASE_MS)))
    assert list(nothing.rows) == []
    assert not nothing.truncated


async def test_query_range_is_half_open(exchange: Exchange, bus: Bus) -> None:
    await register(bus, *DEVICES)
    await store(exchange, bus, [[("gz-air-1", BASE_MS, 1.0), ("gz-air-1", BASE_MS + 1000, 2.0)]])

    response = await exchange.stub.Query(pb.QueryRequest(time_range=time_range(BASE_MS, BASE_MS + 1000)))

    (row,) = response.rows
    assert (row.count, row.max) == (1, 1.0)


BAD_QUERIES = {
    "no time range": pb.QueryRequest(),
    "no end": pb.QueryRequest(time_range=common_pb2.TimeRange(start=ts(BASE_MS))),
    "end before start": pb.QueryRequest(time_range=time_range(BASE_MS, BASE_MS - 1)),
    "empty range": pb.QueryRequest(time_range=time_range(BASE_MS, BASE_MS)),
    "fractional bucket": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 60_000), bucket=duration_pb2.Duration(seconds=1, nanos=5)
    ),
    "zero bucket": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 60_000), bucket=duration_pb2.Duration(seconds=0)
    ),
    "limit too high": pb.QueryRequest(time_range=time_range(BASE_MS, BASE_MS + 60_000), limit=10_001),
    "too many buckets": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 86_400_000 * 2), bucket=duration_pb2.Duration(seconds=1)
    ),
    "unspecified group": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 60_000), group_by=[pb.GROUP_BY_UNSPECIFIED]
    ),
    "unknown district": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 60_000),
        filter=pb.ReadingFilter(districts=[cast(common_pb2.District, 42)]),
    ),
    "unspecified kind": pb.QueryRequest(
        time_range=time_range(BASE_MS, BASE_MS + 60_000),
        filter=pb.ReadingFilter(kinds=[common_pb2.DEVICE_KIND_UNSPECIFIED]),
    ),
}


async def test_bad_queries_are_invalid_argument_with_a_reason(exchange: Exchange) -> None:
    for name, request in BAD_QUERIES.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await exchange.stub.Query(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert len(info.value.details() or "") > 20, name


async def test_a_batch_published_twice_with_one_id_is_stored_once(exchange: Exchange, bus: Bus) -> None:
    await register(bus, *DEVICES)
    readings = [("gz-air-1", BASE_MS + i, float(i)) for i in range(50)]
    first = await publish(bus, readings, batch_id="gateway-7:000001")
    again = await publish(bus, readings, batch_id="gateway-7:000001")
    assert again == first
    await publish(bus, [("gz-air-2", BASE_MS, 5.0)])

    stats = await caught_up(exchange.stub, 51)

    assert (stats.rows, stats.committed_sequence, stats.stream_sequence, stats.lag_batches) == (51, 2, 2, 0)
    total = await exchange.stub.Query(pb.QueryRequest(time_range=time_range(BASE_MS, BASE_MS + 60_000)))
    assert total.rows[0].count == 51


async def test_get_stats_shows_rows_devices_and_newest_reading(exchange: Exchange, bus: Bus) -> None:
    empty = await exchange.stub.GetStats(pb.GetStatsRequest())
    assert (empty.rows, empty.committed_sequence, empty.lag_batches) == (0, 0, 0)
    assert not empty.HasField("newest_reading")

    await register(bus, *DEVICES)
    await publish(bus, [("gz-air-1", BASE_MS + 5, 1.0), ("fy-cam-1", BASE_MS + 9, 3.0)])
    stats = await caught_up(exchange.stub, 2)
    stats = await eventually(
        lambda: exchange.stub.GetStats(pb.GetStatsRequest()), lambda s: s.devices == len(DEVICES)
    )

    assert stats.rows == 2
    assert stats.newest_reading.ToMilliseconds() == BASE_MS + 9


async def test_subscribe_streams_only_matching_readings_with_kind_and_district(
    exchange: Exchange, bus: Bus
) -> None:
    await register(bus, *DEVICES)
    wutong = exchange.stub.Subscribe(pb.SubscribeRequest(filter=pb.ReadingFilter(districts=[WUTONG])))
    air = exchange.stub.Subscribe(pb.SubscribeRequest(filter=pb.ReadingFilter(kinds=[AIR])))
    await wutong.initial_metadata()
    await air.initial_metadata()

    await publish(bus, [("gz-noise-1", BASE_MS, 50.0), ("gz-air-1", BASE_MS + 1, 20.0)], GOUZHAO)
    await publish(bus, [("wt-temp-1", BASE_MS + 2, 21.5), ("wt-air-1", BASE_MS + 3, 30.0)], WUTONG)
    await publish(bus, [("fy-cam-1", BASE_MS + 4, 7.0)], FENGYANG)

    async def first(call: object, n: int) -> list[common_pb2.Reading]:
        got: list[common_pb2.Reading] = []
        async for response in call:  # type: ignore[attr-defined]
            got += response.readings
            if len(got) >= n:
                return got
        return got

    wutong_readings = await asyncio.wait_for(first(wutong, 2), 20)
    air_readings = await asyncio.wait_for(first(air, 2), 20)
    wutong.cancel()
    air.cancel()

    assert [(r.device_id, r.time_unix_ms, r.value, r.kind, r.district) for r in wutong_readings] == [
        ("wt-temp-1", BASE_MS + 2, 21.5, TEMPERATURE, WUTONG),
        ("wt-air-1", BASE_MS + 3, 30.0, AIR, WUTONG),
    ]
    assert [(r.device_id, r.kind) for r in air_readings] == [("gz-air-1", AIR), ("wt-air-1", AIR)]
    await eventually(lambda: len(exchange.app.hub), lambda n: n == 0, what="unsubscribed")


async def test_a_subscriber_that_falls_behind_is_told_where_to_catch_up(
    start_exchange: StartExchange, bus: Bus
) -> None:
    await register(bus, *DEVICES)
    async with start_exchange(subscriber_queue=2) as exchange:
        call = exchange.stub.Subscribe(pb.SubscribeRequest())
        await call.initial_metadata()
        # Unread responses first fill gRPC's flow-control window, then the queue of 2 batches.
        readings = [("gz-air-1", BASE_MS + i, float(i)) for i in range(2000)]
        for _ in range(40):
            await publish(bus, readings)
        await caught_up(exchange.stub, 40 * 2000)

        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in call:
                pass
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "catch up with Query from 2026-01-01T00:00:00.000Z" in (info.value.details() or "")
        assert len(exchange.app.hub) == 0


async def test_bad_subscribe_filter_is_invalid_argument(exchange: Exchange) -> None:
    call = exchange.stub.Subscribe(
        pb.SubscribeRequest(filter=pb.ReadingFilter(districts=[common_pb2.DISTRICT_UNSPECIFIED]))
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_readings_keep_the_attribution_of_a_device_deregistered_while_the_exchange_was_down(
    start_exchange: StartExchange, bus: Bus
) -> None:
    await register(bus, *DEVICES)
    async with start_exchange() as exchange:
        await publish(bus, [("wt-temp-1", BASE_MS, 20.0)], WUTONG)
        await caught_up(exchange.stub, 1)
    await publish(bus, [("wt-temp-1", BASE_MS + 1, 22.0)], WUTONG)
    await deregister(bus, "wt-temp-1")

    async with start_exchange() as exchange:
        await caught_up(exchange.stub, 2)
        response = await exchange.stub.Query(
            pb.QueryRequest(
                time_range=time_range(BASE_MS, BASE_MS + 1000), filter=pb.ReadingFilter(kinds=[TEMPERATURE])
            )
        )
    (row,) = response.rows
    assert (row.count, row.mean) == (2, 21.0)


async def test_a_malformed_message_is_skipped_and_the_rest_stored(exchange: Exchange, bus: Bus) -> None:
    await register(bus, *DEVICES)
    await bus.publish("telemetry.gouzhao", b"\xff not a batch", "garbage-1")
    await publish(bus, [("gz-air-1", BASE_MS, 4.0)])

    stats = await caught_up(exchange.stub, 1)

    assert (stats.rows, stats.committed_sequence) == (1, 2)


async def test_each_fetch_is_a_span_linked_to_the_traces_that_published_its_batches(
    exchange: Exchange, bus: Bus
) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        await register(bus, *DEVICES)
        with trace.get_tracer("test").start_as_current_span("collection ingest") as ingest:
            await publish(bus, [("gz-air-1", BASE_MS, 4.0)])
        await caught_up(exchange.stub, 1)

        materialised = await eventually(
            lambda: asyncio.sleep(
                0, [s for s in spans.get_finished_spans() if s.name == "exchange.materialise"]
            ),
            bool,
            what="a materialise span",
        )
    finally:
        spans.shutdown()
    linked = {link.context.span_id for s in materialised for link in s.links}
    assert ingest.get_span_context().span_id in linked
