"""The digital-economy index as pure functions: what is counted for whom, and how it is scored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citymesh.governance import domain, index
from citymesh.governance.domain import AwardKind, Claim, Decision, PeakState
from citymesh.governance.index import DeviceRecord, Figures, IncidentRecord, Indicator, JobRecord

PEAKS = domain.seed_peaks(0)
CNY = 100


def decision(
    claim_id: str,
    enterprise: str,
    amount_cny: int,
    kind: AwardKind = AwardKind.PROJECT_SUBSIDY,
    project: str = "",
    **claim: Any,
) -> Decision:
    c = Claim(claim_id, enterprise, project or "p-" + claim_id, kind, **claim)
    return Decision(c, amount_cny > 0, amount_cny * CNY, kind.value, "")


def test_weights_sum_to_one_at_each_level() -> None:
    assert sum(index.WEIGHTS.values()) == pytest.approx(1.0)
    for parts in index.PARTS.values():
        assert sum(w for _, w in parts) == pytest.approx(1.0)


def test_figures_count_each_peak_its_district_its_tenant_and_its_awards() -> None:
    devices = [
        DeviceRecord("gouzhao", "camera"),
        DeviceRecord("gouzhao", "camera"),
        DeviceRecord("gouzhao", "air"),
        DeviceRecord("fengyang", "noise"),
        DeviceRecord("", "water"),  # outside every sub-district: the zone's only
    ]
    jobs = [
        JobRecord("alibaba-cloud", "succeeded", 10.0),
        JobRecord("alibaba-cloud", "failed", 2.0),
        JobRecord("alibaba-cloud", "running", 1.0),
        JobRecord("huawei", "succeeded", 4.0),
        JobRecord("zone", "succeeded", 100.0),
    ]
    incidents = [
        IncidentRecord("gouzhao", 1_000, 61_000, 301_000),  # acknowledged after 60 s, resolved after 300 s
        IncidentRecord("gouzhao", 1_000, 181_000, 0),  # 180 s
        IncidentRecord("gouzhao", 1_000),  # open
        IncidentRecord("shifo", 0, 0, 0),
    ]
    decisions = [
        decision("a", "Alibaba Cloud", 500, project="Lake sensors"),  # by enterprise name
        decision("b", "Zhengzhou Sensing", 300, project="Lake sensors", peak_id="tianjian-lake"),
        decision("c", "alibaba-cloud", 0),  # refused: not counted
        decision(
            "d",
            "Zhengzhou Sensing",
            700,
            kind=AwardKind.FIRST_APPLICATION,
            technology="gas",
            contract_fen=1,
            peak_id="fengyang-5g",
        ),
        decision("e", "Nobody Ltd", 50),  # no peak: the zone's own
    ]
    batches = {"gouzhao": 40, "fengyang": 10}
    per_peak, zone = index.figures(PEAKS, devices, batches, jobs, incidents, decisions)

    lake = per_peak["tianjian-lake"]
    assert (lake.devices, lake.cameras, lake.device_kinds, lake.telemetry_batches) == (3, 2, 2, 40)
    assert (lake.compute_jobs, lake.compute_jobs_succeeded, lake.compute_jobs_finished) == (3, 1, 2)
    assert lake.compute_core_seconds == 13.0
    assert (lake.incidents, lake.incidents_acknowledged, lake.incidents_resolved) == (3, 2, 1)
    assert lake.mean_time_to_acknowledge_s == 120.0
    assert lake.mean_time_to_resolve_s == 300.0
    assert (lake.awards_granted, lake.awarded_fen, lake.projects, lake.first_applications) == (
        2,
        800 * CNY,
        1,
        0,
    )

    fengyang = per_peak["fengyang-5g"]
    assert (fengyang.awards_granted, fengyang.first_applications, fengyang.compute_jobs) == (1, 1, 1)
    assert per_peak["shifo"].compute_jobs == 0  # no tenant yet: nobody's jobs are its
    assert per_peak["shifo"].incidents == 1

    assert (zone.devices, zone.device_kinds, zone.telemetry_batches) == (5, 4, 50)
    assert (zone.compute_jobs, zone.incidents, zone.awards_granted) == (5, 4, 4)
    assert zone.awarded_fen == 1_550 * CNY


def test_retired_peaks_get_no_index() -> None:
    peaks = {**PEAKS, "shifo": replace(PEAKS["shifo"], state=PeakState.RETIRED)}
    per_peak, _ = index.figures(peaks, [], {}, [], [], [])
    assert "shifo" not in per_peak
    units, _ = index.economy_index(peaks, per_peak, Figures())
    assert [u.peak_id for u in units] == ["tianjian-lake", "fengyang-5g", "digital-governance", "shuangqiao"]


def parts(u: index.UnitIndex) -> dict[str, index.SubScore]:
    return {p.name: p for i in u.indicators for p in i.parts}


def indicator(u: index.UnitIndex, which: Indicator) -> index.IndicatorScore:
    return next(i for i in u.indicators if i.indicator is which)


def test_target_and_relative_scoring() -> None:
    per_peak = {p: Figures() for p in PEAKS}
    per_peak["tianjian-lake"] = Figures(devices=250, device_kinds=3, telemetry_batches=100, awarded_fen=400)
    per_peak["fengyang-5g"] = Figures(devices=1_000, device_kinds=6, telemetry_batches=25, awarded_fen=100)
    zone = Figures(devices=1_250, device_kinds=6, telemetry_batches=125, awarded_fen=600)
    units, z = index.economy_index(PEAKS, per_peak, zone)
    lake, fengyang = parts(units[0]), parts(units[1])
    assert lake["device_density"].score == pytest.approx(250 / 500.6)
    assert fengyang["device_density"].score == 1.0  # capped at the target
    assert lake["sensing_breadth"].score == 0.5
    assert (lake["data_flow"].score, fengyang["data_flow"].score) == (1.0, 0.25)
    assert (lake["awarded_amount"].score, fengyang["awarded_amount"].score) == (1.0, 0.25)
    assert "best peak's" in fengyang["data_flow"].basis
    zone_parts = parts(z)
    assert zone_parts["device_density"].score == pytest.approx(1_250 / 2_503)
    assert zone_parts["data_flow"].score == pytest.approx(125 / (5 * 100))  # every peak at the best: 1
    assert zone_parts["awarded_amount"].score == pytest.approx(600 / (5 * 400))
    assert z.rank == 0
    # lake: infrastructure 62.5, industry 30 (amount only); fengyang: 81.3 and 7.5; the rest 0
    assert [u.score for u in units[:2]] == pytest.approx([(62.47 + 30) / 3, (81.25 + 7.5) / 3], abs=0.01)
    assert [u.rank for u in units] == [1, 2, 3, 3, 3]  # equal scores share a rank


def test_nothing_anywhere_scores_zero_not_full_marks() -> None:
    units, zone = index.economy_index(PEAKS, {p: Figures() for p in PEAKS}, Figures())
    for u in [*units, zone]:
        assert parts(u)["compute_jobs"].measured
        assert parts(u)["compute_jobs"].score == 0.0
        assert u.score == 0.0
    assert [u.rank for u in units] == [1] * 5


def test_without_incidents_governance_is_not_measured_and_the_rest_is_scaled_up() -> None:
    f = Figures(devices=501, device_kinds=6, telemetry_batches=10, compute_jobs=2, compute_jobs_finished=0)
    units, _ = index.economy_index(PEAKS, {p: f for p in PEAKS}, f)
    lake = units[0]
    governance = indicator(lake, Indicator.CITY_GOVERNANCE)
    assert not governance.measured
    assert governance.score == 0.0
    services = indicator(lake, Indicator.CITY_SERVICES)
    # compute_success (no finished job) and incident_resolution (no incident) are not measured:
    # compute_jobs (1.0, every peak is the best) carries the indicator alone.
    assert services.measured
    assert services.score == pytest.approx(100.0)
    assert lake.measured_weight == pytest.approx(0.75)
    infrastructure = indicator(lake, Indicator.INFRASTRUCTURE)
    industry = indicator(lake, Indicator.INDUSTRY_INTEGRATION)
    assert infrastructure.score == pytest.approx(100.0)
    assert lake.score == pytest.approx((infrastructure.score + services.score + industry.score) / 3)


def test_incident_handling_is_scored_against_shares_and_time_bounds() -> None:
    f = Figures(
        incidents=4,
        incidents_acknowledged=3,
        incidents_resolved=2,
        mean_time_to_acknowledge_s=1_800.0,  # twice the 15-minute bound
        mean_time_to_resolve_s=3_600.0,  # within the 4-hour bound
    )
    units, _ = index.economy_index(PEAKS, {p: f for p in PEAKS}, f)
    p = parts(units[0])
    assert p["incident_acknowledgement"].score == 0.75
    assert p["time_to_acknowledge"].score == 0.5
    assert p["time_to_resolve"].score == 1.0
    assert p["incident_resolution"].score == 0.5
    assert indicator(units[0], Indicator.CITY_GOVERNANCE).score == pytest.approx(
        100 * (0.4 * 0.75 + 0.3 * 0.5 + 0.3 * 1.0)
    )


counts = st.integers(min_value=0, max_value=10**9)


@given(
    st.lists(
        st.builds(
            Figures,
            devices=counts,
            device_kinds=st.integers(0, 6),
            telemetry_batches=counts,
            compute_jobs=counts,
            compute_jobs_succeeded=counts,
            compute_jobs_finished=counts,
            compute_core_seconds=st.floats(0, 1e12),
            incidents=counts,
            incidents_acknowledged=counts,
            incidents_resolved=counts,
            mean_time_to_acknowledge_s=st.floats(0, 1e9),
            mean_time_to_resolve_s=st.floats(0, 1e9),
            awarded_fen=counts,
            projects=counts,
            first_applications=counts,
        ),
        min_size=5,
        max_size=5,
    )
)
def test_every_score_stays_within_its_range(figures: list[Figures]) -> None:
    per_peak = dict(zip(PEAKS, figures, strict=True))
    zone = figures[0]
    units, z = index.economy_index(PEAKS, per_peak, zone)
    for u in [*units, z]:
        assert 0.0 <= u.score <= 100.0
        assert 0.0 <= u.measured_weight <= 1.0
        for i in u.indicators:
            assert 0.0 <= i.score <= 100.0
            for part in i.parts:
                assert 0.0 <= part.score <= 1.0 or not part.measured
