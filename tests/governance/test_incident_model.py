"""Incidents without a server: correlation, routing, the transitions and their guards, SLA
escalation, statistics, the responder units and the ETA models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from citymesh.city import DISTRICTS, locate
from citymesh.governance.incidents import model
from citymesh.governance.incidents.model import Eta, Incident, State
from citymesh.governance.incidents.rules import Correlation, Rule, Severity
from citymesh.governance.incidents.units import (
    ARTERIAL_KMH,
    LOCAL_KMH,
    STRAIGHT_LINE_KMH,
    UNITS,
    distance_m,
    responsible_unit,
    road_model,
    straight_line_s,
)
from citymesh.runtime.errors import FailedPrecondition, InvalidArgument
from tests.governance.incident_harness import CROWD, FLOOD, HEAVY, PM25, RULES, T0, near, trigger

CORRELATION = Correlation(radius_m=1000.0, window_s=1800.0)
GOUZHAO_POINT = (113.485, 34.790)


def opened(
    lon: float = GOUZHAO_POINT[0], lat: float = GOUZHAO_POINT[1], rule: Rule = PM25, now: int = T0
) -> Incident:
    t = trigger(rule, lon, lat, now)
    return model.open_incident(
        "inc-000000000001", t, responsible_unit(t.district, rule.type), RULES.sla[rule.severity], now
    )


def test_an_incident_is_routed_to_its_districts_unit_for_its_type_with_its_sla() -> None:
    incident = opened()
    assert (incident.district, incident.type, incident.unit_id) == (
        "gouzhao",
        "air-quality",
        "gouzhao-environment",
    )
    assert (incident.state, incident.severity, incident.triggers) == (State.OPEN, Severity.MAJOR, 1)
    assert incident.acknowledge_due_ms == T0 + 900_000
    assert incident.resolve_due_ms == T0 + 4 * 3_600_000
    flood = opened(*near(113.575, 34.825), rule=FLOOD)
    assert (flood.district, flood.unit_id) == ("wutong", "wutong-water")


def test_the_record_keeps_the_fields_others_read_and_survives_json() -> None:
    incident = opened()
    raw = incident.to_json()
    import json

    record = json.loads(raw)
    for key in ("id", "district", "type", "severity", "state", "opened_ms", "acknowledged_ms", "resolved_ms"):
        assert key in record
    assert (record["severity"], record["state"], record["acknowledged_ms"], record["resolved_ms"]) == (
        "major",
        "open",
        0,
        0,
    )
    assert Incident.from_json(raw) == incident
    assert Incident.from_json(raw[:-1] + b', "added_later": 1}') == incident


def test_a_trigger_of_the_same_type_near_and_recent_joins_the_incident() -> None:
    incident = opened()
    close = trigger(PM25, *near(*GOUZHAO_POINT, east_m=600), T0 + 600_000, value=120.0, device="air-2")
    assert model.correlate([incident], close, CORRELATION) == incident
    joined = model.join(incident, close, RULES.sla)
    assert (joined.triggers, joined.device_ids, joined.peak_value, joined.version) == (
        2,
        ("air-1", "air-2"),
        120.0,
        2,
    )
    assert joined.last_seen_ms == T0 + 600_000


@pytest.mark.parametrize(
    ("why", "other"),
    [
        ("another type", trigger(CROWD, *near(*GOUZHAO_POINT, east_m=100), T0)),
        ("beyond the radius", trigger(PM25, *near(*GOUZHAO_POINT, east_m=1200), T0)),
        ("after the window", trigger(PM25, *near(*GOUZHAO_POINT, east_m=100), T0 + 1801_000)),
    ],
)
def test_a_trigger_that_does_not_correlate_opens_another_incident(why: str, other: model.Trigger) -> None:
    assert model.correlate([opened()], other, CORRELATION) is None, why


def test_a_resolved_incident_is_joined_by_nothing_and_the_nearest_open_one_wins() -> None:
    first = opened()
    resolved = model.resolve(first, "alibaba-cloud", "cleared", T0 + 1)
    t = trigger(PM25, *near(*GOUZHAO_POINT, east_m=100), T0 + 1)
    assert model.correlate([resolved], t, CORRELATION) is None
    far = replace(opened(*near(*GOUZHAO_POINT, east_m=900)), id="inc-000000000002")
    assert model.correlate([far, first], t, CORRELATION) == first


def test_a_more_severe_trigger_raises_the_severity_and_tightens_the_deadlines() -> None:
    incident = opened()
    heavy = trigger(HEAVY, *near(*GOUZHAO_POINT, north_m=200), T0 + 60_000, value=180.0)
    joined = model.join(incident, heavy, RULES.sla)
    assert (joined.severity, joined.rule_id, joined.threshold) == (
        Severity.CRITICAL,
        "pm25-5min-heavy",
        150.0,
    )
    assert (joined.acknowledge_due_ms, joined.resolve_due_ms) == (T0 + 300_000, T0 + 3_600_000)


def test_acknowledge_dispatch_resolve_and_their_guards() -> None:
    incident = opened()
    unit = UNITS["gouzhao-environment"]
    acked = model.acknowledge(incident, "alibaba-cloud", T0 + 5_000)
    with pytest.raises(FailedPrecondition, match="alibaba-cloud already acknowledged it"):
        model.acknowledge(acked, "zone", T0 + 6_000)
    sent = model.dispatch(acked, "zone", unit, Eta(240.0, "straight-line"), T0 + 7_000)
    assert (sent.state, sent.acknowledged_by, sent.dispatched_by, sent.eta_s) == (
        State.DISPATCHED,
        "alibaba-cloud",
        "zone",
        240.0,
    )
    with pytest.raises(FailedPrecondition, match="zone already dispatched gouzhao-environment"):
        model.dispatch(sent, "alibaba-cloud", unit, Eta(1.0, "x"), T0 + 8_000)
    done = model.resolve(sent, "alibaba-cloud", "  construction dust; site watered  ", T0 + 9_000)
    assert (done.state, done.resolution, done.resolved_ms) == (
        State.RESOLVED,
        "construction dust; site watered",
        T0 + 9_000,
    )
    with pytest.raises(FailedPrecondition, match="resolved already"):
        model.resolve(done, "zone", "again", T0 + 10_000)


def test_a_dispatch_to_an_open_incident_acknowledges_it() -> None:
    sent = model.dispatch(opened(), "zone", UNITS["gouzhao-environment"], Eta(1.0, "x"), T0 + 42_000)
    assert (sent.acknowledged_ms, sent.acknowledged_by) == (T0 + 42_000, "zone")


@pytest.mark.parametrize("note", ["", "   ", "\n\t"])
def test_closure_is_refused_without_a_resolution_note(note: str) -> None:
    with pytest.raises(InvalidArgument, match="a resolution note is required"):
        model.resolve(opened(), "zone", note, T0 + 1)
    with pytest.raises(InvalidArgument, match="at most 2000"):
        model.resolve(opened(), "zone", "x" * 2001, T0 + 1)


def test_escalation_when_the_sla_is_overdue_once_per_level() -> None:
    incident = opened(rule=FLOOD)  # critical: acknowledge within 5 min, resolve within 1 h
    assert model.escalation(incident, T0 + 300_000) is None
    first = model.escalation(incident, T0 + 300_001)
    assert first is not None
    assert first.escalation_level == 1
    reason = "not acknowledged within 5 min (critical SLA); escalated to the sub-district's duty chief"
    assert first.escalation_reason == reason
    assert model.escalation(first, T0 + 600_000) is None
    acked = model.acknowledge(first, "zone", T0 + 600_000)
    assert model.escalation(acked, T0 + 3_600_000) is None
    second = model.escalation(acked, T0 + 3_600_001)
    assert second is not None
    assert second.escalation_level == 2
    assert "escalated to the zone command center" in second.escalation_reason
    assert model.escalation(second, T0 + 9_000_000) is None
    assert model.escalation(model.resolve(acked, "zone", "pumped", T0 + 3_600_001), T0 + 9_000_000) is None


def test_an_incident_acknowledged_in_time_is_not_escalated_for_it() -> None:
    acked = model.acknowledge(opened(rule=FLOOD), "zone", T0 + 60_000)
    assert model.escalation(acked, T0 + 301_000) is None


def test_mean_times_to_acknowledge_and_resolve_per_district() -> None:
    a = model.resolve(model.acknowledge(opened(), "x", T0 + 60_000), "x", "done", T0 + 600_000)
    b = model.acknowledge(replace(opened(), id="inc-000000000002"), "x", T0 + 180_000)
    c = replace(opened(*near(113.575, 34.825)), id="inc-000000000003", escalation_level=1)
    stats = {s.district: s for s in model.stats([a, b, c])}
    assert list(stats) == list(DISTRICTS)
    g = stats["gouzhao"]
    assert (g.open, g.acknowledged, g.resolved, g.escalated) == (0, 1, 1, 0)
    assert g.mean_time_to_acknowledge_s == pytest.approx(120.0)
    assert g.mean_time_to_resolve_s == pytest.approx(600.0)
    w = stats["wutong"]
    assert (w.open, w.escalated, w.mean_time_to_acknowledge_s, w.mean_time_to_resolve_s) == (1, 1, 0.0, 0.0)


def test_every_unit_is_stationed_in_its_district_and_each_district_has_one_per_specialty() -> None:
    for unit in UNITS.values():
        assert locate(unit.lon, unit.lat) == unit.district, unit.id
    for district in DISTRICTS:
        assert responsible_unit(district, "air-quality") == UNITS[f"{district}-environment"]
        assert responsible_unit(district, "flood") == UNITS[f"{district}-water"]
        assert responsible_unit(district, "crowd") == UNITS[f"{district}-public-security"]
        assert responsible_unit(district, "gas-leak") == UNITS[f"{district}-emergency"]


def test_the_straight_line_eta_is_the_distance_at_the_documented_speed() -> None:
    unit = UNITS["gouzhao-environment"]
    lon, lat = near(unit.lon, unit.lat, north_m=2500)
    assert distance_m(unit.lon, unit.lat, lon, lat) == pytest.approx(2500, rel=1e-3)
    assert straight_line_s(unit, lon, lat) == pytest.approx(2500 / (STRAIGHT_LINE_KMH / 3.6), rel=1e-3)


def test_the_road_model_is_a_grid_over_the_zone_with_arterials() -> None:
    roads = road_model()
    assert roads.nodes > 1000
    assert len(roads.edge_from) == len(roads.edge_to) == len(roads.edge_time_s)
    assert roads.edge_from.max() < roads.nodes
    speeds = sorted(set((250.0 / roads.edge_time_s * 3.6).round(6)))
    assert speeds == [LOCAL_KMH, ARTERIAL_KMH]
    node, seconds = roads.nearest(*GOUZHAO_POINT)
    assert 0 <= node < roads.nodes
    assert seconds < 250.0 / (LOCAL_KMH / 3.6)


def test_a_transitions_event_rides_in_the_record_until_it_is_published() -> None:
    import json

    incident = model.recorded(opened(), "opened", "governance", T0 + 5)
    (pending,) = incident.outbox
    assert (pending.msg_id, pending.subject, pending.version) == ("incident-inc-000000000001-1", "gouzhao", 0)
    assert pending.event["type"] == "incident.opened"
    assert pending.event["incident"]["id"] == incident.id
    assert "outbox" not in pending.event["incident"]  # an event does not carry the events
    assert (pending.event["actor"], pending.event["at_ms"]) == ("governance", T0 + 5)
    assert Incident.from_json(incident.to_json()) == incident  # stored with the record

    acked = model.recorded(
        model.acknowledge(incident, "alibaba-cloud", T0 + 9), "acknowledged", "alibaba-cloud", T0 + 9
    )
    assert [p.msg_id for p in acked.outbox] == ["incident-inc-000000000001-1", "incident-inc-000000000001-2"]
    assert json.loads(acked.to_json())["outbox"][1]["event"]["incident"]["state"] == "acknowledged"
    cleared = model.published(acked, {"incident-inc-000000000001-1"})
    assert cleared is not None
    assert [p.msg_id for p in cleared.outbox] == ["incident-inc-000000000001-2"]
    assert cleared.version == acked.version  # clearing is no transition
    assert model.published(cleared, {"incident-inc-000000000001-1"}) is None


def test_a_detection_joins_an_incident_of_its_type_without_mixing_its_measure() -> None:
    from citymesh.governance.incidents.rules import builtin

    rules = builtin()
    crowd_seen, fire_seen = rules.rule("crowd-detected"), rules.rule("fire-detected")
    assert crowd_seen is not None
    assert fire_seen is not None
    counted = opened(rule=CROWD)  # a camera's count above 120
    counted = replace(counted, peak_value=150.0)
    point = near(*GOUZHAO_POINT, east_m=50)
    joined = model.join(counted, model.Trigger(crowd_seen, "cam-2", "gouzhao", *point, T0, 0.95), RULES.sla)
    assert (joined.triggers, joined.peak_value, joined.measure) == (2, 150.0, "camera")  # a count, not 0.95

    fire = model.open_incident(
        "inc-000000000003",
        model.Trigger(fire_seen, "cam-3", "gouzhao", *GOUZHAO_POINT, T0, 0.7),
        responsible_unit("gouzhao", "fire"),
        RULES.sla[fire_seen.severity],
        T0,
    )
    assert (fire.severity, fire.unit_id, fire.measure, fire.peak_value, fire.threshold) == (
        Severity.CRITICAL,
        "gouzhao-emergency",
        "confidence",
        0.7,
        0.6,
    )
    surer = model.join(fire, model.Trigger(fire_seen, "cam-4", "gouzhao", *point, T0 + 1, 0.93), RULES.sla)
    assert (surer.peak_value, surer.device_ids) == (0.93, ("cam-3", "cam-4"))
