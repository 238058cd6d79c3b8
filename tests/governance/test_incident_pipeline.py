"""The incident pipeline on a real nats-server: correlation into one record, compare-and-set under
concurrent dispatchers (each on its own connection), SLA escalation on a controllable clock, and
the events and audit records of every transition."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from citymesh.governance.incidents.eta import StraightLine
from citymesh.governance.incidents.model import Eta, Incident, State
from citymesh.governance.incidents.pipeline import Pipeline
from citymesh.governance.incidents.store import Conflict
from citymesh.governance.incidents.units import Unit
from citymesh.runtime import errors
from citymesh.runtime.auth import Identity
from citymesh.runtime.natsd import NatsServer
from tests.governance.incident_harness import (
    FLOOD,
    GOUZHAO,
    PM25,
    ZONE,
    Clock,
    events,
    near,
    pipeline,
    trigger,
)

pytestmark = pytest.mark.integration
POINT = (113.485, 34.790)


async def test_triggers_near_each_other_make_one_incident_and_far_ones_another(
    nats_server: NatsServer,
) -> None:
    async with pipeline(nats_server) as p:
        first, opened = await p.trigger(trigger(PM25, *POINT, value=80.0))
        assert opened
        second, opened_again = await p.trigger(
            trigger(PM25, *near(*POINT, east_m=500), value=95.0, device="air-2")
        )
        assert not opened_again
        assert second.id == first.id
        far, opened_far = await p.trigger(trigger(PM25, *near(*POINT, north_m=3000), device="air-3"))
        assert opened_far
        assert far.id != first.id
        stored = await p.store.get(first.id)
        assert stored is not None
        assert (stored[0].triggers, stored[0].peak_value, stored[0].device_ids) == (
            2,
            95.0,
            ("air-1", "air-2"),
        )
        # Another process sees the same records through the bucket.
        async with pipeline(nats_server) as other:
            ids = {i.id for i in other.store.incidents()}
            assert ids == {first.id, far.id}
            joined, opened_there = await other.trigger(
                trigger(PM25, *near(*POINT, east_m=100), device="air-4")
            )
            assert (joined.id, opened_there, joined.triggers) == (first.id, False, 3)
        opened_events = await events(p.bus, "EVENTS", "events.incident.gouzhao")
        assert [e["type"] for e in opened_events] == ["incident.opened", "incident.opened"]
        assert {e["incident"]["id"] for e in opened_events} == {first.id, far.id}


class AllReadFirst:
    """An estimator that holds every dispatcher until all have read the incident, so they race to
    write it: the compare-and-set must pick one."""

    def __init__(self, dispatchers: int) -> None:
        self.barrier = asyncio.Barrier(dispatchers)
        self.inner = StraightLine()

    async def eta(self, unit: Unit, lon: float, lat: float) -> Eta:
        await self.barrier.wait()
        return await self.inner.eta(unit, lon, lat)


async def test_of_several_concurrent_dispatchers_exactly_one_takes_the_incident(
    nats_server: NatsServer,
) -> None:
    n = 5
    race = AllReadFirst(n)
    async with pipeline(nats_server) as opener, contextlib.AsyncExitStack() as stack:
        incident, _ = await opener.trigger(trigger(PM25, *POINT))
        pipelines: list[Pipeline] = [
            await stack.enter_async_context(pipeline(nats_server, estimator=race)) for _ in range(n)
        ]
        dispatchers = [Identity(f"operator-{k}", "gouzhao") for k in range(n)]
        results = await asyncio.gather(
            *(p.dispatch(who, incident.id) for p, who in zip(pipelines, dispatchers, strict=True)),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Incident)]
        lost = [r for r in results if not isinstance(r, Incident)]
        assert len(won) == 1, results
        assert all(isinstance(r, errors.FailedPrecondition) for r in lost), lost
        assert all("already dispatched gouzhao-environment" in str(r) for r in lost)
        stored = await opener.store.get(incident.id)
        assert stored is not None
        assert (stored[0].state, stored[0].dispatched_by, stored[0].version) == (
            State.DISPATCHED,
            won[0].dispatched_by,
            2,
        )
        dispatched = [
            e
            for e in await events(opener.bus, "EVENTS", "events.incident.")
            if e["type"] == "incident.dispatched"
        ]
        assert [e["actor"] for e in dispatched] == [won[0].dispatched_by]


async def test_a_write_on_a_stale_revision_is_refused(nats_server: NatsServer) -> None:
    async with pipeline(nats_server) as a, pipeline(nats_server) as b:
        incident, _ = await a.trigger(trigger(PM25, *POINT))
        got_a, got_b = await a.store.get(incident.id), await b.store.get(incident.id)
        assert got_a is not None
        assert got_b is not None
        assert got_a[1] == got_b[1]
        await a.store.update(got_a[0], got_a[1])
        with pytest.raises(Conflict):
            await b.store.update(got_b[0], got_b[1])


async def test_an_overdue_incident_is_escalated_on_the_clock_with_an_event(nats_server: NatsServer) -> None:
    clock = Clock()
    async with pipeline(nats_server, clock=clock) as p:
        flood, _ = await p.trigger(trigger(FLOOD, *near(113.575, 34.825), value=6.4))  # critical: 5 min, 1 h
        clock.advance(299)
        assert await p.supervise() == []
        clock.advance(2)
        (escalated,) = await p.supervise()
        assert (escalated.id, escalated.escalation_level) == (flood.id, 1)
        clock.advance(60)
        assert await p.supervise() == [], "escalated twice for one deadline"
        await p.acknowledge(ZONE, flood.id)
        clock.advance(3600)
        (again,) = await p.supervise()
        assert again.escalation_level == 2
        assert "not resolved within 60 min" in again.escalation_reason
        await p.resolve(ZONE, flood.id, "pumps started; level back under 6 m")
        clock.advance(86_400)
        assert await p.supervise() == []
        kinds = [e["type"] for e in await events(p.bus, "EVENTS", "events.incident.wutong")]
        assert kinds == [
            "incident.opened",
            "incident.escalated",
            "incident.acknowledged",
            "incident.escalated",
            "incident.resolved",
        ]
        audit = [e["type"] for e in await events(p.bus, "AUDIT", "audit.incident.wutong")]
        assert audit == kinds


async def test_the_supervisor_runs_on_its_own_when_started(nats_server: NatsServer) -> None:
    from citymesh.governance.incidents.settings import IncidentSettings
    from tests.polling import eventually

    clock = Clock()
    async with pipeline(nats_server, clock=clock) as p:
        incident, _ = await p.trigger(trigger(FLOOD, *near(113.575, 34.825), value=6.4))
        clock.advance(301)
        await p.start(IncidentSettings(nats_url=nats_server.url, supervise_interval_s=0.05))

        async def level() -> int:
            got = await p.store.get(incident.id)
            return got[0].escalation_level if got else -1

        assert await eventually(level, lambda v: v == 1, 10, "escalated by the supervisor") == 1


async def test_another_districts_incident_is_hidden_and_the_attempt_audited(nats_server: NatsServer) -> None:
    async with pipeline(nats_server) as p:
        incident, _ = await p.trigger(trigger(PM25, *POINT))
        huawei = Identity("huawei", "fengyang")
        for act in (
            p.get(huawei, incident.id),
            p.acknowledge(huawei, incident.id),
            p.dispatch(huawei, incident.id),
            p.resolve(huawei, incident.id, "not mine"),
        ):
            with pytest.raises(errors.NotFound, match=f"incident {incident.id} does not exist"):
                await act
        assert (await p.get(GOUZHAO, incident.id)).id == incident.id
        denials = await events(p.bus, "AUDIT", "audit.governance.denied")
        assert [(d["tenant"], d["action"]) for d in denials] == [
            ("huawei", "get"),
            ("huawei", "acknowledge"),
            ("huawei", "dispatch"),
            ("huawei", "resolve"),
        ]
        stored = await p.store.get(incident.id)
        assert stored is not None
        assert stored[0].state is State.OPEN
