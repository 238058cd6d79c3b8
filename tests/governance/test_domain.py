"""The award policy and the peak lifecycle as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citymesh.governance import domain
from citymesh.governance.domain import (
    Actor,
    AwardKind,
    Claim,
    PeakState,
    ProjectResult,
    Recognised,
    RecognitionLevel,
    Transition,
)
from citymesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

ADMIN = Actor("zone", frozenset({"zone-admin"}))
CNY = 100


def fa(contract_cny: int, claim_id: str = "c1") -> Claim:
    return Claim(
        claim_id,
        "E",
        "",
        AwardKind.FIRST_APPLICATION,
        technology="MEMS gas sensor",
        contract_fen=contract_cny * CNY,
    )


@pytest.mark.parametrize(
    ("contract", "awarded"),
    [(10_000_000, 1_000_000), (12_000_000, 1_000_000), (5_000_000, 500_000), (9_999_990, 999_999)],
)
def test_first_application_is_a_tenth_of_the_contract_capped_at_a_million(
    contract: int, awarded: int
) -> None:
    d = domain.decide_first_application(fa(contract).validate(), None)
    assert d.granted
    assert d.amount_fen == awarded * CNY
    assert ("capped" in d.explanation) == (contract > 10_000_000)


def test_a_second_first_application_of_a_technology_is_refused() -> None:
    d = domain.decide_first_application(fa(5_000_000, "c2"), "c1")
    assert not d.granted
    assert d.amount_fen == 0
    assert "c1" in d.explanation


@pytest.mark.parametrize(
    ("result", "industry", "pct"),
    [
        (ProjectResult.COMPLETED, False, 40),
        (ProjectResult.DEPLOYED_IN_ZONE, False, 50),
        (ProjectResult.COMPLETED, True, 50),
        (ProjectResult.DEPLOYED_IN_ZONE, True, 60),
    ],
)
def test_project_subsidy_rate_follows_the_documented_criteria(
    result: ProjectResult, industry: bool, pct: int
) -> None:
    claim = Claim("c", "E", "p", AwardKind.PROJECT_SUBSIDY, True, 2_000_000 * CNY, result, industry)
    d = domain.decide_project_subsidy(claim.validate())
    assert d.granted
    assert d.amount_fen == 2_000_000 * CNY * pct // 100
    assert f"{pct}%" in d.explanation


def test_a_non_local_enterprise_gets_no_project_subsidy() -> None:
    claim = Claim(
        "c", "E", "p", AwardKind.PROJECT_SUBSIDY, False, 2_000_000 * CNY, ProjectResult.DEPLOYED_IN_ZONE
    )
    d = domain.decide_project_subsidy(claim.validate())
    assert (d.granted, d.amount_fen) == (False, 0)
    assert "not a local enterprise" in d.explanation


@given(st.integers(1, 10**15), st.sampled_from(list(ProjectResult)), st.booleans())
def test_project_subsidy_stays_between_40_and_60_percent_in_whole_fen(
    investment: int, result: ProjectResult, industry: bool
) -> None:
    claim = Claim("c", "E", "p", AwardKind.PROJECT_SUBSIDY, True, investment, result, industry)
    amount = domain.decide_project_subsidy(claim).amount_fen
    assert isinstance(amount, int)
    assert investment * 40 // 100 <= amount <= investment * 60 // 100


def rec(level: RecognitionLevel, claim_id: str = "r") -> Claim:
    return Claim(claim_id, "E", "Smart Lamp Posts", AwardKind.RECOGNITION, level=level)


def test_recognition_levels_do_not_stack_and_a_higher_one_pays_the_difference() -> None:
    d1, after = domain.decide_recognition(rec(RecognitionLevel.MUNICIPAL), None)
    assert d1.amount_fen == 500_000 * CNY
    assert after == Recognised(
        RecognitionLevel.MUNICIPAL, 500_000 * CNY, {"r": (d1.amount_fen, d1.explanation)}
    )
    assert domain.decide_recognition(rec(RecognitionLevel.MUNICIPAL), after) == (
        d1,
        None,
    )  # the same claim again
    d2, after2 = domain.decide_recognition(rec(RecognitionLevel.NATIONAL, "r2"), after)
    assert d2.amount_fen == 500_000 * CNY  # 1,000,000 less the 500,000 paid
    assert after2 is not None
    assert after2.paid_fen == 1_000_000 * CNY
    d3, after3 = domain.decide_recognition(rec(RecognitionLevel.PROVINCIAL, "r3"), after2)
    assert (d3.granted, d3.amount_fen, after3) == (False, 0, None)
    assert "do not stack" in d3.explanation


def test_claims_are_validated() -> None:
    with pytest.raises(InvalidArgument, match="claim_id"):
        Claim("bad id!", "E", "p", AwardKind.RECOGNITION, level=RecognitionLevel.NATIONAL).validate()
    with pytest.raises(InvalidArgument, match="contract_fen"):
        fa(0).validate()
    with pytest.raises(InvalidArgument, match="level"):
        Claim("c", "E", "p", AwardKind.RECOGNITION).validate()


def test_technology_names_are_compared_loosely() -> None:
    assert domain.technology_guard_key("MEMS Gas-Sensor") == domain.technology_guard_key(" mems gas_sensor ")


def test_money_prints_in_cny() -> None:
    assert domain.cny(100_000_000) == "1,000,000.00 CNY"


# --- lifecycle ---------------------------------------------------------------------------------


def seed() -> dict[str, domain.Peak]:
    return domain.seed_peaks(0)


def test_the_seed_has_three_active_peaks_and_two_under_negotiation() -> None:
    peaks = domain.ordered(seed())
    assert [(p.district, p.enterprise, p.state) for p in peaks] == [
        ("gouzhao", "Alibaba Cloud", PeakState.ACTIVE),
        ("fengyang", "Huawei", PeakState.ACTIVE),
        ("wutong", "Unisplendour", PeakState.ACTIVE),
        ("shifo", "", PeakState.NEGOTIATING),
        ("shuangqiao", "", PeakState.NEGOTIATING),
    ]
    assert peaks[0].name == "Tianjian Lake Sensor-IoT Town"


def sign(peak_id: str = "shifo", tenant: str = "baidu") -> Transition:
    return Transition(peak_id, PeakState.SIGNED, "signed the agreement", tenant, "Baidu", "Shifo AI Town")


def test_the_zone_administrator_signs_a_negotiating_peak() -> None:
    peak = domain.transition(seed(), sign(), ADMIN, 5)
    assert (peak.state, peak.tenant, peak.enterprise, peak.version, peak.candidates) == (
        PeakState.SIGNED,
        "baidu",
        "Baidu",
        2,
        (),
    )


@pytest.mark.parametrize(
    ("peak_id", "target"),
    [("shifo", PeakState.SIGNED), ("tianjian-lake", PeakState.SUSPENDED)],
)
def test_only_the_zone_administrator_signs_or_suspends(peak_id: str, target: PeakState) -> None:
    t = Transition(peak_id, target, "why", "baidu", "Baidu")
    for actor in [Actor("alibaba-cloud", frozenset({"peak-admin"})), Actor("", frozenset())]:
        with pytest.raises(PermissionDenied, match="zone-admin"):
            domain.transition(seed(), t, actor, 1)


def test_only_the_zone_administrator_retires() -> None:
    peaks = seed()
    peaks["tianjian-lake"] = domain.transition(
        peaks, Transition("tianjian-lake", PeakState.SUSPENDED, "audit"), ADMIN, 1
    )
    with pytest.raises(PermissionDenied):
        domain.transition(
            peaks,
            Transition("tianjian-lake", PeakState.RETIRED, "x"),
            Actor("alibaba-cloud", frozenset({"peak-admin"})),
            2,
        )
    assert (
        domain.transition(peaks, Transition("tianjian-lake", PeakState.RETIRED, "x"), ADMIN, 2).state
        is PeakState.RETIRED
    )


def test_a_peak_admin_activates_its_own_signed_peak_but_not_another() -> None:
    peaks = seed()
    peaks["shifo"] = domain.transition(peaks, sign(), ADMIN, 1)
    activate = Transition("shifo", PeakState.ACTIVE, "opened")
    with pytest.raises(PermissionDenied):
        domain.transition(peaks, activate, Actor("tencent", frozenset({"peak-admin"})), 2)
    assert (
        domain.transition(peaks, activate, Actor("baidu", frozenset({"peak-admin"})), 2).state
        is PeakState.ACTIVE
    )


@pytest.mark.parametrize(
    ("peak_id", "target"),
    [
        ("shifo", PeakState.ACTIVE),  # negotiating → active skips signing
        ("tianjian-lake", PeakState.RETIRED),  # active → retired skips suspension
        ("tianjian-lake", PeakState.SIGNED),
        ("shifo", PeakState.SUSPENDED),
    ],
)
def test_transitions_outside_the_lifecycle_are_refused_with_the_allowed_ones(
    peak_id: str, target: PeakState
) -> None:
    with pytest.raises(FailedPrecondition, match="may go to"):
        domain.transition(seed(), Transition(peak_id, target, "why", "baidu", "Baidu"), ADMIN, 1)


def test_a_retired_peak_goes_nowhere() -> None:
    peaks = seed()
    for target in (PeakState.SUSPENDED, PeakState.RETIRED):
        peaks["fengyang-5g"] = domain.transition(peaks, Transition("fengyang-5g", target, "end"), ADMIN, 1)
    with pytest.raises(FailedPrecondition, match="none"):
        domain.transition(peaks, Transition("fengyang-5g", PeakState.ACTIVE, "again"), ADMIN, 2)


def test_a_sub_district_has_one_active_peak() -> None:
    peaks = seed()
    peaks["gouzhao-2"] = domain.Peak("gouzhao-2", "gouzhao", PeakState.SIGNED, "Second", "Tencent", "tencent")
    with pytest.raises(FailedPrecondition, match="already has an active peak"):
        domain.transition(peaks, Transition("gouzhao-2", PeakState.ACTIVE, "open"), ADMIN, 1)
    peaks["tianjian-lake"] = domain.transition(
        peaks, Transition("tianjian-lake", PeakState.SUSPENDED, "x"), ADMIN, 1
    )
    assert (
        domain.transition(peaks, Transition("gouzhao-2", PeakState.ACTIVE, "open"), ADMIN, 2).state
        is PeakState.ACTIVE
    )
    peaks["gouzhao-2"] = domain.transition(peaks, Transition("gouzhao-2", PeakState.ACTIVE, "open"), ADMIN, 2)
    with pytest.raises(FailedPrecondition, match="already has an active peak"):
        domain.transition(peaks, Transition("tianjian-lake", PeakState.ACTIVE, "resume"), ADMIN, 3)


def test_suspended_peaks_resume() -> None:
    p = seed()
    p["digital-governance"] = domain.transition(
        p, Transition("digital-governance", PeakState.SUSPENDED, "x"), ADMIN, 1
    )
    assert (
        domain.transition(p, Transition("digital-governance", PeakState.ACTIVE, "y"), ADMIN, 2).version == 3
    )


def test_a_tenant_holds_one_peak_and_signing_needs_a_tenant_and_a_reason() -> None:
    with pytest.raises(FailedPrecondition, match="already holds"):
        domain.transition(seed(), sign(tenant="huawei"), ADMIN, 1)
    with pytest.raises(InvalidArgument, match="tenant"):
        domain.transition(seed(), sign(tenant="Not A Slug"), ADMIN, 1)
    with pytest.raises(InvalidArgument, match="reason"):
        domain.transition(seed(), Transition("shifo", PeakState.SIGNED, " "), ADMIN, 1)
    with pytest.raises(NotFound):
        domain.transition(seed(), Transition("nowhere", PeakState.SIGNED, "x"), ADMIN, 1)
