"""Incidents: what they hold, how triggers correlate into them, their transitions and guards, SLA
escalation and per-district statistics. Pure functions over plain values; the pipeline applies
them to the `incidents` bucket by compare-and-set.

The record of an incident is JSON (`to_json`); other parts of the platform read it, so it always
has at least id, district, type, severity, state, opened_ms, acknowledged_ms and resolved_ms
(0 when not yet), and readers ignore fields they do not know. Its `outbox` holds the events of its
transitions not yet published (`recorded` adds one in the same compare-and-set as the transition,
`published` takes them out once they are on EVENTS and AUDIT; governance/outbox.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from citymesh.city import DISTRICTS
from citymesh.governance.domain import Pending
from citymesh.governance.incidents.rules import AnyRule, Correlation, Severity, Sla
from citymesh.governance.incidents.units import Unit, distance_m
from citymesh.runtime.errors import FailedPrecondition, InvalidArgument

MAX_DEVICES = 20
MAX_RESOLUTION = 2000
DUTY_CHIEF = 1
COMMAND_CENTER = 2
ESCALATED_TO = {DUTY_CHIEF: "the sub-district's duty chief", COMMAND_CENTER: "the zone command center"}


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Trigger:
    """One rule trigger, placed: what the perceive stage hands the pipeline."""

    rule: AnyRule
    device_id: str
    district: str
    lon: float
    lat: float
    time_ms: int
    value: float


@dataclass(frozen=True)
class Eta:
    seconds: float
    source: str


@dataclass(frozen=True)
class Incident:
    id: str
    district: str
    type: str
    severity: Severity
    state: State
    opened_ms: int
    acknowledged_ms: int = 0
    dispatched_ms: int = 0
    resolved_ms: int = 0
    rule_id: str = ""
    description: str = ""
    lon: float = 0.0
    lat: float = 0.0
    last_seen_ms: int = 0
    triggers: int = 1
    device_ids: tuple[str, ...] = ()
    peak_value: float = 0.0
    threshold: float = 0.0
    above: bool = True
    unit_id: str = ""
    dispatched_unit_id: str = ""
    eta_s: float = 0.0
    eta_source: str = ""
    acknowledged_by: str = ""
    dispatched_by: str = ""
    resolved_by: str = ""
    resolution: str = ""
    escalation_level: int = 0
    escalation_reason: str = ""
    acknowledge_due_ms: int = 0
    resolve_due_ms: int = 0
    version: int = 1
    measure: str = ""
    """What peak_value and threshold are: a device kind's readings, or a detection's `confidence`
    ("" in records written before it was kept)."""
    outbox: tuple[Pending, ...] = ()
    """Events of its transitions stored but not yet published, oldest first."""

    def record(self) -> dict[str, Any]:
        """The incident as JSON values, without its outbox (what its events carry)."""
        d = asdict(self)
        d["severity"] = self.severity.label
        d["state"] = self.state.value
        d["device_ids"] = list(self.device_ids)
        del d["outbox"]
        return d

    def to_json(self) -> bytes:
        d = self.record()
        d["outbox"] = [p.to_dict() for p in self.outbox]
        return json.dumps(d, sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Incident:
        d = json.loads(raw)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["severity"] = Severity.parse(d["severity"])
        values["state"] = State(d["state"])
        values["device_ids"] = tuple(d.get("device_ids", ()))
        values["outbox"] = tuple(Pending.from_dict(p) for p in d.get("outbox", ()))
        return cls(**values)

    @property
    def resolved(self) -> bool:
        return self.state is State.RESOLVED


def deadlines(opened_ms: int, sla: Sla) -> tuple[int, int]:
    return opened_ms + round(sla.acknowledge_s * 1000), opened_ms + round(sla.resolve_s * 1000)


def open_incident(incident_id: str, trigger: Trigger, unit: Unit | None, sla: Sla, now_ms: int) -> Incident:
    """A new incident for a trigger, routed to `unit`. Its clock starts at `now_ms` (when the
    platform learnt of it), not at the reading's time."""
    ack_due, resolve_due = deadlines(now_ms, sla)
    rule = trigger.rule
    return Incident(
        id=incident_id,
        district=trigger.district,
        type=rule.type,
        severity=rule.severity,
        state=State.OPEN,
        opened_ms=now_ms,
        rule_id=rule.id,
        description=rule.description,
        lon=trigger.lon,
        lat=trigger.lat,
        last_seen_ms=trigger.time_ms,
        device_ids=(trigger.device_id,),
        peak_value=trigger.value,
        threshold=rule.threshold,
        above=rule.above,
        measure=rule.measure,
        unit_id=unit.id if unit else "",
        acknowledge_due_ms=ack_due,
        resolve_due_ms=resolve_due,
    )


