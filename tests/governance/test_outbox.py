"""A transition's event is never lost: it is stored with the transition (the outbox) and relayed,
also after a crash between the compare-and-set and the publish. The faults are injected at those
seams by subclasses here, not in governance's code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from citymesh.governance.domain import PeakState, Transition
from citymesh.governance.service import Governance
from citymesh.governance.store import AwardLedger, PeakStore
from citymesh.runtime import errors
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import AUDIT_STREAM, EVENTS_STREAM, Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings
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
async def connected(nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await Bus.connect(ServiceSettings(nats_url=nats.url), name="test-outbox", resources=RESOURCES)
    try:
        yield bus
    finally:
        await bus.close()


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
        published: list[str] = []
        publish = bus.publish

        async def spy(subject: str, payload: bytes, msg_id: str, timeout: float = 10.0) -> Any:
            published.append(subject)
            return await publish(subject, payload, msg_id, timeout)

        bus.publish = spy  # type: ignore[method-assign]
        try:
            await restarted.relay()
            assert published == []  # found on its subject: not sent again (not left to dedup alone)
            assert (await restarted.peaks.load()).outbox == ()
            await assert_once(bus, version=2)
        finally:
            bus.publish = publish  # type: ignore[method-assign]
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
