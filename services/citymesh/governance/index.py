"""The digital-economy index of each peak and of the zone, from the platform's own figures.

The white paper scores cities on four first-level indicators: data & information infrastructure,
city services, city governance and industry integration. Here each is the weighted mean of a few
second-level indicators the platform can measure about a peak (its sub-district's devices,
telemetry and incidents; its tenant's compute jobs; its awards), each scored 0-1 in one of two
ways:

- **target**: the figure over a target taken from the seed or a stated bound, capped at 1
  (devices against the seed's 2,003 cameras + 500 sensing units spread over 5 sub-districts;
  shares against all; a mean time against a bound, scored bound / time);
- **relative**: the figure over the best peak's, as the white paper ranks cities against each
  other; for the zone, the zone's total over (number of peaks x the best peak's), capped at 1, so
  the zone scores 1 only when every peak is as far as the best. When no peak has any, every score
  is 0 (nothing happened anywhere is not an achievement).

An indicator that cannot be measured (a share of incidents where there were none) is left out,
and the weights of the measured ones are scaled up; `measured_weight` says how much was measured.
Pure: plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from citymesh.governance.domain import AwardKind, Decision, Peak, PeakState, claim_peak, ordered

SEED_CAMERAS = 2003
SEED_SENSORS = 500
SEED_DISTRICTS = 5
DEVICES_PER_PEAK = (SEED_CAMERAS + SEED_SENSORS) / SEED_DISTRICTS
"""500.6: the seed's cameras and sensing units, spread evenly over its sub-districts."""
ZONE_DEVICES = float(SEED_CAMERAS + SEED_SENSORS)
DEVICE_KINDS = 6
"""Camera, air, noise, water, traffic, temperature (citymesh.common.v1.DeviceKind)."""
ACKNOWLEDGE_BOUND_S = 15 * 60.0
"""A mean time to acknowledge within 15 minutes scores 1, 30 minutes 0.5 (the SLA of a `major`
incident, the middle severity of the incident rules)."""
RESOLVE_BOUND_S = 4 * 3600.0
"""A mean time to resolve within 4 hours scores 1, 8 hours 0.5 (again the `major` SLA)."""
CAMERA = "camera"


class Indicator(StrEnum):
    INFRASTRUCTURE = "infrastructure"
    CITY_SERVICES = "city-services"
    CITY_GOVERNANCE = "city-governance"
    INDUSTRY_INTEGRATION = "industry-integration"


WEIGHTS: dict[Indicator, float] = {
    Indicator.INFRASTRUCTURE: 0.25,
    Indicator.CITY_SERVICES: 0.25,
    Indicator.CITY_GOVERNANCE: 0.25,
    Indicator.INDUSTRY_INTEGRATION: 0.25,
}
"""Equal: the white paper names its four first-level indicators but not their weights."""

PARTS: dict[Indicator, tuple[tuple[str, float], ...]] = {
    Indicator.INFRASTRUCTURE: (("device_density", 0.5), ("sensing_breadth", 0.25), ("data_flow", 0.25)),
    Indicator.CITY_SERVICES: (
        ("compute_jobs", 0.4),
        ("compute_success", 0.3),
        ("incident_resolution", 0.3),
    ),
    Indicator.CITY_GOVERNANCE: (
        ("incident_acknowledgement", 0.4),
        ("time_to_acknowledge", 0.3),
        ("time_to_resolve", 0.3),
    ),
    Indicator.INDUSTRY_INTEGRATION: (
        ("awarded_amount", 0.3),
        ("projects", 0.3),
        ("first_applications", 0.2),
        ("compute_core_seconds", 0.2),
    ),
}
"""Each first-level indicator's second-level ones and their weights within it (they sum to 1)."""

RELATIVE: dict[str, str] = {
    "data_flow": "telemetry_batches",
    "compute_jobs": "compute_jobs",
    "awarded_amount": "awarded_fen",
    "projects": "projects",
    "first_applications": "first_applications",
    "compute_core_seconds": "compute_core_seconds",
}
"""The second-level indicators scored against the best peak, and the figure each reads."""


# --- the records the figures are counted from ----------------------------------------------------


@dataclass(frozen=True)
class DeviceRecord:
    district: str
    kind: str


@dataclass(frozen=True)
class JobRecord:
    tenant: str
    state: str
    core_seconds: float = 0.0


@dataclass(frozen=True)
class IncidentRecord:
    district: str
    opened_ms: int
    acknowledged_ms: int = 0
    resolved_ms: int = 0


