"""A transition's event is never lost: it is stored with the transition (the outbox) and relayed,
also after a crash between the compare-and-set and the publish — a peak's (its registry's outbox)
and an incident's (its record's outbox), one mechanism (governance/outbox.py). The faults are
injected at those seams by subclasses here, not in governance's code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from citymesh.governance.domain import PeakState, Transition
from citymesh.governance.incidents.model import Incident
from citymesh.governance.incidents.pipeline import RESOURCES as INCIDENT_RESOURCES
from citymesh.governance.incidents.pipeline import Pipeline
from citymesh.governance.incidents.store import IncidentStore
from citymesh.governance.service import Governance
from citymesh.governance.store import AwardLedger, PeakStore
from citymesh.runtime import errors
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import AUDIT_STREAM, EVENTS_STREAM, Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings
from tests.governance.incident_harness import FLOOD, RULES, ZONE, Clock, trigger
from tests.polling import eventually

pytestmark = pytest.mark.integration

ADMIN = Identity("zone", "", frozenset({"zone-admin"}))
SUSPEND = Transition("fengyang-5g", PeakState.SUSPENDED, "review")
RESOURCES = [EVENTS_STREAM, AUDIT_STREAM, "tenants", "governance-peaks", "award-ledger"]


class Crash(Exception):
    """The process dies here."""


class CrashAfterCompareAndSet(Governance):
    """Dies right after a transition is stored, before anything is published (once armed: the
    relay at start runs)."""

    armed = False

    async def relay(self, project_all: bool = False) -> int:
        if self.armed:
            raise Crash
        return await super().relay(project_all)


class CrashBeforeClear(PeakStore):
    """Dies after the relay published the events, before it cleared them from the outbox."""

    async def clear(self, msg_ids: Iterable[str]) -> None:
        raise Crash


class PublishFailsOnce(Governance):
    """NATS refuses the first publish of an event (it is away for a moment)."""

    failed = False

    async def publish_once(self, pending: Any) -> None:
        if not self.failed:
            self.failed = True
            raise errors.Unavailable("JetStream did not store the message")
        await super().publish_once(pending)


@asynccontextmanager
async def connected(nats: NatsServer, resources: list[str] = RESOURCES) -> AsyncIterator[Bus]:
    bus = await Bus.connect(ServiceSettings(nats_url=nats.url), name="test-outbox", resources=resources)
    try:
        yield bus
    finally:
        await bus.close()


@contextmanager
def publishes(bus: Bus) -> Iterator[list[str]]:
    """The subjects `bus` publishes to while the block runs."""
    published: list[str] = []
    publish = bus.publish

    async def spy(subject: str, payload: bytes, msg_id: str, timeout: float = 10.0) -> Any:
        published.append(subject)
        return await publish(subject, payload, msg_id, timeout)

    bus.publish = spy  # type: ignore[method-assign]
    try:
        yield published
    finally:
        bus.publish = publish  # type: ignore[method-assign]


async def started(
    bus: Bus, cls: type[Governance] = Governance, store: type[PeakStore] = PeakStore, **kw: Any
) -> Governance:
    g = cls(bus, await store.open(bus), await AwardLedger.open(bus), **kw)
    await g.start()
    return g


async def stored(bus: Bus, stream: str, subject: str) -> list[dict[str, Any]]:
    """The messages of `subject` in `stream`, oldest first."""
    info = await bus.js.stream_info(stream)
    out: list[dict[str, Any]] = []
    if not info.state.messages:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(stream, seq)
        if msg.subject == subject:
            out.append(json.loads(msg.data or b"{}"))
    return out


async def tenant_status(bus: Bus, tenant: str) -> str:
    entry = await (await bus.kv("tenants")).get(tenant)
    return str(json.loads(entry.value or b"{}")["status"])


async def assert_once(bus: Bus, version: int) -> None:
    for stream, prefix in ((EVENTS_STREAM, "events"), (AUDIT_STREAM, "audit")):
        records = await stored(bus, stream, f"{prefix}.governance.peak.fengyang-5g")
        assert [(r["to"], r["version"]) for r in records] == [("suspended", version)], stream


async def test_a_crash_between_the_compare_and_set_and_the_publish_loses_no_event(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server) as bus:
        crashing = await started(bus, CrashAfterCompareAndSet)
        crashing.armed = True  # type: ignore[attr-defined]
        with pytest.raises(Crash):
            await crashing.transition(SUSPEND, ADMIN)
        await crashing.stop()
        registry = await crashing.peaks.load()
        assert registry.peaks["fengyang-5g"].state is PeakState.SUSPENDED  # the transition is stored
        assert [p.msg_id for p in registry.outbox] == ["peak-fengyang-5g-2"]  # with its event
        assert await stored(bus, EVENTS_STREAM, "events.governance.peak.fengyang-5g") == []
        assert await tenant_status(bus, "huawei") == "active"  # not yet projected either

        restarted = await started(bus)  # the restart relays what the crash left
        try:
            await assert_once(bus, version=2)
            assert await tenant_status(bus, "huawei") == "suspended"
            assert (await restarted.peaks.load()).outbox == ()
            await (await started(bus)).stop()  # and a second restart publishes nothing more
            await assert_once(bus, version=2)
        finally:
            await restarted.stop()


async def test_a_crash_after_the_publish_before_the_outbox_is_cleared_publishes_once(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server) as bus:
        crashing = await started(bus)
        crashing.peaks = await CrashBeforeClear.open(bus)
        with pytest.raises(Crash):
            await crashing.transition(SUSPEND, ADMIN)
        await crashing.stop()
        assert len((await crashing.peaks.load()).outbox) == 1
        await assert_once(bus, version=2)  # published, not yet cleared

        restarted = await started(bus)
        try:
            with publishes(bus) as published:
                await restarted.relay()
            assert published == []  # found on its subject: not sent again (not left to dedup alone)
            assert (await restarted.peaks.load()).outbox == ()
            await assert_once(bus, version=2)
        finally:
            await restarted.stop()


async def test_an_event_nats_refused_is_relayed_later_and_the_transition_stands(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server) as bus:
        g = await started(bus, PublishFailsOnce, relay_every_s=0.05)
        try:
            after = await g.transition(SUSPEND, ADMIN)  # answered: the transition is stored
            assert (after.state, after.version) == (PeakState.SUSPENDED, 2)
            await eventually(
                lambda: stored(bus, EVENTS_STREAM, "events.governance.peak.fengyang-5g"),
                lambda found: len(found) == 1,
                what="the event relayed",
            )
            await eventually(g.peaks.load, lambda r: r.outbox == (), what="the outbox cleared")
            await assert_once(bus, version=2)
        finally:
            await g.stop()


async def test_events_of_successive_transitions_keep_their_order(nats_server: NatsServer) -> None:
    async with connected(nats_server) as bus:
        g = await started(bus)
        try:
            await g.transition(SUSPEND, ADMIN)
            await g.transition(Transition("fengyang-5g", PeakState.ACTIVE, "resumed"), ADMIN)
            await g.transition(Transition("fengyang-5g", PeakState.SUSPENDED, "again"), ADMIN)
            records = await stored(bus, EVENTS_STREAM, "events.governance.peak.fengyang-5g")
            assert [(r["version"], r["to"]) for r in records] == [
                (2, "suspended"),
                (3, "active"),
                (4, "suspended"),
            ]
            assert await tenant_status(bus, "huawei") == "suspended"
        finally:
            await g.stop()


async def test_a_registry_written_before_the_outbox_still_loads(nats_server: NatsServer) -> None:
    async with connected(nats_server) as bus:
        g = await started(bus)
        try:
            registry = await g.peaks.load()
            old = json.dumps([p.to_dict() for p in registry.peaks.values()]).encode()
            await (await bus.kv("governance-peaks")).put("registry", old)
            await g.transition(SUSPEND, ADMIN)
            await assert_once(bus, version=2)
        finally:
            await g.stop()


# --- the incident pipeline's outbox (one per incident record) -----------------------------------


class IncidentCrashAfterCompareAndSet(Pipeline):
    """Dies right after an incident's transition is stored, before its event is published (once
    armed: the relay at start runs)."""

    armed = False

    async def relay_incident(self, incident: Incident) -> int:
        if self.armed:
            raise Crash
        return await super().relay_incident(incident)


class IncidentCrashBeforeClear(IncidentStore):
    """Dies after the relay published an incident's events, before it cleared them from the record."""

    async def change(
        self, incident_id: str, fn: Callable[[Incident], Incident | None]
    ) -> tuple[Incident, Incident] | None:
        got = await self.get(incident_id)
        assert got is not None
        after = fn(got[0])
        if after is not None and after.version == got[0].version:  # the outbox cleared, nothing else
            raise Crash
        return await super().change(incident_id, fn)