def correlates(incident: Incident, trigger: Trigger, correlation: Correlation) -> float | None:
    """The distance (m) at which `trigger` joins `incident`, or None when it does not: the same
    type, not resolved, within the radius, last triggered within the window."""
    if incident.resolved or incident.type != trigger.rule.type:
        return None
    if abs(trigger.time_ms - incident.last_seen_ms) > correlation.window_s * 1000:
        return None
    d = distance_m(incident.lon, incident.lat, trigger.lon, trigger.lat)
    return d if d <= correlation.radius_m else None


def correlate(incidents: Iterable[Incident], trigger: Trigger, correlation: Correlation) -> Incident | None:
    """The incident a trigger joins (the nearest that correlates), or None: it opens a new one."""
    best: tuple[float, int, Incident] | None = None
    for incident in incidents:
        d = correlates(incident, trigger, correlation)
        if d is not None and (best is None or (d, -incident.opened_ms) < best[:2]):
            best = (d, -incident.opened_ms, incident)
    return best[2] if best else None


def join(incident: Incident, trigger: Trigger, sla: dict[Severity, Sla]) -> Incident:
    """`incident` with `trigger` joined: counted, its device listed, the peak value and severity
    raised (a higher severity tightens the deadlines from the same opening time)."""
    rule = trigger.rule
    devices = incident.device_ids
    if trigger.device_id not in devices and len(devices) < MAX_DEVICES:
        devices = (*devices, trigger.device_id)
    more_extreme = (
        trigger.value > incident.peak_value if incident.above else trigger.value < incident.peak_value
    )
    # A value in another measure (a detection's confidence against PM2.5) is not compared.
    comparable = rule.above == incident.above and incident.measure in ("", rule.measure)
    changed = replace(
        incident,
        triggers=incident.triggers + 1,
        last_seen_ms=max(incident.last_seen_ms, trigger.time_ms),
        device_ids=devices,
        peak_value=trigger.value if more_extreme and comparable else incident.peak_value,
        version=incident.version + 1,
    )
    if rule.severity > incident.severity:
        ack_due, resolve_due = deadlines(incident.opened_ms, sla[rule.severity])
        changed = replace(
            changed,
            severity=rule.severity,
            rule_id=rule.id,
            description=rule.description,
            threshold=rule.threshold,
            above=rule.above,
            measure=rule.measure,
            peak_value=trigger.value if not comparable else changed.peak_value,
            acknowledge_due_ms=ack_due,
            resolve_due_ms=resolve_due,
        )
    return changed


def _taken(incident: Incident) -> str:
    if incident.state is State.RESOLVED:
        return f"it was resolved by {incident.resolved_by or '(unknown)'}"
    if incident.state is State.DISPATCHED:
        return (
            f"{incident.dispatched_by or '(unknown)'} already dispatched {incident.dispatched_unit_id} "
            f"to it (version {incident.version})"
        )
    return f"{incident.acknowledged_by or '(unknown)'} already acknowledged it (version {incident.version})"


def acknowledge(incident: Incident, actor: str, now_ms: int) -> Incident:
    if incident.state is not State.OPEN:
        raise FailedPrecondition(f"cannot acknowledge incident {incident.id}: {_taken(incident)}")
    return replace(
        incident,
        state=State.ACKNOWLEDGED,
        acknowledged_ms=now_ms,
        acknowledged_by=actor,
        version=incident.version + 1,
    )


def dispatchable(incident: Incident) -> None:
    """FailedPrecondition unless a unit may be dispatched to `incident` (open or acknowledged)."""
    if incident.state not in (State.OPEN, State.ACKNOWLEDGED):
        raise FailedPrecondition(f"cannot dispatch to incident {incident.id}: {_taken(incident)}")


def dispatch(incident: Incident, actor: str, unit: Unit, eta: Eta, now_ms: int) -> Incident:
    """A unit sent; an open incident is acknowledged by it."""
    dispatchable(incident)
    acknowledged = incident.state is State.ACKNOWLEDGED
    return replace(
        incident,
        state=State.DISPATCHED,
        acknowledged_ms=incident.acknowledged_ms if acknowledged else now_ms,
        acknowledged_by=incident.acknowledged_by if acknowledged else actor,
        dispatched_ms=now_ms,
        dispatched_by=actor,
        dispatched_unit_id=unit.id,
        eta_s=eta.seconds,
        eta_source=eta.source,
        version=incident.version + 1,
    )


def resolution_note(note: str) -> str:
    text = note.strip()
    if not text:
        raise InvalidArgument(
            "a resolution note is required to close an incident: say what was found and done"
        )
    if len(text) > MAX_RESOLUTION:
        raise InvalidArgument(f"the resolution note has {len(text)} characters; at most {MAX_RESOLUTION}")
    return text


