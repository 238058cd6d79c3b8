"""What the incident tests share: callers, triggers, devices in the registry and readings on
TELEMETRY written the way collection writes them, a pipeline on its own NATS connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from citymesh import convert as city
from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.common.v1 import common_pb2
from citymesh.city import locate
from citymesh.governance.incidents.eta import Estimator
from citymesh.governance.incidents.model import Trigger
from citymesh.governance.incidents.pipeline import RESOURCES, Pipeline
from citymesh.governance.incidents.rules import Rule, RuleSet, builtin
from citymesh.governance.incidents.store import IncidentStore
from citymesh.runtime.auth import DISTRICT_HEADER, ROLES_HEADER, TENANT_HEADER, Identity
from citymesh.runtime.bus import DEVICES_BUCKET, TELEMETRY_STREAM, Bus, telemetry_subject
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings

RULES = builtin()


def _rule(rule_id: str) -> Rule:
    rule = RULES.rule(rule_id)
    assert isinstance(rule, Rule), rule_id
    return rule


PM25 = _rule("pm25-5min-mean")
HEAVY = _rule("pm25-5min-heavy")
FLOOD = _rule("water-level-warning")
CROWD = _rule("crowd-1min-max")
T0 = 1_780_000_000_000
"""A reading time (2026) the tests count from."""

ZONE = Identity("zone", "", frozenset({"zone-admin"}))
GOUZHAO = Identity("alibaba-cloud", "gouzhao")
FENGYANG = Identity("huawei", "fengyang")


def headers(who: Identity) -> tuple[tuple[str, str], ...]:
    """The development headers naming `who` (the servers run with CITYMESH_AUTH_DEV_HEADERS)."""
    md = [(TENANT_HEADER, who.tenant)]
    if who.district:
        md.append((DISTRICT_HEADER, who.district))
    if who.roles:
        md.append((ROLES_HEADER, ",".join(sorted(who.roles))))
    return tuple(md)


def trigger(
    rule: Rule, lon: float, lat: float, t_ms: int = T0, value: float = 90.0, device: str = "air-1"
) -> Trigger:
    district = locate(lon, lat)
    assert district is not None, (lon, lat)
    return Trigger(rule, device, district, lon, lat, t_ms, value)


class Clock:
    """A clock the test moves."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)


@asynccontextmanager
async def pipeline(
    nats: NatsServer, rules: RuleSet = RULES, estimator: Estimator | None = None, clock: Clock | None = None
) -> AsyncIterator[Pipeline]:
    """A pipeline on its own NATS connection: the store's view, no TELEMETRY consumer."""
    bus = await Bus.connect(ServiceSettings(nats_url=nats.url), name="test-incidents", resources=RESOURCES)
    p = Pipeline(bus, await IncidentStore.open(bus), rules, estimator, clock or Clock())
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
        await bus.close()


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: str
    lon: float
    lat: float


async def register(bus: Bus, devices: Iterable[Device]) -> None:
    """Write devices to the registry bucket as collection does (a Device message per key)."""
    kv = await bus.kv(DEVICES_BUCKET)
    for d in devices:
        message = collection_pb2.Device(
            device_id=d.device_id,
            kind=city.kind_to_proto(d.kind),
            position=common_pb2.GeoPoint(longitude=d.lon, latitude=d.lat),
            district=city.district_to_proto(locate(d.lon, d.lat)),
        )
        await kv.put(d.device_id, message.SerializeToString())


async def publish(bus: Bus, batch_id: str, readings: Sequence[tuple[Device, int, float]]) -> None:
    """Readings (device, time, value) on TELEMETRY as collection publishes them: one ReadingBatch per
    sub-district, on telemetry.<district>, deduplicated by <batch id>/<district>."""
    by_district: dict[str, list[tuple[Device, int, float]]] = {}
    for r in readings:
        district = locate(r[0].lon, r[0].lat)
        assert district is not None
        by_district.setdefault(district, []).append(r)
    for district, rows in by_district.items():
        ids = sorted({d.device_id for d, _, _ in rows})
        batch = collection_pb2.ReadingBatch(
            batch_id=batch_id,
            device_ids=ids,
            device_index=[ids.index(d.device_id) for d, _, _ in rows],
            time_unix_ms=[t for _, t, _ in rows],
            values=[v for _, _, v in rows],
        )
        await bus.publish(telemetry_subject(district), batch.SerializeToString(), f"{batch_id}/{district}")


async def stream_bus(nats: NatsServer) -> Bus:
    return await Bus.connect(
        ServiceSettings(nats_url=nats.url), name="test-feed", resources=[TELEMETRY_STREAM, DEVICES_BUCKET]
    )


async def events(bus: Bus, stream: str, prefix: str) -> list[dict[str, Any]]:
    """Every message of `stream` whose subject starts with `prefix`, oldest first, as JSON."""
    info = await bus.js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(stream, seq)
        if (msg.subject or "").startswith(prefix):
            out.append(json.loads(msg.data or b"{}"))
    return out


def near(lon: float, lat: float, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """A point `east_m` east and `north_m` north of (lon, lat)."""
    dlat = north_m / 111_195.0
    dlon = east_m / (111_195.0 * float(np.cos(np.radians(lat))))
    return lon + dlon, lat + dlat