class IncidentPublishFailsOnce(Pipeline):
    failed = False

    async def relay_incident(self, incident: Incident) -> int:
        if not self.failed:
            self.failed = True
            raise errors.Unavailable("JetStream did not store the message")
        return await super().relay_incident(incident)


FIRE_AT = (113.575, 34.825)  # wutong
WUTONG = "wutong"


async def incident_pipeline(
    bus: Bus, cls: type[Pipeline] = Pipeline, store: type[IncidentStore] = IncidentStore, **kw: Any
) -> Pipeline:
    p = cls(bus, await store.open(bus), RULES, clock=Clock(), **kw)
    await p.start()
    return p


async def assert_incident_events(bus: Bus, expected: list[tuple[str, int]]) -> None:
    """EVENTS and AUDIT each hold exactly `expected`: (event type, incident version), in order."""
    for stream, prefix in ((EVENTS_STREAM, "events"), (AUDIT_STREAM, "audit")):
        records = await stored(bus, stream, f"{prefix}.incident.{WUTONG}")
        assert [(r["type"], r["incident"]["version"]) for r in records] == expected, stream


async def test_an_incident_event_survives_a_crash_between_the_compare_and_set_and_the_publish(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server, INCIDENT_RESOURCES) as bus:
        crashing = await incident_pipeline(bus, IncidentCrashAfterCompareAndSet)
        crashing.armed = True  # type: ignore[attr-defined]
        with pytest.raises(Crash):
            await crashing.trigger(trigger(FLOOD, *FIRE_AT, value=6.4, device="water-1"))
        await crashing.stop()
        (key,) = await crashing.store.keys()
        got = await crashing.store.get(key)
        assert got is not None
        incident = got[0]
        assert [p.msg_id for p in incident.outbox] == [f"incident-{incident.id}-1"]  # stored with it
        await assert_incident_events(bus, [])  # and not published

        restarted = await incident_pipeline(bus)  # the restart relays what the crash left
        await restarted.stop()
        await assert_incident_events(bus, [("incident.opened", 1)])
        got = await restarted.store.get(incident.id)
        assert got is not None
        assert got[0].outbox == ()

        # A transition after the restart, crashing at the same seam.
        crashing = await incident_pipeline(bus, IncidentCrashAfterCompareAndSet)
        crashing.armed = True  # type: ignore[attr-defined]
        with pytest.raises(Crash):
            await crashing.acknowledge(ZONE, incident.id)
        await crashing.stop()
        await assert_incident_events(bus, [("incident.opened", 1)])
        await (await incident_pipeline(bus)).stop()
        await (await incident_pipeline(bus)).stop()  # a second restart publishes nothing more
        await assert_incident_events(bus, [("incident.opened", 1), ("incident.acknowledged", 2)])