def resolve(incident: Incident, actor: str, note: str, now_ms: int) -> Incident:
    text = resolution_note(note)
    if incident.state is State.RESOLVED:
        raise FailedPrecondition(f"incident {incident.id} is resolved already: {_taken(incident)}")
    return replace(
        incident,
        state=State.RESOLVED,
        resolved_ms=now_ms,
        resolved_by=actor,
        resolution=text,
        version=incident.version + 1,
    )


def escalation(incident: Incident, now_ms: int) -> Incident | None:
    """The incident escalated one level if its SLA is overdue at `now_ms` and it was not escalated
    for that yet; None when nothing is due. Not acknowledged by its deadline: to the duty chief;
    not resolved by its deadline: to the command center."""
    if incident.resolved:
        return None
    level, why = incident.escalation_level, ""
    if now_ms > incident.resolve_due_ms and level < COMMAND_CENTER:
        level = COMMAND_CENTER
        minutes = (incident.resolve_due_ms - incident.opened_ms) / 60_000
        why = f"not resolved within {minutes:g} min ({incident.severity.label} SLA)"
    elif incident.state is State.OPEN and now_ms > incident.acknowledge_due_ms and level < DUTY_CHIEF:
        level = DUTY_CHIEF
        minutes = (incident.acknowledge_due_ms - incident.opened_ms) / 60_000
        why = f"not acknowledged within {minutes:g} min ({incident.severity.label} SLA)"
    if level == incident.escalation_level:
        return None
    return replace(
        incident,
        escalation_level=level,
        escalation_reason=f"{why}; escalated to {ESCALATED_TO[level]}",
        version=incident.version + 1,
    )


def event(kind: str, incident: Incident, actor: str, at_ms: int) -> dict[str, Any]:
    """What EVENTS and AUDIT record of a transition."""
    return {
        "type": f"incident.{kind}",
        "incident": incident.record(),
        "actor": actor,
        "at_ms": at_ms,
    }


def event_msg_id(incident: Incident) -> str:
    """The Nats-Msg-Id of the event of the transition that made `incident` (one per version)."""
    return f"incident-{incident.id}-{incident.version}"


def recorded(incident: Incident, kind: str, actor: str, at_ms: int) -> Incident:
    """`incident` with the event of the transition that made it added to its outbox: stored in the
    same compare-and-set as the transition, published on `incident.<district>` afterwards. Its
    subject holds every incident of the sub-district, so the event has no version for the
    relay's "a later one is there" check (governance/outbox.py): its msg id alone dedups it."""
    pending = Pending(event_msg_id(incident), incident.district, 0, event(kind, incident, actor, at_ms))
    return replace(incident, outbox=(*incident.outbox, pending))


def published(incident: Incident, msg_ids: Collection[str]) -> Incident | None:
    """`incident` with the events `msg_ids` taken out of its outbox; None when none was there."""
    left = tuple(p for p in incident.outbox if p.msg_id not in msg_ids)
    if len(left) == len(incident.outbox):
        return None
    return replace(incident, outbox=left)


@dataclass(frozen=True)
class DistrictStats:
    district: str
    open: int = 0
    acknowledged: int = 0
    dispatched: int = 0
    resolved: int = 0
    escalated: int = 0
    mean_time_to_acknowledge_s: float = 0.0
    mean_time_to_resolve_s: float = 0.0


def stats(incidents: Iterable[Incident], districts: Iterable[str] = DISTRICTS) -> list[DistrictStats]:
    """Per sub-district, in the zone's order: incidents by state, escalated ones, and the mean
    seconds from opening to acknowledgement and to resolution (over the incidents that got there)."""
    wanted = list(districts)
    by: dict[str, list[Incident]] = {d: [] for d in wanted}
    for incident in incidents:
        if incident.district in by:
            by[incident.district].append(incident)
    out = []
    for district in wanted:
        items = by[district]
        acked = [i.acknowledged_ms - i.opened_ms for i in items if i.acknowledged_ms]
        resolved = [i.resolved_ms - i.opened_ms for i in items if i.resolved_ms]
        count = {s: sum(i.state is s for i in items) for s in State}
        out.append(
            DistrictStats(
                district,
                open=count[State.OPEN],
                acknowledged=count[State.ACKNOWLEDGED],
                dispatched=count[State.DISPATCHED],
                resolved=count[State.RESOLVED],
                escalated=sum(i.escalation_level > 0 for i in items),
                mean_time_to_acknowledge_s=sum(acked) / len(acked) / 1000 if acked else 0.0,
                mean_time_to_resolve_s=sum(resolved) / len(resolved) / 1000 if resolved else 0.0,
            )
        )
    return out
