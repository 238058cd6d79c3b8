"""The five stages joined, on the `incidents` bucket:

- perceive: the TELEMETRY and detection consumers (perceive.py) evaluate the rules and hand over
  triggers;
- analyse: a trigger joins the nearest unresolved incident of its type within the correlation
  radius and window, or opens one;
- serve: a new incident is routed to the unit responsible for its sub-district and type;
- command: operators acknowledge it and dispatch a unit, with an ETA;
- supervise: a periodic pass (on the injectable clock) escalates incidents past their SLA;
  closing needs a resolution note.

Perceiving (with it, opening incidents) and supervising run in one governance replica at a time,
the holder of the leader lease (lease.py); every replica serves the API, whose acts are
compare-and-sets on the record like everything else here.

Every change is a compare-and-set on the incident's record; the event of each transition (opened,
acknowledged, dispatched, escalated, resolved) is written into the record's outbox by that same
compare-and-set, then published on EVENTS (`events.incident.<district>`) and AUDIT
(`audit.incident.<district>`), deduplicated by `incident-<id>-<version>`, and cleared
(governance/outbox.py): right after the transition, at every start (what a crash left) and every
few seconds while one is pending (NATS away). Callers are checked here: a tenant bound to a
sub-district sees and acts only on its incidents; another's is NOT_FOUND (audited), as if it did
not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass

from citymesh.city import DISTRICTS
from citymesh.governance.incidents import model
from citymesh.governance.incidents.devices import Devices
from citymesh.governance.incidents.eta import ComputeRoute, Estimator, StraightLine
from citymesh.governance.incidents.evaluate import DetectionMatcher, Evaluator
from citymesh.governance.incidents.lease import INCIDENTS_LEASE, Lease, finish
from citymesh.governance.incidents.model import Incident, State, Trigger
from citymesh.governance.incidents.perceive import DetectionReader, Perceiver, RuleReader
from citymesh.governance.incidents.rules import RuleSet, load
from citymesh.governance.incidents.settings import IncidentSettings
from citymesh.governance.incidents.store import IncidentStore
from citymesh.governance.incidents.units import UNITS, Unit, responsible_unit, serves
from citymesh.governance.outbox import RELAY_EVERY_S, RELAY_FAILURES, Outbox, Relay
from citymesh.runtime import errors
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import (
    AUDIT_STREAM,
    DEVICES_BUCKET,
    EVENTS_STREAM,
    INCIDENTS_BUCKET,
    LEASES_BUCKET,
    TELEMETRY_STREAM,
    Bus,
)

log = logging.getLogger("citymesh.governance.incidents")

RESOURCES = [TELEMETRY_STREAM, DEVICES_BUCKET, INCIDENTS_BUCKET, EVENTS_STREAM, AUDIT_STREAM, LEASES_BUCKET]
"""What the pipeline uses on NATS."""
PIPELINE = "governance"
"""The actor of what the pipeline does by itself (opening, escalating)."""
NAMESPACE = "incident"
"""Events go to `events.incident.<district>` and `audit.incident.<district>`."""
INCIDENT_ID = re.compile(r"^inc-[0-9a-f]{12}$")
CAS_TRIES = 20
WATCH_QUEUE = 256
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
STOP_WAIT_S = 5.0
"""How long a stopping supervisor may finish its pass before it is cancelled."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"


def incident_subject(stream: str, district: str) -> str:
    return f"{stream.lower()}.incident.{district}"


def check_id(incident_id: str) -> str:
    if not incident_id:
        raise errors.InvalidArgument("incident_id is required (ListIncidents names them)")
    if not INCIDENT_ID.match(incident_id):
        raise errors.InvalidArgument(
            f"incident_id {incident_id[:80]!r} is not an incident id: they look like inc-3f9a1c0b2d4e"
        )
    return incident_id


@dataclass(frozen=True)
class Filter:
    districts: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    states: frozenset[State] = frozenset()

    def matches(self, incident: Incident) -> bool:
        return (
            (not self.districts or incident.district in self.districts)
            and (not self.types or incident.type in self.types)
            and (not self.states or incident.state in self.states)
        )