async def test_an_incident_event_published_before_a_crash_is_not_published_again(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server, INCIDENT_RESOURCES) as bus:
        crashing = await incident_pipeline(bus, store=IncidentCrashBeforeClear)
        with pytest.raises(Crash):
            await crashing.trigger(trigger(FLOOD, *FIRE_AT, value=6.4, device="water-1"))
        await crashing.stop()
        await assert_incident_events(bus, [("incident.opened", 1)])  # published, not yet cleared
        assert len(crashing.store.pending()) == 1

        with publishes(bus) as published:
            restarted = await incident_pipeline(bus)  # relays at start
            await restarted.stop()
        assert published == []  # its subject's last message is it: not sent again
        assert restarted.store.pending() == []
        await assert_incident_events(bus, [("incident.opened", 1)])


async def test_an_incident_event_nats_refused_is_relayed_later_and_the_incident_stands(
    nats_server: NatsServer,
) -> None:
    async with connected(nats_server, INCIDENT_RESOURCES) as bus:
        p = await incident_pipeline(bus, IncidentPublishFailsOnce, relay_every_s=0.05)
        try:
            incident, opened = await p.trigger(trigger(FLOOD, *FIRE_AT, value=6.4, device="water-1"))
            assert opened  # answered: the incident is stored, its event pending
            await eventually(
                lambda: stored(bus, EVENTS_STREAM, f"events.incident.{WUTONG}"),
                lambda found: len(found) == 1,
                what="the event relayed",
            )
            await eventually(lambda: p.store.pending(), lambda left: left == [], what="cleared")
            await assert_incident_events(bus, [("incident.opened", 1)])
            assert incident.id in {i.id for i in p.store.incidents()}
        finally:
            await p.stop()
