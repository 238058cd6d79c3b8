"""Conversions between the IncidentService messages and the incident pipeline's types."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import timestamp_pb2

from citymesh import convert as city
from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.governance.incidents.model import DistrictStats, Incident, State
from citymesh.governance.incidents.pipeline import Filter
from citymesh.governance.incidents.rules import Aggregate, DetectionRule, Rule, RuleSet, Severity
from citymesh.governance.incidents.units import Unit
from citymesh.runtime.errors import InvalidArgument

SEVERITY_TO = {
    Severity.MINOR: pb.INCIDENT_SEVERITY_MINOR,
    Severity.MAJOR: pb.INCIDENT_SEVERITY_MAJOR,
    Severity.CRITICAL: pb.INCIDENT_SEVERITY_CRITICAL,
}
STATE_TO = {
    State.OPEN: pb.INCIDENT_STATE_OPEN,
    State.ACKNOWLEDGED: pb.INCIDENT_STATE_ACKNOWLEDGED,
    State.DISPATCHED: pb.INCIDENT_STATE_DISPATCHED,
    State.RESOLVED: pb.INCIDENT_STATE_RESOLVED,
}
STATE_FROM = {v: k for k, v in STATE_TO.items()}
AGGREGATE_TO = {
    Aggregate.VALUE: pb.RULE_AGGREGATE_VALUE,
    Aggregate.MEAN: pb.RULE_AGGREGATE_MEAN,
    Aggregate.MAX: pb.RULE_AGGREGATE_MAX,
    Aggregate.MIN: pb.RULE_AGGREGATE_MIN,
}


def _timestamp(ms: int) -> timestamp_pb2.Timestamp | None:
    if not ms:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def _point(lon: float, lat: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(longitude=lon, latitude=lat)


def incident_message(i: Incident) -> pb.Incident:
    return pb.Incident(
        incident_id=i.id,
        district=city.district_to_proto(i.district or None),
        type=i.type,
        severity=SEVERITY_TO[i.severity],
        state=STATE_TO[i.state],
        rule_id=i.rule_id,
        description=i.description,
        position=_point(i.lon, i.lat),
        opened=_timestamp(i.opened_ms),
        last_seen=_timestamp(i.last_seen_ms),
        acknowledged=_timestamp(i.acknowledged_ms),
        dispatched=_timestamp(i.dispatched_ms),
        resolved=_timestamp(i.resolved_ms),
        triggers=i.triggers,
        device_ids=list(i.device_ids),
        peak_value=i.peak_value,
        threshold=i.threshold,
        unit_id=i.unit_id,
        dispatched_unit_id=i.dispatched_unit_id,
        eta_s=i.eta_s,
        eta_source=i.eta_source,
        acknowledged_by=i.acknowledged_by,
        dispatched_by=i.dispatched_by,
        resolved_by=i.resolved_by,
        resolution=i.resolution,
        escalation_level=i.escalation_level,
        escalation_reason=i.escalation_reason,
        acknowledge_due=_timestamp(i.acknowledge_due_ms),
        resolve_due=_timestamp(i.resolve_due_ms),
        version=i.version,
    )


def districts(field: str, values: Iterable[int]) -> frozenset[str]:
    names = set()
    for value in values:
        try:
            name = city.district_from_proto(value)
        except ValueError as exc:
            raise InvalidArgument(f"{field}: {exc}") from None
        if name is None:
            raise InvalidArgument(
                f"{field}: DISTRICT_UNSPECIFIED matches nothing; list the sub-districts wanted, or none"
            )
        names.add(name)
    return frozenset(names)


def incident_filter(f: pb.IncidentFilter) -> Filter:
    states = set()
    for value in f.states:
        state = STATE_FROM.get(value)
        if state is None:
            raise InvalidArgument(
                f"filter.states: {value} is not an incident state; "
                "INCIDENT_STATE_OPEN, _ACKNOWLEDGED, _DISPATCHED or _RESOLVED"
            )
        states.add(state)
    return Filter(districts("filter.districts", f.districts), frozenset(f.types), frozenset(states))


def rule_message(r: Rule | DetectionRule) -> pb.IncidentRule:
    if isinstance(r, DetectionRule):
        # A rule over camera detections: kind CAMERA, no aggregate, its threshold the minimum
        # confidence.
        return pb.IncidentRule(
            rule_id=r.id,
            type=r.type,
            kind=city.kind_to_proto(r.kind),
            aggregate=pb.RULE_AGGREGATE_UNSPECIFIED,
            threshold=r.min_confidence,
            above=True,
            severity=SEVERITY_TO[r.severity],
            description=r.description,
            cooldown_s=r.cooldown_s,
            detection_label=r.label,
            detection_min_count=r.min_count,
        )
    return pb.IncidentRule(
        rule_id=r.id,
        type=r.type,
        kind=city.kind_to_proto(r.kind),
        aggregate=AGGREGATE_TO[r.aggregate],
        window_s=r.window_s,
        threshold=r.threshold,
        above=r.above,
        severity=SEVERITY_TO[r.severity],
        description=r.description,
        cooldown_s=r.cooldown_s,
    )


def rules_message(rules: RuleSet) -> pb.ListIncidentRulesResponse:
    return pb.ListIncidentRulesResponse(
        rules=[rule_message(r) for r in rules.all()],
        correlation_radius_m=rules.correlation.radius_m,
        correlation_window_s=rules.correlation.window_s,
        slas=[
            pb.IncidentSla(severity=SEVERITY_TO[s], acknowledge_s=sla.acknowledge_s, resolve_s=sla.resolve_s)
            for s, sla in sorted(rules.sla.items(), reverse=True)
        ],
        source=rules.source,
    )


def unit_message(u: Unit) -> pb.ResponderUnit:
    return pb.ResponderUnit(
        unit_id=u.id,
        name=u.name,
        district=city.district_to_proto(u.district),
        position=_point(u.lon, u.lat),
        types=sorted(u.types),
    )


def stats_message(s: DistrictStats) -> pb.DistrictIncidentStats:
    return pb.DistrictIncidentStats(
        district=city.district_to_proto(s.district),
        open=s.open,
        acknowledged=s.acknowledged,
        dispatched=s.dispatched,
        resolved=s.resolved,
        escalated=s.escalated,
        mean_time_to_acknowledge_s=s.mean_time_to_acknowledge_s,
        mean_time_to_resolve_s=s.mean_time_to_resolve_s,
    )
