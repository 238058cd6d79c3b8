"""IncidentService end to end: governance running (development headers), devices in the registry
and readings on TELEMETRY written as collection writes them; incidents opened by the rules,
routed, acted on through the API, refused across sub-districts; `citymesh incidents`."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import cast

import grpc
import pytest

from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.governance.incidents import cli
from citymesh.governance.incidents.units import UNITS, straight_line_s
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer
from tests.governance.conftest import governance
from tests.governance.incident_harness import (
    FENGYANG,
    GOUZHAO,
    ZONE,
    Device,
    events,
    headers,
    near,
    publish,
    register,
    stream_bus,
)
from tests.polling import eventually

pytestmark = pytest.mark.integration
MINUTE = 60_000
G = (113.485, 34.790)
AIR = [
    Device("air-g1", "air", *G),
    Device("air-g2", "air", *near(*G, east_m=400)),
    Device("air-g3", "air", *near(*G, north_m=300)),
]
CLEAN = Device("air-f1", "air", 113.530, 34.820)  # fengyang
GAUGE = Device("water-w1", "water", 113.575, 34.825)  # wutong


@contextlib.asynccontextmanager
async def city(nats: NatsServer) -> AsyncIterator[tuple[incidents_pb2_grpc.IncidentServiceStub, Bus]]:
    async with governance(nats) as g, grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as channel:
        feed = await stream_bus(nats)
        try:
            await register(feed, [*AIR, CLEAN, GAUGE])
            yield incidents_pb2_grpc.IncidentServiceStub(channel), feed
        finally:
            await feed.close()


async def polluted_morning(feed: Bus) -> None:
    """Five minutes of readings: gouzhao's three stations near each other above 75 µg/m³, fengyang's
    clean, and wutong's gauge crossing its 6 m warning level in the last minute."""
    now = time.time_ns() // 1_000_000
    for minute in range(5):
        t = now - (4 - minute) * MINUTE
        readings = [(d, t, 88.0 + minute) for d in AIR]
        readings += [(CLEAN, t, 41.0), (GAUGE, t, 5.2 if minute < 4 else 6.3)]
        await publish(feed, f"morning-{minute}", readings)


async def listed(
    stub: incidents_pb2_grpc.IncidentServiceStub, types: Sequence[str] = ()
) -> list[pb.Incident]:
    response = await stub.ListIncidents(
        pb.ListIncidentsRequest(filter=pb.IncidentFilter(types=types)), metadata=headers(ZONE)
    )
    return list(response.incidents)


async def test_readings_on_telemetry_open_incidents_routed_to_their_sub_district(
    nats_server: NatsServer,
) -> None:
    async with city(nats_server) as (stub, feed):
        await polluted_morning(feed)
        found = await eventually(
            lambda: listed(stub),
            lambda incidents: (
                sorted((i.type, i.triggers) for i in incidents) == [("air-quality", 3), ("flood", 1)]
            ),
            30,
            "one air-quality incident of three stations and one flood",
        )
        air = next(i for i in found if i.type == "air-quality")
        flood = next(i for i in found if i.type == "flood")
        assert (air.district, air.unit_id, air.severity, air.state) == (
            common_pb2.DISTRICT_GOUZHAO,
            "gouzhao-environment",
            pb.INCIDENT_SEVERITY_MAJOR,
            pb.INCIDENT_STATE_OPEN,
        )
        assert sorted(air.device_ids) == ["air-g1", "air-g2", "air-g3"]
        assert air.peak_value > 75
        assert (flood.district, flood.unit_id, flood.severity, flood.peak_value) == (
            common_pb2.DISTRICT_WUTONG,
            "wutong-water",
            pb.INCIDENT_SEVERITY_CRITICAL,
            6.3,
        )
        # The outbox publishes an incident's event just after its record is stored.
        await eventually(
            lambda: events(feed, "EVENTS", "events.incident."),
            lambda opened: (
                sorted((e["type"], e["incident"]["district"]) for e in opened)
                == [("incident.opened", "gouzhao"), ("incident.opened", "wutong")]
            ),
            10,
            "one incident.opened event per incident",
        )


