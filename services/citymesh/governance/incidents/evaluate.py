"""Rules evaluated over batches of readings, vectorised with NumPy.

Devices are numbered by the caller (a slot per device); each rule keeps, per slot, its window as
SUB_BUCKETS sub-buckets (a 5-minute window as five 1-minute ones: sum and count for `mean`, the
extreme for `max`/`min`), a ring indexed by sub-bucket number modulo SUB_BUCKETS, and the newest
sub-bucket it has seen (its head). What a batch does, per rule:

- `value` rules compare every reading; a device triggers with its most extreme breaching reading.
- window rules first advance each touched device's head to the newest sub-bucket of its readings
  (clearing the sub-buckets that left the window), then add the readings that fall in the window
  (older ones are dropped), then compare the aggregate over the window with the threshold, once
  per device, at the time of its newest reading in the batch. A window is exact to a sub-bucket:
  it covers the sub-bucket of the newest reading and the SUB_BUCKETS − 1 before it.
- a device that triggered a rule does not trigger it again for the rule's cooldown (reading time).

Times are the readings' own (event time), so evaluation is deterministic and does not depend on
when a batch arrives. `reference` is the same meaning in plain Python, one reading at a time: the
tests hold the two equal, and `citymesh bench rules` uses it as the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from citymesh.city import KIND_NAMES
from citymesh.governance.incidents.rules import SUB_BUCKETS, Aggregate, DetectionRule, Rule

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
NO_HEAD = -(2**62)
"""The head of a device never seen: every sub-bucket is stale against any real one."""
NEVER = -(2**62)


def kind_code(kind: str) -> int:
    """The kind's number: the DeviceKind enum's (1..6), as the device registry stores it."""
    return KIND_NAMES.index(kind) + 1


@dataclass(frozen=True)
class Firings:
    """Rule triggers: rule index (into the evaluator's rules), device slot, time and the value that
    breached (the reading for `value`, the window's aggregate otherwise)."""

    rule: npt.NDArray[np.int32]
    slot: I64
    time_ms: I64
    value: F64

    def __len__(self) -> int:
        return len(self.rule)

    @staticmethod
    def empty() -> Firings:
        return Firings(
            np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        )

    @staticmethod
    def concat(parts: Sequence[Firings]) -> Firings:
        if not parts:
            return Firings.empty()
        return Firings(
            np.concatenate([p.rule for p in parts]),
            np.concatenate([p.slot for p in parts]),
            np.concatenate([p.time_ms for p in parts]),
            np.concatenate([p.value for p in parts]),
        )

    def rows(self) -> list[tuple[int, int, int, float]]:
        """(rule, slot, time, value) in a canonical order, for comparisons."""
        return sorted(
            zip(
                self.rule.tolist(),
                self.slot.tolist(),
                self.time_ms.tolist(),
                self.value.tolist(),
                strict=True,
            )
        )


@dataclass
class _State:
    """One rule's per-device state, grown as slots appear."""

    rule: Rule
    capacity: int = 0
    head: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    acc: F64 = field(default_factory=lambda: np.empty((0, SUB_BUCKETS)))
    count: I64 = field(default_factory=lambda: np.empty((0, SUB_BUCKETS), np.int64))
    last_fired: I64 = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def empty_value(self) -> float:
        return {Aggregate.MAX: -np.inf, Aggregate.MIN: np.inf}.get(self.rule.aggregate, 0.0)

    def grow(self, slots: int) -> None:
        if slots <= self.capacity:
            return
        new = max(slots, 2 * self.capacity, 64)
        extra = new - self.capacity
        self.head = np.concatenate([self.head, np.full(extra, NO_HEAD, np.int64)])
        self.acc = np.concatenate([self.acc, np.full((extra, SUB_BUCKETS), self.empty_value)])
        self.count = np.concatenate([self.count, np.zeros((extra, SUB_BUCKETS), np.int64)])
        self.last_fired = np.concatenate([self.last_fired, np.full(extra, NEVER, np.int64)])
        self.capacity = new


@dataclass(frozen=True)
class _Group:
    """The readings of one device kind in a batch, grouped by device."""

    slot: I64
    time_ms: I64
    value: F64
    devices: I64
    """The distinct slots, ascending."""
    index: I64
    """For each reading, the position of its slot in `devices`."""
    newest_ms: I64
    """For each device, the time of its newest reading."""


class Evaluator:
    """The rules' state over every device, advanced one batch at a time."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._states = [_State(r) for r in self.rules]
        self._codes = [kind_code(r.kind) for r in self.rules]

    def evaluate(self, slot: I64, kind: npt.NDArray[np.integer], time_ms: I64, value: F64) -> Firings:
        """Add a batch (for each reading: device slot, kind number, time, value); the triggers."""
        groups: dict[int, _Group | None] = {}
        parts: list[Firings] = []
        for index, (state, code) in enumerate(zip(self._states, self._codes, strict=True)):
            if code not in groups:
                groups[code] = _group(slot, kind, time_ms, value, code)
            group = groups[code]
            if group is None:
                continue
            state.grow(int(group.devices[-1]) + 1)
            if state.rule.aggregate is Aggregate.VALUE:
                fired = _evaluate_value(state, group)
            else:
                fired = _evaluate_window(state, group)
            if fired is not None:
                devices, times, values = fired
                parts.append(Firings(np.full(len(devices), index, np.int32), devices, times, values))
        return Firings.concat(parts)


def _group(slot: I64, kind: npt.NDArray[np.integer], time_ms: I64, value: F64, code: int) -> _Group | None:
    mask = kind == code
    if not mask.any():
        return None
    s, t, v = slot[mask], time_ms[mask], value[mask]
    devices, index = np.unique(s, return_inverse=True)
    newest = np.full(len(devices), NEVER, np.int64)
    np.maximum.at(newest, index, t)
    return _Group(s, t, v, devices, index.astype(np.int64), newest)


def _cooled(state: _State, devices: I64, times: I64, values: F64) -> tuple[I64, I64, F64] | None:
    """The triggers whose device is past the rule's cooldown; records them as fired."""
    cooldown_ms = round(state.rule.cooldown_s * 1000)
    ok = times - state.last_fired[devices] >= cooldown_ms
    if not ok.any():
        return None
    devices, times, values = devices[ok], times[ok], values[ok]
    state.last_fired[devices] = times
    return devices, times, values


def _evaluate_value(state: _State, g: _Group) -> tuple[I64, I64, F64] | None:
    rule = state.rule
    breach = g.value > rule.threshold if rule.above else g.value < rule.threshold
    if not breach.any():
        return None
    s, t, v = g.slot[breach], g.time_ms[breach], g.value[breach]
    # Per device, its most extreme breaching reading (the first of equals): sort by device, then
    # by extremeness; lexsort is stable.
    order = np.lexsort((-v if rule.above else v, s))
    s, t, v = s[order], t[order], v[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    return _cooled(state, s[first], t[first], v[first])


def _evaluate_window(state: _State, g: _Group) -> tuple[I64, I64, F64] | None:
    rule = state.rule
    n = len(g.devices)
    sub = rule.sub_bucket_ms
    bucket = g.time_ms // sub
    newest_bucket = np.full(n, NO_HEAD, np.int64)
    np.maximum.at(newest_bucket, g.index, bucket)
    old_head = state.head[g.devices]
    head = np.maximum(old_head, newest_bucket)
    # Position p of the ring holds sub-bucket old_head − ((old_head − p) mod B); it is stale once
    # that is at or before head − B.
    positions = np.arange(SUB_BUCKETS)
    held = old_head[:, None] - ((old_head[:, None] - positions) % SUB_BUCKETS)
    stale = held <= (head - SUB_BUCKETS)[:, None]
    acc = state.acc[g.devices]
    count = state.count[g.devices]
    acc[stale] = state.empty_value
    count[stale] = 0
    keep = bucket > head[g.index] - SUB_BUCKETS
    flat = g.index[keep] * SUB_BUCKETS + bucket[keep] % SUB_BUCKETS
    kept = g.value[keep]
    size = n * SUB_BUCKETS
    if rule.aggregate is Aggregate.MEAN:
        acc += np.bincount(flat, weights=kept, minlength=size).reshape(n, SUB_BUCKETS)
    elif rule.aggregate is Aggregate.MAX:
        np.maximum.at(acc.reshape(-1), flat, kept)
    else:
        np.minimum.at(acc.reshape(-1), flat, kept)
    count += np.bincount(flat, minlength=size).reshape(n, SUB_BUCKETS)
    state.head[g.devices] = head
    state.acc[g.devices] = acc
    state.count[g.devices] = count
    total = count.sum(axis=1)
    filled = total > 0
    if rule.aggregate is Aggregate.MEAN:
        with np.errstate(invalid="ignore", divide="ignore"):
            aggregate = acc.sum(axis=1) / total
    elif rule.aggregate is Aggregate.MAX:
        aggregate = acc.max(axis=1)
    else:
        aggregate = acc.min(axis=1)
    breach = filled & (aggregate > rule.threshold if rule.above else aggregate < rule.threshold)
    if not breach.any():
        return None
    return _cooled(state, g.devices[breach], g.newest_ms[breach], aggregate[breach])


# --- the reference: the same meaning, one reading at a time -------------------------------------


@dataclass
class _Device:
    head: int = NO_HEAD
    buckets: dict[int, list[float]] = field(default_factory=dict)
    """sub-bucket → [sum or extreme, count]"""
    last_fired: int = NEVER


class Reference:
    """The rules evaluated reading by reading in plain Python (dicts and loops)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._codes = [kind_code(r.kind) for r in self.rules]
        self._devices: list[dict[int, _Device]] = [{} for _ in self.rules]

    def evaluate(self, slot: I64, kind: npt.NDArray[np.integer], time_ms: I64, value: F64) -> Firings:
        readings = list(zip(slot.tolist(), kind.tolist(), time_ms.tolist(), value.tolist(), strict=True))
        rows: list[tuple[int, int, int, float]] = []
        for index, (rule, code) in enumerate(zip(self.rules, self._codes, strict=True)):
            by_device: dict[int, list[tuple[int, float]]] = {}
            for s, k, t, v in readings:
                if k == code:
                    by_device.setdefault(s, []).append((t, v))
            for s in sorted(by_device):
                device = self._devices[index].setdefault(s, _Device())
                fired = self._device(rule, device, by_device[s])
                if fired is not None:
                    t, v = fired
                    if t - device.last_fired >= round(rule.cooldown_s * 1000):
                        device.last_fired = t
                        rows.append((index, s, t, v))
        return Firings(
            np.array([r[0] for r in rows], np.int32),
            np.array([r[1] for r in rows], np.int64),
            np.array([r[2] for r in rows], np.int64),
            np.array([r[3] for r in rows], np.float64),
        )

    @staticmethod
    def _device(rule: Rule, device: _Device, readings: list[tuple[int, float]]) -> tuple[int, float] | None:
        if rule.aggregate is Aggregate.VALUE:
            best: tuple[int, float] | None = None
            for t, v in readings:
                if rule.breaches(v) and (best is None or (v > best[1] if rule.above else v < best[1])):
                    best = (t, v)
            return best
        sub = rule.sub_bucket_ms
        device.head = max(device.head, max(t // sub for t, _ in readings))
        oldest = device.head - SUB_BUCKETS
        device.buckets = {b: acc for b, acc in device.buckets.items() if b > oldest}
        for t, v in readings:
            b = t // sub
            if b <= oldest:
                continue
            acc = device.buckets.get(b)
            if acc is None:
                device.buckets[b] = [v, 1]
            elif rule.aggregate is Aggregate.MEAN:
                acc[0] += v
                acc[1] += 1
            else:
                acc[0] = max(acc[0], v) if rule.aggregate is Aggregate.MAX else min(acc[0], v)
                acc[1] += 1
        if not device.buckets:
            return None
        if rule.aggregate is Aggregate.MEAN:
            aggregate = sum(a[0] for a in device.buckets.values()) / sum(
                a[1] for a in device.buckets.values()
            )
        elif rule.aggregate is Aggregate.MAX:
            aggregate = max(a[0] for a in device.buckets.values())
        else:
            aggregate = min(a[0] for a in device.buckets.values())
        newest = max(t for t, _ in readings)
        return (newest, aggregate) if rule.breaches(aggregate) else None


# --- camera detections --------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """One camera detection as collection published it, placed (its camera's sub-district and
    position)."""

    device_id: str
    district: str
    lon: float
    lat: float
    time_ms: int
    label: str
    confidence: float
    count: int = 0


class DetectionMatcher:
    """The detection rules over detections, one at a time: a detection triggers each rule it
    matches (label, confidence, count), unless its camera triggered that rule within the rule's
    cooldown (detection time: a camera reports the same fire frame after frame)."""

    def __init__(self, rules: Sequence[DetectionRule]) -> None:
        self.rules = tuple(rules)
        self._last: dict[tuple[int, str], int] = {}

    def match(self, detections: Sequence[Detection]) -> list[tuple[DetectionRule, Detection]]:
        out = []
        for d in sorted(detections, key=lambda d: d.time_ms):
            for index, rule in enumerate(self.rules):
                if not rule.matches(d.label, d.confidence, d.count):
                    continue
                key = (index, d.device_id)
                last = self._last.get(key, NEVER)
                if d.time_ms - last < round(rule.cooldown_s * 1000):
                    continue
                self._last[key] = d.time_ms
                out.append((rule, d))
        return out