JOB_FINISHED = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class Figures:
    """What the platform counted about one unit (a peak, or the zone)."""

    devices: int = 0
    cameras: int = 0
    device_kinds: int = 0
    telemetry_batches: int = 0
    compute_jobs: int = 0
    compute_jobs_succeeded: int = 0
    compute_jobs_finished: int = 0
    compute_core_seconds: float = 0.0
    incidents: int = 0
    incidents_acknowledged: int = 0
    incidents_resolved: int = 0
    mean_time_to_acknowledge_s: float = 0.0
    mean_time_to_resolve_s: float = 0.0
    awards_granted: int = 0
    awarded_fen: int = 0
    projects: int = 0
    first_applications: int = 0


def count(
    devices: Iterable[DeviceRecord],
    batches: dict[str, int],
    jobs: Iterable[JobRecord],
    incidents: Iterable[IncidentRecord],
    decisions: Iterable[Decision],
    *,
    districts: frozenset[str] | None,
    tenants: frozenset[str] | None,
    award_filter: frozenset[str] | None,
    peaks: dict[str, Peak],
) -> Figures:
    """The figures of the records in `districts` and of `tenants` (None: all of them), and of the
    granted decisions whose claim counts for a peak in `award_filter` (None: all)."""
    devs = [d for d in devices if districts is None or d.district in districts]
    job = [j for j in jobs if tenants is None or j.tenant in tenants]
    inc = [i for i in incidents if districts is None or i.district in districts]
    acked = [max(0, i.acknowledged_ms - i.opened_ms) for i in inc if i.acknowledged_ms > 0]
    resolved = [max(0, i.resolved_ms - i.opened_ms) for i in inc if i.resolved_ms > 0]
    granted = [
        d
        for d in decisions
        if d.granted and (award_filter is None or claim_peak(d.claim, peaks) in award_filter)
    ]
    return Figures(
        devices=len(devs),
        cameras=sum(d.kind == CAMERA for d in devs),
        device_kinds=len({d.kind for d in devs}),
        telemetry_batches=sum(n for d, n in batches.items() if districts is None or d in districts),
        compute_jobs=len(job),
        compute_jobs_succeeded=sum(j.state == "succeeded" for j in job),
        compute_jobs_finished=sum(j.state in JOB_FINISHED for j in job),
        compute_core_seconds=sum(j.core_seconds for j in job),
        incidents=len(inc),
        incidents_acknowledged=len(acked),
        incidents_resolved=len(resolved),
        mean_time_to_acknowledge_s=sum(acked) / len(acked) / 1000 if acked else 0.0,
        mean_time_to_resolve_s=sum(resolved) / len(resolved) / 1000 if resolved else 0.0,
        awards_granted=len(granted),
        awarded_fen=sum(d.amount_fen for d in granted),
        projects=len({d.claim.project.strip().casefold() for d in granted if d.claim.project.strip()}),
        first_applications=sum(d.claim.kind is AwardKind.FIRST_APPLICATION for d in granted),
    )


def indexed_peaks(peaks: dict[str, Peak]) -> list[Peak]:
    """The peaks that get an index: every one but the retired, in sub-district order."""
    return [p for p in ordered(peaks) if p.state is not PeakState.RETIRED]


def figures(
    peaks: dict[str, Peak],
    devices: Iterable[DeviceRecord],
    batches: dict[str, int],
    jobs: Iterable[JobRecord],
    incidents: Iterable[IncidentRecord],
    decisions: Iterable[Decision],
) -> tuple[dict[str, Figures], Figures]:
    """Each indexed peak's figures (its sub-district's devices, telemetry and incidents; its
    tenant's jobs; its awards), and the zone's (everything)."""
    devices, jobs, incidents, decisions = list(devices), list(jobs), list(incidents), list(decisions)
    per_peak = {
        p.peak_id: count(
            devices,
            batches,
            jobs,
            incidents,
            decisions,
            districts=frozenset({p.district}),
            tenants=frozenset({p.tenant}) if p.tenant else frozenset(),
            award_filter=frozenset({p.peak_id}),
            peaks=peaks,
        )
        for p in indexed_peaks(peaks)
    }
    zone = count(
        devices,
        batches,
        jobs,
        incidents,
        decisions,
        districts=None,
        tenants=None,
        award_filter=None,
        peaks=peaks,
    )
    return per_peak, zone


# --- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubScore:
    name: str
    score: float
    weight: float
    measured: bool
    basis: str


@dataclass(frozen=True)
class IndicatorScore:
    indicator: Indicator
    score: float
    """0-100."""
    weight: float
    measured: bool
    parts: tuple[SubScore, ...]


@dataclass(frozen=True)
class UnitIndex:
    peak_id: str
    """Empty for the zone."""
    district: str
    score: float
    """0-100."""
    indicators: tuple[IndicatorScore, ...]
    figures: Figures
    measured_weight: float = 0.0
    rank: int = 0
    """1 for the highest score among the peaks, equal scores sharing a rank; 0 for the zone."""


