"""The incident rules: a small YAML format, parsed and checked here (docs/governance.md has it in full).

    rules:
      - id: pm25-5min-mean          # unique: letters, digits, '-', '_', '.'
        type: air-quality           # the incident type: correlation and routing go by it
        kind: air                   # the device kind whose readings it reads (citymesh.city.KINDS)
        aggregate: mean             # value (each reading) | mean | max | min over window_s
        window_s: 300               # required for mean/max/min, absent for value
        above: 75                   # or `below:`; in the kind's unit, inside its physical range
        severity: major             # minor | major | critical
        description: PM2.5 5-minute mean above 75 µg/m³
        cooldown_s: 300             # optional (default 300): a device triggers it once per cooldown
      - id: fire-detected           # a detection rule: camera detections (EVENTS), not readings
        type: fire
        detection: fire             # the label (citymesh.city.DETECTION_LABELS), instead of kind
        min_confidence: 0.7         # in [0, 1]: the detection's confidence at least this
        min_count: 0                # optional (default 0: any): the detection's count at least this
        severity: critical
        description: fire seen by a camera
        cooldown_s: 300             # optional (default 300): a camera triggers it once per cooldown
    correlation:                    # optional; these are the defaults
      radius_m: 1000                # a trigger joins an unresolved incident of its type this close...
      window_s: 1800                # ...that was last triggered this recently
    sla:                            # optional; per severity, defaults below
      critical: {acknowledge_s: 300, resolve_s: 3600}

Anything else (an unknown key, a wrong type, a threshold no device of the kind can reach) is a
RulesError naming the file, the rule and the field, so a typo fails the start, not the city.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from citymesh.city import DETECTION_LABELS, KINDS
from citymesh.runtime.errors import InvalidArgument

BUILTIN = "built-in"
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_COOLDOWN_S = 300.0
MAX_WINDOW_S = 24 * 3600.0
SUB_BUCKETS = 5
"""A window is kept as this many sub-buckets (a 5-minute window as five 1-minute ones)."""


class RulesError(InvalidArgument):
    """The rules file is not valid; the message names where and why."""


class Severity(IntEnum):
    MINOR = 1
    MAJOR = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.upper()]


class Aggregate(StrEnum):
    VALUE = "value"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    kind: str
    aggregate: Aggregate
    window_s: float
    threshold: float
    above: bool
    severity: Severity
    description: str
    cooldown_s: float = DEFAULT_COOLDOWN_S

    @property
    def sub_bucket_ms(self) -> int:
        """Milliseconds of one sub-bucket of the window (0 for `value`)."""
        return 0 if self.aggregate is Aggregate.VALUE else max(1, round(self.window_s * 1000 / SUB_BUCKETS))

    def breaches(self, value: float) -> bool:
        return value > self.threshold if self.above else value < self.threshold

    @property
    def measure(self) -> str:
        """What its trigger values are: readings of its kind."""
        return self.kind


@dataclass(frozen=True)
class DetectionRule:
    """A rule over camera detections: a detection of `label` with a confidence of at least
    `min_confidence` (and a count of at least `min_count`, when above 0) triggers it. Its trigger's
    value is the detection's confidence."""

    id: str
    type: str
    label: str
    min_confidence: float
    min_count: int
    severity: Severity
    description: str
    cooldown_s: float = DEFAULT_COOLDOWN_S
    kind: str = "camera"

    @property
    def threshold(self) -> float:
        return self.min_confidence

    @property
    def above(self) -> bool:
        return True

    @property
    def measure(self) -> str:
        return "confidence"

    def matches(self, label: str, confidence: float, count: int) -> bool:
        return label == self.label and confidence >= self.min_confidence and count >= self.min_count


AnyRule = Rule | DetectionRule
"""What a trigger names: a rule over readings or over detections."""


@dataclass(frozen=True)
class Correlation:
    radius_m: float = 1000.0
    window_s: float = 1800.0


@dataclass(frozen=True)
class Sla:
    acknowledge_s: float
    resolve_s: float