async def test_operators_act_on_their_own_districts_incidents_only(nats_server: NatsServer) -> None:
    async with city(nats_server) as (stub, feed):
        await polluted_morning(feed)
        found = await eventually(
            lambda: listed(stub, types=["air-quality"]), lambda i: len(i) == 1, 30, "opened"
        )
        incident_id = found[0].incident_id
        huawei, alibaba = headers(FENGYANG), headers(GOUZHAO)

        for call in (
            stub.GetIncident(pb.GetIncidentRequest(incident_id=incident_id), metadata=huawei),
            stub.AcknowledgeIncident(pb.AcknowledgeIncidentRequest(incident_id=incident_id), metadata=huawei),
            stub.DispatchIncident(pb.DispatchIncidentRequest(incident_id=incident_id), metadata=huawei),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as hidden:
                await call
            assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListIncidents(
                pb.ListIncidentsRequest(filter=pb.IncidentFilter(districts=[common_pb2.DISTRICT_GOUZHAO])),
                metadata=huawei,
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert list((await stub.ListIncidents(pb.ListIncidentsRequest(), metadata=huawei)).incidents) == []
        mine = (await stub.ListIncidents(pb.ListIncidentsRequest(), metadata=alibaba)).incidents
        assert [i.incident_id for i in mine] == [incident_id]
        stats = (await stub.GetIncidentStats(pb.GetIncidentStatsRequest(), metadata=huawei)).districts
        assert [(s.district, s.open) for s in stats] == [(common_pb2.DISTRICT_FENGYANG, 0)]

        for unit_id, code, says in (
            ("nope", grpc.StatusCode.INVALID_ARGUMENT, "is not a responder unit"),
            ("gouzhao-water", grpc.StatusCode.INVALID_ARGUMENT, "does not respond to air-quality incidents"),
            ("fengyang-environment", grpc.StatusCode.PERMISSION_DENIED, "bound to district gouzhao"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as bad_unit:
                await stub.DispatchIncident(
                    pb.DispatchIncidentRequest(incident_id=incident_id, unit_id=unit_id), metadata=alibaba
                )
            assert bad_unit.value.code() == code
            assert says in (bad_unit.value.details() or "")
        sent = (
            await stub.DispatchIncident(pb.DispatchIncidentRequest(incident_id=incident_id), metadata=alibaba)
        ).incident
        unit = UNITS["gouzhao-environment"]
        assert (sent.state, sent.dispatched_unit_id, sent.dispatched_by, sent.acknowledged_by) == (
            pb.INCIDENT_STATE_DISPATCHED,
            unit.id,
            "alibaba-cloud",
            "alibaba-cloud",
        )
        assert sent.eta_source == "straight-line"
        assert sent.eta_s == pytest.approx(
            straight_line_s(unit, sent.position.longitude, sent.position.latitude)
        )
        with pytest.raises(grpc.aio.AioRpcError) as taken:
            await stub.DispatchIncident(
                pb.DispatchIncidentRequest(incident_id=incident_id), metadata=headers(ZONE)
            )
        assert taken.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "alibaba-cloud already dispatched gouzhao-environment" in (taken.value.details() or "")

        with pytest.raises(grpc.aio.AioRpcError) as no_note:
            await stub.ResolveIncident(
                pb.ResolveIncidentRequest(incident_id=incident_id, resolution="  "), metadata=alibaba
            )
        assert no_note.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "a resolution note is required" in (no_note.value.details() or "")
        still = (
            await stub.GetIncident(pb.GetIncidentRequest(incident_id=incident_id), metadata=alibaba)
        ).incident
        assert still.state == pb.INCIDENT_STATE_DISPATCHED
        closed = (
            await stub.ResolveIncident(
                pb.ResolveIncidentRequest(incident_id=incident_id, resolution="dust from a site; watered"),
                metadata=alibaba,
            )
        ).incident
        assert (closed.state, closed.resolution, closed.resolved_by) == (
            pb.INCIDENT_STATE_RESOLVED,
            "dust from a site; watered",
            "alibaba-cloud",
        )
        (gouzhao,) = (
            await stub.GetIncidentStats(
                pb.GetIncidentStatsRequest(districts=[common_pb2.DISTRICT_GOUZHAO]), metadata=alibaba
            )
        ).districts
        assert (gouzhao.resolved, gouzhao.open) == (1, 0)
        assert gouzhao.mean_time_to_resolve_s > 0
        assert gouzhao.mean_time_to_acknowledge_s <= gouzhao.mean_time_to_resolve_s
        kinds = [e["type"] for e in await events(feed, "AUDIT", "audit.incident.gouzhao")]
        assert kinds == ["incident.opened", "incident.dispatched", "incident.resolved"]


async def test_a_watch_sees_its_districts_incidents_change(nats_server: NatsServer) -> None:
    async with city(nats_server) as (stub, feed):
        watch = stub.WatchIncidents(pb.WatchIncidentsRequest(include_current=True), metadata=headers(GOUZHAO))
        await polluted_morning(feed)
        first = (await watch.read()).incident
        assert (first.district, first.type) == (common_pb2.DISTRICT_GOUZHAO, "air-quality")
        await stub.AcknowledgeIncident(
            pb.AcknowledgeIncidentRequest(incident_id=first.incident_id), metadata=headers(GOUZHAO)
        )
        while True:  # joins of the other stations may come first
            seen = (await watch.read()).incident
            assert seen.district == common_pb2.DISTRICT_GOUZHAO, "a wutong incident reached gouzhao's watch"
            if seen.state == pb.INCIDENT_STATE_ACKNOWLEDGED:
                break
        assert seen.acknowledged_by == "alibaba-cloud"
        watch.cancel()


Metadata = tuple[tuple[str, str], ...]
Call = Callable[[incidents_pb2_grpc.IncidentServiceStub, Metadata], Awaitable[object]]
BAD: list[tuple[Call, str]] = [
    (lambda s, md: s.GetIncident(pb.GetIncidentRequest(), metadata=md), "incident_id is required"),
    (
        lambda s, md: s.GetIncident(pb.GetIncidentRequest(incident_id="../x"), metadata=md),
        "not an incident id",
    ),
    (
        lambda s, md: s.ListIncidents(
            pb.ListIncidentsRequest(filter=pb.IncidentFilter(districts=[common_pb2.DISTRICT_UNSPECIFIED])),
            metadata=md,
        ),
        "DISTRICT_UNSPECIFIED matches nothing",
    ),
    (
        lambda s, md: s.ListIncidents(
            pb.ListIncidentsRequest(filter=pb.IncidentFilter(states=[cast(pb.IncidentState, 9)])), metadata=md
        ),
        "not an incident state",
    ),
    (lambda s, md: s.ListIncidents(pb.ListIncidentsRequest(limit=5000), metadata=md), "at most 1000"),
    (
        lambda s, md: s.ResolveIncident(
            pb.ResolveIncidentRequest(incident_id="inc-000000000000"), metadata=md
        ),
        "a resolution note is required",
    ),
]


async def test_bad_input_is_invalid_argument_and_no_caller_unauthenticated(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g, grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as channel:
        stub = incidents_pb2_grpc.IncidentServiceStub(channel)
        for anonymous in (
            stub.ListIncidents(pb.ListIncidentsRequest()),
            stub.ListIncidentRules(pb.ListIncidentRulesRequest()),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as nobody:
                await anonymous
            assert nobody.value.code() == grpc.StatusCode.UNAUTHENTICATED
        for call, says in BAD:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(stub, headers(ZONE))
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, says
            assert says in (caught.value.details() or ""), caught.value.details()


async def test_citymesh_incidents_prints_readable_tables(nats_server: NatsServer) -> None:
    async with city(nats_server) as (stub, feed):
        await polluted_morning(feed)
        await eventually(lambda: listed(stub), lambda i: len(i) == 2, 30, "two incidents")
        md = headers(ZONE)
        out = io.StringIO()
        incidents = await stub.ListIncidents(pb.ListIncidentsRequest(), metadata=md)
        cli.incidents_table(incidents, out, now_s=time.time())
        cli.stats_table(await stub.GetIncidentStats(pb.GetIncidentStatsRequest(), metadata=md), out)
        cli.rules_table(await stub.ListIncidentRules(pb.ListIncidentRulesRequest(), metadata=md), out)
        cli.units_table(await stub.ListResponderUnits(pb.ListResponderUnitsRequest(), metadata=md), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "incident", "sub-district", "type", "severity", "state", "opened", "triggers", "peak", "unit", "ETA", "what"
    ]  # fmt: skip
    rows = {line.split()[2]: line.split() for line in lines[2:4]}
    assert rows["air-quality"][1:5] == ["gouzhao", "air-quality", "major", "open"]
    assert rows["flood"][1:5] == ["wutong", "flood", "critical", "open"]
    assert rows["flood"][7:9] == ["6.3", "wutong-water"]
    stats = {
        line.split()[0]: line.split()[1:] for line in lines if line.split()[:1] in (["gouzhao"], ["shifo"])
    }
    assert stats["gouzhao"][:6] == ["1", "0", "0", "0", "0", "-"]
    assert stats["shifo"][:5] == ["0", "0", "0", "0", "0"]
    rules = {
        line.split()[0]: line
        for line in lines
        if line.startswith(("pm25-5min-mean ", "water-level-warning "))
    }
    assert rules["pm25-5min-mean"].split()[1:9] == [
        "air-quality",
        "air",
        "mean",
        "over",
        "300",
        "s",
        ">",
        "75",
    ]
    assert rules["water-level-warning"].split()[1:7] == ["flood", "water", "each", "reading", ">", "6"]
    (fire,) = [line.split() for line in lines if line.startswith("fire-detected ")]
    assert fire[1:9] == ["fire", "camera", "each", "fire", "detection", "confidence", "≥", "0.6"]
    assert any("correlation: same type within 1000 m, last triggered within 1800 s" in line for line in lines)
    assert any(line.startswith("wutong-water") and "flood" in line for line in lines)
