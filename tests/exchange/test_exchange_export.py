"""ExportReadings and `citymesh export` against a real exchange: the readings of a filter as an
Arrow IPC stream, one IPC message per response, read under Query's rules (own district, grants,
audit) and counted against its rate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import duration_pb2

from citymesh import cli
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.exchange import cli as export_cli
from citymesh.exchange.export import END_OF_STREAM, EXPORT_SCHEMA
from citymesh.runtime.bus import Bus
from tests.exchange.conftest import Exchange, StartExchange
from tests.exchange.harness import BASE_MS, Reading, caught_up, publish, register
from tests.exchange.test_exchange_servicer import BY_ID, DEVICES, random_readings, time_range
from tests.exchange.test_exchange_sharing import FENGYANG, GOUZHAO, audit, city, refused
from tests.tokens import PUBLIC, bearer, token

AIR = common_pb2.DEVICE_KIND_AIR
WHOLE = time_range(BASE_MS, BASE_MS + 600_000)

Row = tuple[str, int, float, str | None, str | None]
"""(device_id, time ms, value, kind, district) as an export holds it."""


async def read_all(call: Any) -> list[pb.ExportReadingsResponse]:
    return [response async for response in call]


def table_of(responses: list[pb.ExportReadingsResponse]) -> pa.Table:
    return pa.ipc.open_stream(b"".join(r.arrow_ipc for r in responses)).read_all()


def rows_of(table: pa.Table) -> list[Row]:
    times = table.column("time").cast(pa.int64()).to_pylist()
    return [
        (r["device_id"], t, r["value"], r["kind"], r["district"])
        for r, t in zip(table.to_pylist(), times, strict=True)
    ]


def expected(readings: list[Reading], keep: Any = lambda row: True) -> list[Row]:
    out = []
    for device_id, time_ms, value in readings:
        dev = BY_ID.get(device_id)
        kind = KIND_NAMES[dev.kind - 1] if dev else None
        district = DISTRICTS[dev.district - 1] if dev else None
        row = (device_id, time_ms, value, kind, district)
        if keep(row):
            out.append(row)
    return sorted(out, key=lambda r: (r[1], r[0], r[2]))


async def stored(exchange: Exchange, bus: Bus, rng: np.random.Generator) -> list[Reading]:
    """The servicer tests' devices, 600 random readings in batches of their districts' subjects, and
    two readings of a device the registry never described."""
    await register(bus, *DEVICES)
    readings = random_readings(rng, 600)
    for start in range(0, len(readings), 100):
        await publish(bus, readings[start : start + 100])
    unknown: list[Reading] = [("stranger-1", BASE_MS + 5, 1.0), ("stranger-1", BASE_MS + 6, 2.0)]
    await publish(bus, unknown)
    await caught_up(exchange.stub, len(readings) + len(unknown))
    return readings + unknown


async def test_an_export_holds_exactly_the_stored_readings_of_its_filter(
    exchange: Exchange, bus: Bus
) -> None:
    readings = await stored(exchange, bus, np.random.default_rng(7))

    responses = await read_all(
        exchange.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE, batch_rows=64))
    )

    schema = pa.ipc.read_schema(pa.py_buffer(responses[0].arrow_ipc))
    assert schema.equals(EXPORT_SCHEMA, check_metadata=True)
    assert (responses[0].rows_sent, responses[-1].arrow_ipc) == (0, END_OF_STREAM)
    batches = [pa.ipc.read_record_batch(pa.py_buffer(r.arrow_ipc), schema) for r in responses[1:-1]]
    assert len(batches) == len(responses) - 2 >= len(readings) // 64
    assert all(0 < b.num_rows <= 64 for b in batches), "each response is one batch of at most batch_rows"
    assert [r.rows_sent for r in responses[1:-1]] == list(np.cumsum([b.num_rows for b in batches]))
    assert {(r.rows_total, r.truncated) for r in responses} == {(len(readings), False)}
    assert responses[-1].rows_sent == len(readings)
    table = table_of(responses)
    exported = rows_of(table)
    order = [(t, d) for d, t, *_ in exported]
    assert order == sorted(order), "ordered by time, then device"
    assert sorted(exported, key=lambda r: (r[1], r[0], r[2])) == expected(readings)
    assert ("stranger-1", BASE_MS + 5, 1.0, None, None) in exported, "an unknown device: no kind, no district"
    assert table.schema.field("time").type == pa.timestamp("ms", tz="UTC")

    air = await read_all(
        exchange.stub.ExportReadings(
            pb.ExportReadingsRequest(
                time_range=time_range(BASE_MS + 30_000, BASE_MS + 90_000),
                filter=pb.ReadingFilter(kinds=[AIR], districts=[GOUZHAO]),
            )
        )
    )
    in_range = expected(
        readings,
        lambda r: r[3] == "air" and r[4] == "gouzhao" and BASE_MS + 30_000 <= r[1] < BASE_MS + 90_000,
    )
    assert len(in_range) > 10
    assert sorted(rows_of(table_of(air)), key=lambda r: (r[1], r[0], r[2])) == in_range

    first = await read_all(
        exchange.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE, limit=100))
    )
    assert (first[-1].rows_sent, first[-1].rows_total, first[-1].truncated) == (100, 100, True)
    times = [r[1] for r in rows_of(table_of(first))]
    assert times == sorted(r[1] for r in expected(readings))[:100], "the first `limit` readings by time"

    alibaba = exchange.as_tenant("alibaba-cloud", "gouzhao")
    own = await read_all(alibaba.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE)))
    mine = expected(readings, lambda r: r[4] == "gouzhao")
    assert sorted(rows_of(table_of(own)), key=lambda r: (r[1], r[0], r[2])) == mine
    assert await audit(bus, allowed=True) == [], "exporting its own district leaves no trace"

    nothing = await read_all(
        alibaba.stub.ExportReadings(
            pb.ExportReadingsRequest(time_range=WHOLE, filter=pb.ReadingFilter(device_ids=["wt-air-1"]))
        )
    )
    assert table_of(nothing).num_rows == 0, "a device of another district matches nothing"
    assert nothing[-1].rows_total == 0


async def test_another_district_is_refused_and_audited_and_a_grant_lets_it_through_until_its_expiry(
    exchange: Exchange, bus: Bus
) -> None:
    alibaba, huawei, _ = await city(exchange, bus)
    fengyang = pb.ExportReadingsRequest(time_range=WHOLE, filter=pb.ReadingFilter(districts=[FENGYANG]))
    dataset = pb.ExportReadingsRequest(time_range=WHOLE, dataset_id="telemetry.fengyang")

    details = await refused(
        read_all(alibaba.stub.ExportReadings(fengyang)), grpc.StatusCode.PERMISSION_DENIED
    )
    assert "telemetry.fengyang" in details
    assert "RequestAccess" in details
    denied = await audit(bus, allowed=False)
    assert [(r["tenant"], r["action"], r["resource"]) for r in denied] == [
        ("alibaba-cloud", "ExportReadings", "dataset telemetry.fengyang")
    ]

    await huawei.stub.GrantAccess(
        pb.GrantAccessRequest(
            dataset_id="telemetry.fengyang", tenant="alibaba-cloud", ttl=duration_pb2.Duration(seconds=60)
        )
    )
    for request in (fengyang, dataset):
        got = rows_of(table_of(await read_all(alibaba.stub.ExportReadings(request))))
        assert [(d, v) for d, _, v, _, _ in got] == [("fy-air", 70.0), ("fy-air", 90.0)]
    reads = [(r["tenant"], r["action"], r["resource"]) for r in await audit(bus, allowed=True)]
    assert reads.count(("alibaba-cloud", "ExportReadings", "dataset telemetry.fengyang")) == 2

    exchange.clock.advance(60)

    expired = await refused(read_all(alibaba.stub.ExportReadings(dataset)), grpc.StatusCode.PERMISSION_DENIED)
    assert "expired" in expired
    await refused(read_all(alibaba.stub.ExportReadings(fengyang)), grpc.StatusCode.PERMISSION_DENIED)

    await alibaba.stub.PublishDataset(pb.PublishDatasetRequest(name="air", visibility=pb.VISIBILITY_PRIVATE))
    hidden = await refused(
        read_all(
            huawei.stub.ExportReadings(
                pb.ExportReadingsRequest(time_range=WHOLE, dataset_id="alibaba-cloud.air")
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    absent = await refused(
        read_all(
            huawei.stub.ExportReadings(
                pb.ExportReadingsRequest(time_range=WHOLE, dataset_id="alibaba-cloud.x")
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert hidden.replace("air", "x") == absent, "a private dataset reads as a missing one"


async def test_bad_requests_are_invalid_argument_with_a_reason(exchange: Exchange) -> None:
    backwards = time_range(BASE_MS + 1000, BASE_MS)
    cases = {
        "no time range": pb.ExportReadingsRequest(),
        "end before start": pb.ExportReadingsRequest(time_range=backwards),
        "limit too large": pb.ExportReadingsRequest(time_range=WHOLE, limit=10_000_001),
        "batch too large": pb.ExportReadingsRequest(time_range=WHOLE, batch_rows=100_001),
        "unspecified district": pb.ExportReadingsRequest(
            time_range=WHOLE, filter=pb.ReadingFilter(districts=[common_pb2.DISTRICT_UNSPECIFIED])
        ),
        "unknown kind": pb.ExportReadingsRequest(
            time_range=WHOLE,
            filter=pb.ReadingFilter(kinds=[99]),  # type: ignore[list-item]
        ),
        "malformed dataset id": pb.ExportReadingsRequest(time_range=WHOLE, dataset_id="no-dot"),
    }
    for why, request in cases.items():
        details = await refused(
            read_all(exchange.stub.ExportReadings(request)), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert details, why
    assert "time_range is required" in await refused(
        read_all(exchange.stub.ExportReadings(pb.ExportReadingsRequest())), grpc.StatusCode.INVALID_ARGUMENT
    )
    unauthenticated = await refused(
        read_all(exchange.raw.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE))),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    assert "token" in unauthenticated


async def test_exports_count_against_the_tenants_query_rate(start_exchange: StartExchange, bus: Bus) -> None:
    async with start_exchange(tenant_queries_per_s=1) as exchange:
        alibaba = exchange.as_tenant("alibaba-cloud", "gouzhao")
        await read_all(alibaba.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE)))
        await refused(
            read_all(alibaba.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE))),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        assert (await read_all(exchange.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE))))[
            -1
        ].arrow_ipc == END_OF_STREAM, "the zone is not limited"


async def test_citymesh_export_writes_an_arrow_file_with_a_progress_line(
    start_exchange: StartExchange, bus: Bus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with start_exchange(auth_dev_headers=False, auth_public_key=PUBLIC) as exchange:
        await city(exchange, bus, bearer(token("zone", roles=["zone-admin"])))
        alibaba = token("alibaba-cloud", "gouzhao", ["peak-admin"])
        folder = tmp_path / "out"
        folder.mkdir()
        base = ["export", "--address", exchange.address, "--token", alibaba]
        base += ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T00:10:00Z"]

        assert await asyncio.to_thread(cli.main, [*base, "-o", str(folder / "gouzhao.arrow")]) == 0
        out, err = capsys.readouterr()
        assert f"wrote 3 readings to {folder / 'gouzhao.arrow'}" in out
        assert "100.0% 3/3 readings" in err
        with pa.memory_map(str(folder / "gouzhao.arrow")) as source:
            table = pa.ipc.open_file(source).read_all()
        assert table.schema.equals(EXPORT_SCHEMA)
        assert [(r[0], r[2], r[4]) for r in rows_of(table)] == [
            ("gz-air", 10.0, "gouzhao"),
            ("gz-air", 20.0, "gouzhao"),
            ("gz-noise", 50.0, "gouzhao"),
        ]

        streamed = folder / "air.arrows"
        assert await asyncio.to_thread(cli.main, [*base, "--kind", "air", "-o", str(streamed)]) == 0
        assert pa.ipc.open_stream(streamed.read_bytes()).read_all().column("device_id").to_pylist() == [
            "gz-air",
            "gz-air",
        ]

        refused_file = folder / "fengyang.arrow"
        code = await asyncio.to_thread(cli.main, [*base, "--district", "fengyang", "-o", str(refused_file)])
        assert code == 1
        assert "PERMISSION_DENIED" in capsys.readouterr().err
        left = await asyncio.to_thread(lambda: sorted(p.name for p in folder.iterdir()))
        assert left == ["air.arrows", "gouzhao.arrow"], (
            "a refused export leaves no file, not even a partial one"
        )


async def test_a_client_leaving_mid_export_leaves_the_exchange_serving(exchange: Exchange, bus: Bus) -> None:
    readings = await stored(exchange, bus, np.random.default_rng(3))
    for _ in range(3):
        call = exchange.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE, batch_rows=1))
        first = [await call.read() for _ in range(3)]
        assert [r.rows_sent for r in first] == [0, 1, 2]
        call.cancel()
    whole = await read_all(exchange.stub.ExportReadings(pb.ExportReadingsRequest(time_range=WHOLE)))
    assert whole[-1].rows_sent == len(readings)


def test_the_cli_finds_the_exchange_or_a_peak_that_up_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITYMESH_EXCHANGE_ADDRESS", raising=False)
    run = tmp_path / "run"
    run.mkdir()
    services = {"exchange": {"address": "127.0.0.1:7001"}, "peak-gouzhao-iot": {"address": "127.0.0.1:7002"}}
    (run / "ports.json").write_text(json.dumps({"services": services}))

    def address(*argv: str) -> str:
        args = cli.parser().parse_args(["export", "-o", "x.arrow", "--data", str(tmp_path), *argv])
        return export_cli.address(args)

    assert address() == "127.0.0.1:7001"
    assert address("--peak", "gouzhao-iot") == "127.0.0.1:7002"
    assert address("--peak", "10.0.0.5:50060") == "10.0.0.5:50060"
    assert address("--address", "10.0.0.6:50052") == "10.0.0.6:50052"
    with pytest.raises(SystemExit, match="no peak-nowhere address"):
        address("--peak", "nowhere")