DEFAULT_SLA = {
    Severity.CRITICAL: Sla(300.0, 3600.0),
    Severity.MAJOR: Sla(900.0, 4 * 3600.0),
    Severity.MINOR: Sla(3600.0, 24 * 3600.0),
}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    """The rules over readings (TELEMETRY), in the file's order."""
    correlation: Correlation = Correlation()
    sla: dict[Severity, Sla] = field(default_factory=lambda: dict(DEFAULT_SLA))
    source: str = BUILTIN
    detections: tuple[DetectionRule, ...] = ()
    """The rules over camera detections (EVENTS), in the file's order."""

    def rule(self, rule_id: str) -> AnyRule | None:
        return next((r for r in self.all() if r.id == rule_id), None)

    def all(self) -> tuple[AnyRule, ...]:
        """Every rule: those over readings, then those over detections."""
        return (*self.rules, *self.detections)


def _number(where: str, name: str, value: Any, *, positive: bool = False, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesError(f"{where}: {name} must be a number, not {value!r}")
    if positive and value <= 0:
        raise RulesError(f"{where}: {name} must be above 0, not {value}")
    if value < minimum:
        raise RulesError(f"{where}: {name} must be at least {minimum}, not {value}")
    return float(value)


def _mapping(
    where: str, value: Any, allowed: Collection[str], required: Collection[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected a mapping of {', '.join(sorted(allowed))}, not {value!r}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise RulesError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(allowed))}")
    missing = sorted(set(required) - set(value))
    if missing:
        raise RulesError(f"{where}: {missing[0]} is required")
    return value


RULE_KEYS = frozenset(
    ("id", "type", "kind", "aggregate", "window_s", "above", "below", "severity", "description", "cooldown_s")
)
DETECTION_KEYS = frozenset(
    ("id", "type", "detection", "min_confidence", "min_count", "severity", "description", "cooldown_s")
)


def _severity(where: str, value: Any) -> Severity:
    try:
        return Severity.parse(str(value))
    except KeyError:
        raise RulesError(
            f"{where}: severity {value!r}; one of {', '.join(s.label for s in Severity)}"
        ) from None


def _head(where: str, d: dict[str, Any]) -> tuple[str, str, str]:
    """(where, id, type) of a rule, both checked."""
    rule_id = str(d["id"])
    if not RULE_ID.match(rule_id):
        raise RulesError(f"{where}: id {rule_id!r}: 1 to 64 letters, digits, '.', '_' or '-'")
    where = f"{where} ({rule_id})"
    kind_type = str(d["type"])
    if not TYPE.match(kind_type):
        raise RulesError(f"{where}: type {kind_type!r}: lowercase letters, digits and dashes")
    return where, rule_id, kind_type


def _detection_rule(where: str, raw: dict[str, Any]) -> DetectionRule:
    d = _mapping(where, raw, DETECTION_KEYS, {"id", "type", "detection", "min_confidence", "severity"})
    where, rule_id, kind_type = _head(where, d)
    label = str(d["detection"])
    if label not in DETECTION_LABELS:
        raise RulesError(f"{where}: detection {d['detection']!r}; one of {', '.join(DETECTION_LABELS)}")
    confidence = _number(where, "min_confidence", d["min_confidence"])
    if confidence > 1:
        raise RulesError(f"{where}: min_confidence {confidence:g} can never trigger: confidences lie in 0..1")
    raw_count = d.get("min_count", 0)
    if isinstance(raw_count, bool) or not isinstance(raw_count, int) or raw_count < 0:
        raise RulesError(f"{where}: min_count must be a whole number of at least 0, not {raw_count!r}")
    if raw_count > KINDS["camera"].high:
        raise RulesError(
            f"{where}: min_count {raw_count} can never trigger: a camera counts at most {KINDS['camera'].high:g}"
        )
    severity = _severity(where, d["severity"])
    description = str(d.get("description") or "").strip()
    if not description:
        counted = f", {raw_count} or more" if raw_count else ""
        description = f"{label.replace('_', ' ')} seen by a camera{counted} (confidence ≥ {confidence:g})"
    cooldown = _number(where, "cooldown_s", d.get("cooldown_s", DEFAULT_COOLDOWN_S))
    return DetectionRule(rule_id, kind_type, label, confidence, raw_count, severity, description, cooldown)


def _rule(where: str, raw: Any) -> AnyRule:
    if isinstance(raw, dict) and "detection" in raw:
        if "kind" in raw:
            raise RulesError(
                f"{where}: give kind (a rule over readings) or detection (a rule over camera detections), not both"
            )
        return _detection_rule(where, raw)
    d = _mapping(where, raw, RULE_KEYS, {"id", "type", "kind", "severity"})
    where, rule_id, kind_type = _head(where, d)
    kind = KINDS.get(str(d["kind"]))
    if kind is None:
        raise RulesError(f"{where}: kind {d['kind']!r}; one of {', '.join(KINDS)}")
    try:
        aggregate = Aggregate(str(d.get("aggregate", "value")))
    except ValueError:
        raise RulesError(
            f"{where}: aggregate {d.get('aggregate')!r}; one of {', '.join(a.value for a in Aggregate)}"
        ) from None
    if aggregate is Aggregate.VALUE:
        if "window_s" in d:
            raise RulesError(f"{where}: window_s is for mean, max or min; `value` reads each reading")
        window = 0.0
    else:
        if "window_s" not in d:
            raise RulesError(f"{where}: window_s is required for aggregate {aggregate.value}")
        window = _number(where, "window_s", d["window_s"], positive=True)
        if window > MAX_WINDOW_S:
            raise RulesError(f"{where}: window_s {window} is longer than a day")
    if ("above" in d) == ("below" in d):
        raise RulesError(f"{where}: give exactly one of above or below (the threshold)")
    above = "above" in d
    threshold = _number(
        where, "above" if above else "below", d["above" if above else "below"], minimum=-math.inf
    )
    reachable = kind.low <= threshold < kind.high if above else kind.low < threshold <= kind.high
    if not reachable:
        raise RulesError(
            f"{where}: {'above' if above else 'below'} {threshold:g} can never trigger: {kind.name} readings "
            f"({kind.quantity}) lie in {kind.low:g}..{kind.high:g} {kind.unit}"
        )
    severity = _severity(where, d["severity"])
    description = str(d.get("description") or "").strip()
    if not description:
        window_text = f" {window:g} s {aggregate.value}" if window else ""
        description = (
            f"{kind.quantity}{window_text} {'above' if above else 'below'} {threshold:g} {kind.unit}"
        )
    cooldown = _number(where, "cooldown_s", d.get("cooldown_s", DEFAULT_COOLDOWN_S))
    return Rule(
        rule_id, kind_type, kind.name, aggregate, window, threshold, above, severity, description, cooldown
    )


def parse(text: str, source: str = BUILTIN) -> RuleSet:
    """The rule set of a rules file's text; RulesError says what is wrong and where."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{source}: not valid YAML{at}: {problem}") from None
    top = _mapping(source, doc, {"rules", "correlation", "sla"}, {"rules"})
    raw_rules = top["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: rules must be a non-empty list of rules")
    rules = tuple(_rule(f"{source}: rules[{i}]", r) for i, r in enumerate(raw_rules))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RulesError(f"{source}: rule id {r.id!r} is used twice")
        seen.add(r.id)
    correlation = Correlation()
    if top.get("correlation") is not None:
        where = f"{source}: correlation"
        c = _mapping(where, top["correlation"], {"radius_m", "window_s"})
        correlation = Correlation(
            radius_m=_number(where, "radius_m", c.get("radius_m", correlation.radius_m), positive=True),
            window_s=_number(where, "window_s", c.get("window_s", correlation.window_s), positive=True),
        )
    sla = dict(DEFAULT_SLA)
    if top.get("sla") is not None:
        raw_sla = _mapping(f"{source}: sla", top["sla"], {s.label for s in Severity})
        for name, value in raw_sla.items():
            where = f"{source}: sla.{name}"
            s = _mapping(where, value, {"acknowledge_s", "resolve_s"}, {"acknowledge_s", "resolve_s"})
            ack = _number(where, "acknowledge_s", s["acknowledge_s"], positive=True)
            resolve = _number(where, "resolve_s", s["resolve_s"], positive=True)
            if resolve < ack:
                raise RulesError(f"{where}: resolve_s ({resolve:g}) is shorter than acknowledge_s ({ack:g})")
            sla[Severity.parse(name)] = Sla(ack, resolve)
    return RuleSet(
        tuple(r for r in rules if isinstance(r, Rule)),
        correlation,
        sla,
        source,
        tuple(r for r in rules if isinstance(r, DetectionRule)),
    )


def builtin() -> RuleSet:
    """The rules shipped beside this module (rules.yaml)."""
    text = resources.files(__package__).joinpath("rules.yaml").read_text(encoding="utf-8")
    return parse(text, BUILTIN)


def load(path: str) -> RuleSet:
    """The rules of a file, or the built-in ones when `path` is empty."""
    if not path:
        return builtin()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read the rules file {path}: {exc.strerror or exc}") from exc
    return parse(text, path)