class Pipeline:
    lease_type: type[Lease] = Lease
    """What holds the leader lease (a test's subclass may make its renewals hang)."""

    def __init__(
        self,
        bus: Bus,
        store: IncidentStore,
        rules: RuleSet,
        estimator: Estimator | None = None,
        clock: Callable[[], int] = now_ms,
        relay_every_s: float = RELAY_EVERY_S,
    ) -> None:
        self.bus = bus
        self.store = store
        self.rules = rules
        self.estimator: Estimator = estimator or StraightLine()
        self.clock = clock
        self.access = Access(bus, "governance")
        self.evaluator = Evaluator(rules.rules)
        self.outbox = Outbox(bus, NAMESPACE)
        self._relay = Relay("incidents", self.relay, self._due, relay_every_s)
        self._closing = asyncio.Event()
        self._started = False
        self._settings: IncidentSettings | None = None
        self._devices: Devices | None = None
        self.lease: Lease | None = None
        """The leader lease, once started with settings; without one this pipeline opens incidents
        whenever it is asked (tests, benchmarks)."""
        self.perceivers: list[Perceiver] = []
        """The consumers running now: none while another replica holds the lease."""
        self._tasks: list[asyncio.Task[None]] = []
        self._term_over = asyncio.Event()
        self.opened = 0
        """Incidents this pipeline opened."""

    @classmethod
    async def create(cls, bus: Bus, settings: IncidentSettings) -> Pipeline:
        """The pipeline governance runs, as its settings say (rules, compute address)."""
        rules = load(settings.incident_rules)
        estimator: Estimator = (
            ComputeRoute(settings.compute_address, settings.token, settings.compute_timeout_s)
            if settings.compute_address
            else StraightLine()
        )
        store = await IncidentStore.open(bus)
        return cls(bus, store, rules, estimator)

    async def start(self, settings: IncidentSettings | None = None) -> None:
        """The store's view and the outbox relay (publishing what a crash left), then (with
        settings) the device registry and the leader lease: this replica runs the TELEMETRY and
        detection consumers and the supervisor while it holds it (at once when it was free)."""
        if not self._started:
            await self.store.start()
            await self._relay.start()
            self._started = True
        if settings is None or self.lease is not None:
            return
        self._settings = settings
        self._devices = await Devices.open(self.bus)
        await self._devices.start()
        self.lease = await self.lease_type.open(
            self.bus, INCIDENTS_LEASE, settings.lease_renew_s, self._lead, self._stand_by
        )
        await self.lease.start()
        log.info(
            "incident pipeline started",
            extra={
                "rules": len(self.rules.rules),
                "detection_rules": len(self.rules.detections),
                "source": self.rules.source,
                "devices": len(self._devices),
                "leading": self.lease.active,
                "lease_ttl_s": self.lease.ttl_s,
            },
        )

    @property
    def leading(self) -> bool:
        """Whether this pipeline perceives and supervises now (no lease: whenever started)."""
        return self.lease.held() if self.lease is not None else True

    async def _lead(self) -> None:
        """The lease is ours: catch up with what the previous leader stored, then perceive and
        supervise."""
        settings, devices = self._settings, self._devices
        assert settings is not None
        assert devices is not None
        if not await self.store.sync(min(10.0, settings.lease_ttl_s / 4)):
            log.warning("incident view not caught up with the bucket; correlating with what it has")
        self.evaluator = Evaluator(self.rules.rules)  # windows from an earlier term are stale
        readers: list[RuleReader | DetectionReader] = [RuleReader(devices, self.evaluator)]
        if self.rules.detections:
            readers.append(DetectionReader(DetectionMatcher(self.rules.detections)))
        for reader in readers:
            perceiver = Perceiver(self.bus, reader, self.trigger_all, settings.incident_fetch_batch)
            self.perceivers.append(perceiver)
            await perceiver.start()
        self._term_over = asyncio.Event()
        self._tasks.append(
            asyncio.create_task(
                self._supervise_every(settings.supervise_interval_s, self._term_over),
                name="incidents-supervise",
            )
        )
        log.info("incident pipeline leading: perceiving and supervising")

    async def _stand_by(self) -> None:
        """The lease is not ours (lost or released): stop perceiving and supervising; what a
        consumer had fetched and not handled goes back to the stream for the next leader."""
        self._term_over.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await finish(task, STOP_WAIT_S)
        perceivers, self.perceivers = self.perceivers, []
        await asyncio.gather(*(perceiver.stop() for perceiver in perceivers))  # each ends its fetch

    async def draining(self) -> None:
        """End the watch streams (the server is about to stop) and hand the lease over: the other
        replica takes it now rather than when it would have expired."""
        self._closing.set()
        if self.lease is not None:
            await self.lease.stop()

    async def stop(self) -> None:
        self._closing.set()
        if self.lease is not None:
            await self.lease.stop()
        await self._stand_by()
        if self._devices is not None:
            await self._devices.stop()
        await self._relay.stop()
        await self.store.stop()
        close = getattr(self.estimator, "close", None)
        if close is not None:
            await close()

    # --- analyse and serve ------------------------------------------------------------------------

    async def trigger_all(self, triggers: list[Trigger]) -> None:
        for trigger in triggers:
            await self.trigger(trigger)

    async def trigger(self, trigger: Trigger) -> tuple[Incident, bool]:
        """Join the trigger to the incident it correlates with, or open one; (incident, opened)."""
        correlation = self.rules.correlation
        for _ in range(CAS_TRIES):
            candidates = [i for i in self.store.incidents() if i.type == trigger.rule.type and not i.resolved]
            target = model.correlate(candidates, trigger, correlation)
            if target is None:
                unit = responsible_unit(trigger.district, trigger.rule.type)
                now = self.clock()
                opened = model.open_incident(
                    new_id(), trigger, unit, self.rules.sla[trigger.rule.severity], now
                )
                incident = model.recorded(opened, "opened", PIPELINE, now)
                if not self.leading:  # another replica may be correlating this trigger's place
                    raise errors.Unavailable("this replica does not hold the incident lease any more")
                await self.store.create(incident)
                self.opened += 1
                await self._relay_after(incident)
                log.info(
                    "incident opened",
                    extra={"incident": incident.id, "district": incident.district, "type": incident.type},
                )
                return incident, True

            def joined(current: Incident) -> Incident | None:
                if model.correlates(current, trigger, correlation) is None:
                    return None  # resolved meanwhile: look again
                return model.join(current, trigger, self.rules.sla)

            try:
                changed = await self.store.change(target.id, joined)
            except errors.NotFound:
                continue
            if changed is not None:
                return changed[1], False
        raise errors.Unavailable("incidents kept changing while a trigger was correlated; it is retried")

    # --- command ------------------------------------------------------------------------------------

    async def acknowledge(self, who: Identity, incident_id: str) -> Incident:
        await self.get(who, incident_id, "acknowledge")
        return await self._transition(
            incident_id, "acknowledged", who, lambda i: model.acknowledge(i, who.tenant, self.clock())
        )

    async def dispatch(self, who: Identity, incident_id: str, unit_id: str = "") -> Incident:
        incident = await self.get(who, incident_id, "dispatch")
        unit = await self._unit(who, incident, unit_id)
        model.dispatchable(incident)  # before the ETA, which may take a while
        eta = await self.estimator.eta(unit, incident.lon, incident.lat)
        return await self._transition(
            incident_id, "dispatched", who, lambda i: model.dispatch(i, who.tenant, unit, eta, self.clock())
        )

    async def resolve(self, who: Identity, incident_id: str, note: str) -> Incident:
        model.resolution_note(note)
        await self.get(who, incident_id, "resolve")
        return await self._transition(
            incident_id, "resolved", who, lambda i: model.resolve(i, who.tenant, note, self.clock())
        )

    async def _unit(self, who: Identity, incident: Incident, unit_id: str) -> Unit:
        if not unit_id:
            unit = UNITS.get(incident.unit_id) or responsible_unit(incident.district, incident.type)
            if unit is None:
                raise errors.FailedPrecondition(
                    f"no unit is responsible for incident {incident.id}; name one in unit_id"
                )
            return unit
        unit = UNITS.get(unit_id)
        if unit is None:
            raise errors.InvalidArgument(
                f"unit_id {unit_id[:80]!r} is not a responder unit; ListResponderUnits names them"
            )
        if not serves(unit, incident.type):
            raise errors.InvalidArgument(
                f"unit {unit.id} does not respond to {incident.type} incidents; "
                f"the responsible one is {incident.unit_id or '(none)'}"
            )
        await self.access.require_district(who, unit.district, "dispatch", f"unit {unit.id}")
        return unit

    async def _transition(
        self, incident_id: str, kind: str, who: Identity, fn: Callable[[Incident], Incident]
    ) -> Incident:
        changed = await self.store.change(
            incident_id, lambda i: model.recorded(fn(i), kind, who.tenant, self.clock())
        )
        assert changed is not None  # fn always returns an incident or raises
        after = changed[1]
        await self._relay_after(after)
        log.info("incident %s", kind, extra={"incident": after.id, "actor": who.tenant})
        return after

    # --- supervise ----------------------------------------------------------------------------------

    async def supervise(self) -> list[Incident]:
        """One pass: escalate every incident past its SLA at the clock's now; the escalated ones."""
        now = self.clock()
        escalated = []
        for incident in self.store.incidents():
            if model.escalation(incident, now) is None:
                continue

            def escalate(current: Incident) -> Incident | None:
                escalated = model.escalation(current, now)
                return None if escalated is None else model.recorded(escalated, "escalated", PIPELINE, now)

            try:
                changed = await self.store.change(incident.id, escalate)
            except errors.CitymeshError as exc:
                log.warning(
                    "escalation not stored; next pass", extra={"incident": incident.id, "reason": str(exc)}
                )
                continue
            if changed is not None:
                await self._relay_after(changed[1])
                log.warning(
                    "incident escalated",
                    extra={"incident": incident.id, "reason": changed[1].escalation_reason},
                )
                escalated.append(changed[1])
        return escalated

    async def _supervise_every(self, interval_s: float, over: asyncio.Event) -> None:
        """A pass every `interval_s` until the lease term is `over` (a flag, not a cancellation:
        Python 3.11's wait_for may swallow one)."""
        while not over.is_set():
            try:
                if self.leading:
                    await self.supervise()
            except Exception:
                log.exception("supervision pass failed; next one in %s s", interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(over.wait(), interval_s)

    # --- the outbox --------------------------------------------------------------------------------

    async def relay_incident(self, incident: Incident) -> int:
        """Publish the events in `incident`'s outbox, oldest first, then clear them from the stored
        record by compare-and-set; how many. Safe to run again at any point (outbox.Outbox)."""
        if not incident.outbox:
            return 0
        for pending in incident.outbox:
            await self.outbox.publish_once(pending)
        done = {p.msg_id for p in incident.outbox}
        await self.store.change(incident.id, lambda current: model.published(current, done))
        return len(done)

    async def relay(self) -> int:
        """Relay every incident's outbox, as the view has them; how many events were published."""
        relayed = 0
        for incident in self.store.pending():
            relayed += await self.relay_incident(incident)
        return relayed

    async def _due(self) -> bool:
        return bool(self.store.pending())

    async def _relay_after(self, incident: Incident) -> None:
        """Publish a transition's event now; when NATS does not take it, the stored transition
        stands and the relay publishes it later."""
        try:
            await self.relay_incident(incident)
        except RELAY_FAILURES as exc:
            log.warning(
                "event of a stored incident transition left in its outbox: %r",
                exc,
                extra={"incident": incident.id},
            )

    # --- what callers see ---------------------------------------------------------------------------

    async def identified(self, who: Identity, action: str, resource: str = "incidents") -> None:
        """Every operation needs a caller: a platform role or a tenant (UNAUTHENTICATED, audited)."""
        if who.is_platform or who.tenant:
            return
        reason = "no caller identity"
        await self.access.record(who, action, resource, False, reason)
        raise errors.Unauthenticated(
            f"{reason}: send `authorization: Bearer <token>` (in development, the x-citymesh-tenant, "
            "-district and -roles headers)"
        )

    async def get(self, who: Identity, incident_id: str, action: str = "get") -> Incident:
        resource = f"incident {incident_id[:80]}"
        await self.identified(who, action, resource)
        got = await self.store.get(check_id(incident_id))
        if got is None:
            raise errors.NotFound(f"{resource} does not exist")
        incident = got[0]
        if not (who.is_platform or (who.district and who.district == incident.district)):
            await self.access.deny(
                who,
                action,
                resource,
                f"{resource} is in {incident.district}; tenant {who.tenant or '(none)'} is bound to "
                f"{who.district or 'no sub-district'}",
                hide=True,
            )
        return incident

    async def districts(self, who: Identity, wanted: Collection[str], action: str) -> frozenset[str]:
        """The sub-districts a query covers: those asked (each checked), else all the caller may see."""
        await self.identified(who, action)
        for district in wanted:
            await self.access.require_district(who, district, action, f"incidents of {district}")
        if wanted:
            return frozenset(wanted)
        if who.is_platform:
            return frozenset(DISTRICTS)
        if who.district:
            return frozenset({who.district})
        await self.access.deny(
            who,
            action,
            "incidents",
            f"tenant {who.tenant or '(none)'} is bound to no sub-district; incidents are shown to a "
            "sub-district's tenant or to the platform",
        )

    async def find(self, who: Identity, wanted: Filter, limit: int = 0) -> tuple[list[Incident], bool]:
        districts = await self.districts(who, wanted.districts, "list")
        scope = Filter(districts, wanted.types, wanted.states)
        if limit > MAX_LIMIT:
            raise errors.InvalidArgument(f"limit {limit}: at most {MAX_LIMIT}")
        found = sorted(
            (i for i in self.store.incidents() if scope.matches(i)), key=lambda i: (-i.opened_ms, i.id)
        )
        limit = limit or DEFAULT_LIMIT
        return found[:limit], len(found) > limit

    async def watch(self, who: Identity, wanted: Filter, include_current: bool) -> AsyncIterator[Incident]:
        districts = await self.districts(who, wanted.districts, "watch")
        scope = Filter(districts, wanted.types, wanted.states)
        queue: asyncio.Queue[Incident | None] = asyncio.Queue(WATCH_QUEUE)

        def offer(incident: Incident) -> None:
            if scope.matches(incident):
                try:
                    queue.put_nowait(incident)
                except asyncio.QueueFull:
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                    queue.put_nowait(None)  # the watcher fell behind

        unlisten = self.store.listen(offer)
        try:
            if include_current:
                current = [i for i in self.store.incidents() if scope.matches(i) and not i.resolved]
                for incident in sorted(current, key=lambda i: (i.opened_ms, i.id)):
                    yield incident
            closing = asyncio.ensure_future(self._closing.wait())
            try:
                while True:
                    getting = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getting, closing}, return_when=asyncio.FIRST_COMPLETED)
                    if not getting.done():
                        getting.cancel()
                        return
                    item = getting.result()
                    if item is None:
                        raise errors.ResourceExhausted(
                            f"the watch fell {WATCH_QUEUE} changes behind; watch again (include_current)"
                        )
                    yield item
            finally:
                closing.cancel()
        finally:
            unlisten()

    async def stats(self, who: Identity, wanted: Collection[str]) -> list[model.DistrictStats]:
        districts = await self.districts(who, wanted, "stats")
        return model.stats(self.store.incidents(), [d for d in DISTRICTS if d in districts])