def _target(figure: float, target: float, what: str) -> tuple[float | None, str]:
    return min(1.0, figure / target), f"{figure:,.4g} of target {target:,.4g} {what}"


def _share(part: int, whole: int, what: str) -> tuple[float | None, str]:
    if whole == 0:
        return None, f"no {what}: not measured"
    return min(1.0, part / whole), f"{part:,} of {whole:,} {what}"


def _bound(seconds: float, bound: float, count: int, what: str) -> tuple[float | None, str]:
    if count == 0:
        return None, f"no {what}: not measured"
    score = 1.0 if seconds <= bound else bound / seconds
    return score, f"mean {seconds:,.0f} s against a bound of {bound:,.0f} s"


def _relative(figure: float, best: float, units: int, zone: bool) -> tuple[float | None, str]:
    if best <= 0:
        return 0.0, f"{figure:,.4g}; no peak has any yet"
    if zone:
        return min(1.0, figure / (units * best)), f"{figure:,.4g} of {units} x best peak's {best:,.4g}"
    return figure / best, f"{figure:,.4g} of best peak's {best:,.4g}"


def _part(name: str, f: Figures, best: dict[str, float], units: int, zone: bool) -> tuple[float | None, str]:
    if name in RELATIVE:
        return _relative(float(getattr(f, RELATIVE[name])), best[name], units, zone)
    if name == "device_density":
        return _target(f.devices, ZONE_DEVICES if zone else DEVICES_PER_PEAK, "devices")
    if name == "sensing_breadth":
        return _target(f.device_kinds, DEVICE_KINDS, "kinds of device")
    if name == "compute_success":
        return _share(f.compute_jobs_succeeded, f.compute_jobs_finished, "finished compute jobs")
    if name == "incident_resolution":
        return _share(f.incidents_resolved, f.incidents, "incidents resolved")
    if name == "incident_acknowledgement":
        return _share(f.incidents_acknowledged, f.incidents, "incidents acknowledged")
    if name == "time_to_acknowledge":
        return _bound(
            f.mean_time_to_acknowledge_s,
            ACKNOWLEDGE_BOUND_S,
            f.incidents_acknowledged,
            "acknowledged incidents",
        )
    if name == "time_to_resolve":
        return _bound(f.mean_time_to_resolve_s, RESOLVE_BOUND_S, f.incidents_resolved, "resolved incidents")
    raise KeyError(name)  # pragma: no cover - PARTS names only the indicators above


def _weighted(scored: list[tuple[float | None, float]]) -> tuple[float, float]:
    """(weighted mean of the measured scores, the share of the weight measured)."""
    measured = [(s, w) for s, w in scored if s is not None]
    weight = sum(w for _, w in measured)
    if weight == 0:
        return 0.0, 0.0
    return sum(s * w for s, w in measured) / weight, weight / sum(w for _, w in scored)


def score(f: Figures, best: dict[str, float], units: int, zone: bool) -> UnitIndex:
    """One unit's index (peak_id and district left empty)."""
    indicators = []
    for indicator, parts in PARTS.items():
        subs = []
        for name, weight in parts:
            value, basis = _part(name, f, best, units, zone)
            subs.append(SubScore(name, value if value is not None else 0.0, weight, value is not None, basis))
        mean, measured = _weighted([(s.score if s.measured else None, s.weight) for s in subs])
        indicators.append(
            IndicatorScore(indicator, 100 * mean, WEIGHTS[indicator], measured > 0, tuple(subs))
        )
    total, measured_weight = _weighted([(i.score if i.measured else None, i.weight) for i in indicators])
    return UnitIndex("", "", total, tuple(indicators), f, measured_weight)


def economy_index(
    peaks: dict[str, Peak], per_peak: dict[str, Figures], zone: Figures
) -> tuple[list[UnitIndex], UnitIndex]:
    """Each indexed peak's index (ranked by score) and the zone's."""
    units = indexed_peaks(peaks)
    best = {
        name: max((float(getattr(per_peak[p.peak_id], figure)) for p in units), default=0.0)
        for name, figure in RELATIVE.items()
    }
    scored = [
        replace(
            score(per_peak[p.peak_id], best, len(units), zone=False), peak_id=p.peak_id, district=p.district
        )
        for p in units
    ]
    rounded = [round(u.score, 6) for u in scored]
    ranked = [
        replace(u, rank=1 + sum(r > mine for r in rounded)) for u, mine in zip(scored, rounded, strict=True)
    ]
    return ranked, score(zone, best, max(1, len(units)), zone=True)
