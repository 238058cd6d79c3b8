"""The incident rules: the YAML format and its errors, and the vectorised evaluation (held equal to
the plain-Python reference, and to what a 5-minute mean means)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citymesh.city import DETECTION_LABELS
from citymesh.governance.incidents.evaluate import (
    Detection,
    DetectionMatcher,
    Evaluator,
    Reference,
    kind_code,
)
from citymesh.governance.incidents.rules import (
    DEFAULT_SLA,
    Aggregate,
    DetectionRule,
    Rule,
    RulesError,
    Severity,
    builtin,
    load,
    parse,
)
from tests.governance.incident_harness import T0

MINUTE = 60_000
AIR = kind_code("air")


def rule(**overrides: object) -> Rule:
    base = {
        "id": "r",
        "type": "air-quality",
        "kind": "air",
        "aggregate": Aggregate.MEAN,
        "window_s": 300.0,
        "threshold": 75.0,
        "above": True,
        "severity": Severity.MAJOR,
        "description": "d",
        "cooldown_s": 300.0,
    }
    return Rule(**{**base, **overrides})  # type: ignore[arg-type]


def test_the_built_in_rules_cover_air_water_and_crowds() -> None:
    rules = builtin()
    pm25 = rules.rule("pm25-5min-mean")
    assert isinstance(pm25, Rule)
    assert (pm25.kind, pm25.aggregate, pm25.window_s, pm25.threshold, pm25.above) == (
        "air",
        Aggregate.MEAN,
        300.0,
        75.0,
        True,
    )
    assert {r.type for r in rules.rules} == {"air-quality", "flood", "crowd"}
    assert rules.sla == DEFAULT_SLA
    assert (rules.correlation.radius_m, rules.correlation.window_s) == (1000.0, 1800.0)


def test_a_rules_file_is_read_with_its_correlation_and_sla(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: cold, type: frost, kind: temperature, aggregate: min, window_s: 600, below: -5,"
        " severity: minor}\n"
        "correlation: {radius_m: 250}\n"
        "sla:\n  minor: {acknowledge_s: 60, resolve_s: 120}\n"
    )
    rules = load(str(path))
    (cold,) = rules.rules
    assert (cold.aggregate, cold.above, cold.threshold, cold.sub_bucket_ms) == (
        Aggregate.MIN,
        False,
        -5.0,
        120_000,
    )
    assert cold.description == "air temperature 600 s min below -5 °C"
    assert (rules.correlation.radius_m, rules.correlation.window_s) == (250.0, 1800.0)
    assert rules.sla[Severity.MINOR].resolve_s == 120.0
    assert rules.sla[Severity.CRITICAL] == DEFAULT_SLA[Severity.CRITICAL]
    assert rules.source == str(path)


GOOD = "- {id: a, type: air-quality, kind: air, aggregate: mean, window_s: 300, above: 75, severity: major}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rules: [\n  {id: a,\n", "not valid YAML at line 3"),
        ("rules: {id: a}", "rules must be a non-empty list"),
        ("rules: []", "rules must be a non-empty list"),
        ("- 1", "expected a mapping"),
        (f"rules:\n  {GOOD}\nrulez: 1", "unknown key 'rulez'"),
        ("rules:\n  - {id: a, type: air-quality, kind: air, above: 75}", "rules[0]: severity is required"),
        (
            "rules:\n  - {id: a, type: air-quality, kind: smog, above: 75, severity: major}",
            "kind 'smog'; one of camera, air",
        ),
        (
            "rules:\n  - {id: a, type: air-quality, kind: air, aggregate: median, window_s: 60, above: 75, severity: major}",
            "aggregate 'median'",
        ),
        (
            "rules:\n  - {id: a, type: air-quality, kind: air, aggregate: mean, above: 75, severity: major}",
            "window_s is required for aggregate mean",
        ),
        (
            "rules:\n  - {id: a, type: flood, kind: water, window_s: 60, above: 5, severity: major}",
            "window_s is for mean, max or min",
        ),
        (
            "rules:\n  - {id: a, type: flood, kind: water, above: 5, below: 1, severity: major}",
            "exactly one of above or below",
        ),
        (
            "rules:\n  - {id: a, type: flood, kind: water, above: 350, severity: major}",
            "above 350 can never trigger: water readings (water level) lie in -50..200 m",
        ),
        (
            "rules:\n  - {id: a, type: flood, kind: water, above: high, severity: major}",
            "above must be a number",
        ),
        (
            "rules:\n  - {id: a, type: flood, kind: water, above: 5, severity: severe}",
            "severity 'severe'; one of minor, major, critical",
        ),
        ("rules:\n  - {id: 'a b', type: flood, kind: water, above: 5, severity: major}", "id 'a b'"),
        ("rules:\n  - {id: a, type: Flood, kind: water, above: 5, severity: major}", "type 'Flood'"),
        (f"rules:\n  {GOOD}\n  {GOOD}", "rule id 'a' is used twice"),
        (f"rules:\n  {GOOD}\ncorrelation: {{radius_m: 0}}", "correlation: radius_m must be above 0"),
        (
            f"rules:\n  {GOOD}\nsla: {{major: {{acknowledge_s: 600, resolve_s: 60}}}}",
            "sla.major: resolve_s (60) is shorter than acknowledge_s (600)",
        ),
        (f"rules:\n  {GOOD}\nsla: {{urgent: {{acknowledge_s: 1, resolve_s: 2}}}}", "unknown key 'urgent'"),
    ],
)
def test_a_bad_rules_file_is_refused_saying_where_and_why(text: str, says: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse(text, "my-rules.yaml")
    assert str(caught.value).startswith("my-rules.yaml")
    assert says in str(caught.value)


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"cannot read the rules file .*nope.yaml"):
        load(str(tmp_path / "nope.yaml"))


def columns(rows: list[tuple[int, int, float]], kind: int = AIR) -> tuple[np.ndarray, ...]:  # type: ignore[type-arg]
    slot = np.array([r[0] for r in rows], np.int64)
    return (
        slot,
        np.full(len(rows), kind, np.uint8),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.float64),
    )


def test_a_five_minute_mean_above_the_threshold_triggers_once_per_cooldown() -> None:
    evaluator = Evaluator([rule()])
    # Device 0 reads 70 then 90 (mean 80 > 75); device 1 one spike of 200 among 40s (mean 72).
    first = evaluator.evaluate(*columns([(0, T0, 70.0), (1, T0, 40.0), (1, T0 + 1000, 40.0)]))
    assert len(first) == 0
    second = evaluator.evaluate(
        *columns([(0, T0 + MINUTE, 90.0), (1, T0 + MINUTE, 200.0), (1, T0 + MINUTE + 1, 8.0)])
    )
    assert second.rows() == [(0, 0, T0 + MINUTE, 80.0)]
    # Still above, but within the cooldown: no new trigger.
    assert len(evaluator.evaluate(*columns([(0, T0 + 2 * MINUTE, 90.0)]))) == 0
    # Six minutes on, the window holds only the newer readings; past the cooldown it triggers again.
    later = evaluator.evaluate(*columns([(0, T0 + 6 * MINUTE + 1, 100.0)]))
    assert later.rows() == [(0, 0, T0 + 6 * MINUTE + 1, 95.0)]


def test_readings_older_than_the_window_are_dropped_and_kinds_are_kept_apart() -> None:
    evaluator = Evaluator([rule(cooldown_s=0.0)])
    assert len(evaluator.evaluate(*columns([(0, T0 + 10 * MINUTE, 50.0)]))) == 0
    # A late reading of 500 from before the window is not counted.
    assert len(evaluator.evaluate(*columns([(0, T0, 500.0)]))) == 0
    # Readings of another kind on the same slot are not air readings.
    assert len(evaluator.evaluate(*columns([(0, T0 + 10 * MINUTE, 500.0)], kind=kind_code("noise")))) == 0


def test_a_value_rule_triggers_on_one_reading_with_the_most_extreme() -> None:
    water = rule(kind="water", aggregate=Aggregate.VALUE, window_s=0.0, threshold=6.0, type="flood")
    evaluator = Evaluator([water])
    fired = evaluator.evaluate(
        *columns([(3, T0, 5.0), (3, T0 + 1, 6.5), (3, T0 + 2, 6.2), (4, T0, 5.9)], kind=kind_code("water"))
    )
    assert fired.rows() == [(0, 3, T0 + 1, 6.5)]


batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 7),  # device slot
            st.sampled_from([kind_code("air"), kind_code("water"), kind_code("camera"), 0]),
            st.integers(-8 * MINUTE, 3 * MINUTE),  # time, relative to the batch's place
            st.integers(0, 200),  # whole values: sums are exact in both implementations
        ),
        min_size=0,
        max_size=40,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(batches)
def test_the_vectorised_evaluation_equals_the_reference(data: list[list[tuple[int, int, int, int]]]) -> None:
    rules = [
        rule(id="mean", cooldown_s=120.0, threshold=100.0),
        rule(
            id="max", aggregate=Aggregate.MAX, window_s=60.0, kind="camera", threshold=150.0, cooldown_s=0.0
        ),
        rule(id="min", aggregate=Aggregate.MIN, window_s=120.0, threshold=20.0, above=False, cooldown_s=30.0),
        rule(
            id="value",
            aggregate=Aggregate.VALUE,
            window_s=0.0,
            kind="water",
            threshold=150.0,
            cooldown_s=60.0,
        ),
    ]
    fast, slow = Evaluator(rules), Reference(rules)
    for i, batch in enumerate(data):
        slot = np.array([r[0] for r in batch], np.int64)
        kind = np.array([r[1] for r in batch], np.uint8)
        time = np.array([T0 + i * MINUTE + r[2] for r in batch], np.int64)
        value = np.array([r[3] for r in batch], np.float64)
        assert fast.evaluate(slot, kind, time, value).rows() == slow.evaluate(slot, kind, time, value).rows()


# --- detection rules ----------------------------------------------------------------------------


def test_the_built_in_detection_rules_make_a_fire_critical() -> None:
    rules = builtin()
    fire = rules.rule("fire-detected")
    assert isinstance(fire, DetectionRule)
    assert (fire.type, fire.label, fire.severity, fire.min_count) == ("fire", "fire", Severity.CRITICAL, 0)
    assert {r.label for r in rules.detections} == set(DETECTION_LABELS)
    assert all(isinstance(r, Rule) for r in rules.rules)  # what the readings evaluator gets
    assert [r.id for r in rules.all()] == [*(r.id for r in rules.rules), *(r.id for r in rules.detections)]


def test_a_detection_rule_is_read_with_its_defaults() -> None:
    rules = parse(
        f"rules:\n  {GOOD}\n"
        "  - {id: parked, type: parking, detection: illegal_parking, min_confidence: 0.8, min_count: 3,"
        " severity: minor, cooldown_s: 60}\n"
        "  - {id: fallen, type: medical, detection: person_fallen, min_confidence: 0.5, severity: major}\n"
    )
    parked, fallen = rules.detections
    assert (parked.label, parked.min_confidence, parked.min_count, parked.cooldown_s) == (
        "illegal_parking",
        0.8,
        3,
        60.0,
    )
    assert parked.description == "illegal parking seen by a camera, 3 or more (confidence ≥ 0.8)"
    assert (fallen.min_count, fallen.cooldown_s, fallen.threshold, fallen.above) == (0, 300.0, 0.5, True)
    assert [r.id for r in rules.rules] == ["a"]


DETECTION = "{id: d, type: fire, detection: fire, min_confidence: 0.6, severity: critical"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "{id: d, type: fire, detection: flames, min_confidence: 0.6, severity: critical}",
            "detection 'flames'; one of fire",
        ),
        (
            "{id: d, type: fire, detection: fire, min_confidence: 1.5, severity: critical}",
            "min_confidence 1.5 can never trigger",
        ),
        ("{id: d, type: fire, detection: fire, severity: critical}", "min_confidence is required"),
        (DETECTION + ", min_count: -1}", "min_count must be a whole number"),
        (DETECTION + ", min_count: 2.5}", "min_count must be a whole number"),
        (DETECTION + ", min_count: 20000}", "min_count 20000 can never trigger"),
        (DETECTION + ", kind: camera}", "give kind (a rule over readings) or detection"),
        (DETECTION + ", above: 3}", "unknown key 'above'"),
        (DETECTION.replace("critical", "urgent") + "}", "severity 'urgent'; one of minor"),
    ],
)
def test_a_bad_detection_rule_is_refused_saying_where_and_why(text: str, says: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse(f"rules:\n  - {text}", "my-rules.yaml")
    assert str(caught.value).startswith("my-rules.yaml: rules[0]")
    assert says in str(caught.value)


def sighting(
    label: str = "fire", confidence: float = 0.9, t: int = T0, count: int = 0, cam: str = "cam-1"
) -> Detection:
    return Detection(cam, "gouzhao", 113.485, 34.79, t, label, confidence, count)


def test_a_detection_triggers_the_rules_it_matches_once_per_cooldown_per_camera() -> None:
    rules = parse(
        "rules:\n"
        "  - {id: fire, type: fire, detection: fire, min_confidence: 0.6, severity: critical}\n"
        "  - {id: crowd, type: crowd, detection: crowd, min_confidence: 0.5, min_count: 200, severity: minor}\n"
    )
    matcher = DetectionMatcher(rules.detections)
    fire, crowd = rules.detections
    hits = matcher.match(
        [
            sighting(confidence=0.59),  # below the confidence
            sighting("smoke"),  # no rule for it
            sighting("crowd", count=199),  # too few
            sighting("crowd", count=200, t=T0 + 5),
            sighting(t=T0 + 10),
            sighting(t=T0 + 20),  # the same camera within the cooldown
            sighting(t=T0 + 30, cam="cam-2"),  # another camera
        ]
    )
    assert [(r.id, d.device_id, d.time_ms) for r, d in hits] == [
        ("crowd", "cam-1", T0 + 5),
        ("fire", "cam-1", T0 + 10),
        ("fire", "cam-2", T0 + 30),
    ]
    assert matcher.match([sighting(t=T0 + 10 + 299_999)]) == []
    assert [r for r, _ in matcher.match([sighting(t=T0 + 10 + 300_000)])] == [fire]
    assert crowd.matches("crowd", 0.5, 200)
    assert not crowd.matches("fire", 0.9, 500)
