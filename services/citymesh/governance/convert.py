"""Conversions between citymesh.governance.v1 messages and the governance domain."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.governance import index
from citymesh.governance.domain import (
    SLUG,
    AwardKind,
    Claim,
    Decision,
    Peak,
    PeakState,
    ProjectResult,
    RecognitionLevel,
    Transition,
)
from citymesh.runtime.errors import InvalidArgument

STATE_TO = {
    PeakState.NEGOTIATING: pb.PEAK_STATE_NEGOTIATING,
    PeakState.SIGNED: pb.PEAK_STATE_SIGNED,
    PeakState.ACTIVE: pb.PEAK_STATE_ACTIVE,
    PeakState.SUSPENDED: pb.PEAK_STATE_SUSPENDED,
    PeakState.RETIRED: pb.PEAK_STATE_RETIRED,
}
STATE_FROM = {v: k for k, v in STATE_TO.items()}
KIND_TO = {
    AwardKind.PROJECT_SUBSIDY: pb.AWARD_KIND_PROJECT_SUBSIDY,
    AwardKind.FIRST_APPLICATION: pb.AWARD_KIND_FIRST_APPLICATION,
    AwardKind.RECOGNITION: pb.AWARD_KIND_RECOGNITION,
}
KIND_FROM = {v: k for k, v in KIND_TO.items()}
RESULT_TO = {
    ProjectResult.COMPLETED: pb.PROJECT_RESULT_COMPLETED,
    ProjectResult.DEPLOYED_IN_ZONE: pb.PROJECT_RESULT_DEPLOYED_IN_ZONE,
}
RESULT_FROM = {v: k for k, v in RESULT_TO.items()}
LEVEL_TO = {
    RecognitionLevel.MUNICIPAL: pb.RECOGNITION_LEVEL_MUNICIPAL,
    RecognitionLevel.PROVINCIAL: pb.RECOGNITION_LEVEL_PROVINCIAL,
    RecognitionLevel.NATIONAL: pb.RECOGNITION_LEVEL_NATIONAL,
}
LEVEL_FROM = {v: k for k, v in LEVEL_TO.items()}
FACTS = {
    AwardKind.PROJECT_SUBSIDY: "project_subsidy",
    AwardKind.FIRST_APPLICATION: "first_application",
    AwardKind.RECOGNITION: "recognition",
}


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def peak_message(peak: Peak) -> pb.Peak:
    return pb.Peak(
        peak_id=peak.peak_id,
        name=peak.name,
        district=peak.district,
        enterprise=peak.enterprise,
        tenant=peak.tenant,
        state=STATE_TO[peak.state],
        candidates=list(peak.candidates),
        version=peak.version,
        updated_at=timestamp(peak.updated_at_ms),
        reason=peak.reason,
    )


def peak_id(value: str, required: bool = True) -> str:
    """A peak id from a request: lowercase letters, digits and dashes; empty only when optional."""
    if not value and not required:
        return ""
    if not SLUG.match(value):
        raise InvalidArgument(
            f"peak_id {value!r}: a peak id is lowercase letters, digits and dashes (ListPeaks names them)"
        )
    return value


def transition(request: pb.TransitionPeakRequest) -> Transition:
    if request.target not in STATE_FROM:
        raise InvalidArgument("target: a peak state (PEAK_STATE_SIGNED, _ACTIVE, _SUSPENDED or _RETIRED)")
    return Transition(
        peak_id=request.peak_id,
        target=STATE_FROM[request.target],
        reason=request.reason,
        tenant=request.tenant,
        enterprise=request.enterprise,
        name=request.name,
    )


def claim(message: pb.AwardClaim) -> Claim:
    if message.kind not in KIND_FROM:
        raise InvalidArgument("kind: AWARD_KIND_PROJECT_SUBSIDY, _FIRST_APPLICATION or _RECOGNITION")
    kind = KIND_FROM[message.kind]
    which = message.WhichOneof("facts")
    if which != FACTS[kind]:
        raise InvalidArgument(f"a {kind.value} claim carries `{FACTS[kind]}` facts, not {which or 'none'}")
    base = Claim(message.claim_id, message.enterprise, message.project, kind, peak_id=message.peak_id)
    if kind is AwardKind.PROJECT_SUBSIDY:
        p = message.project_subsidy
        return Claim(
            **{
                **base.__dict__,
                "local_enterprise": p.local_enterprise,
                "total_investment_fen": p.total_investment_fen,
                "result": RESULT_FROM.get(p.result),
                "leading_industry": p.leading_industry,
            }
        )
    if kind is AwardKind.FIRST_APPLICATION:
        f = message.first_application
        return Claim(**{**base.__dict__, "technology": f.technology, "contract_fen": f.contract_fen})
    return Claim(**{**base.__dict__, "level": LEVEL_FROM.get(message.recognition.level)})


def claim_message(c: Claim) -> pb.AwardClaim:
    m = pb.AwardClaim(
        claim_id=c.claim_id,
        enterprise=c.enterprise,
        project=c.project,
        kind=KIND_TO[c.kind],
        peak_id=c.peak_id,
    )
    if c.kind is AwardKind.PROJECT_SUBSIDY:
        m.project_subsidy.CopyFrom(
            pb.ProjectClaim(
                local_enterprise=c.local_enterprise,
                total_investment_fen=c.total_investment_fen,
                result=RESULT_TO[c.result] if c.result else pb.PROJECT_RESULT_UNSPECIFIED,
                leading_industry=c.leading_industry,
            )
        )
    elif c.kind is AwardKind.FIRST_APPLICATION:
        m.first_application.CopyFrom(
            pb.FirstApplicationClaim(technology=c.technology, contract_fen=c.contract_fen)
        )
    else:
        level = LEVEL_TO[c.level] if c.level else pb.RECOGNITION_LEVEL_UNSPECIFIED
        m.recognition.CopyFrom(pb.RecognitionClaim(level=level))
    return m


def decision_message(d: Decision) -> pb.AwardDecision:
    return pb.AwardDecision(
        claim=claim_message(d.claim),
        granted=d.granted,
        amount_fen=d.amount_fen,
        rule=d.rule,
        explanation=d.explanation,
        decided_at=timestamp(d.decided_at_ms),
        decided_by=d.decided_by,
    )


INDICATOR_TO = {
    index.Indicator.INFRASTRUCTURE: pb.ECONOMY_INDICATOR_INFRASTRUCTURE,
    index.Indicator.CITY_SERVICES: pb.ECONOMY_INDICATOR_CITY_SERVICES,
    index.Indicator.CITY_GOVERNANCE: pb.ECONOMY_INDICATOR_CITY_GOVERNANCE,
    index.Indicator.INDUSTRY_INTEGRATION: pb.ECONOMY_INDICATOR_INDUSTRY_INTEGRATION,
}


def figures_message(f: index.Figures) -> pb.PlatformFigures:
    return pb.PlatformFigures(**{name: getattr(f, name) for name in index.Figures.__dataclass_fields__})


def index_message(u: index.UnitIndex) -> pb.EconomyIndex:
    return pb.EconomyIndex(
        peak_id=u.peak_id,
        district=u.district,
        score=u.score,
        indicators=[
            pb.IndicatorScore(
                indicator=INDICATOR_TO[i.indicator],
                score=i.score,
                weight=i.weight,
                measured=i.measured,
                parts=[
                    pb.SubIndicatorScore(
                        name=p.name, score=p.score, weight=p.weight, measured=p.measured, basis=p.basis
                    )
                    for p in i.parts
                ],
            )
            for i in u.indicators
        ],
        figures=figures_message(u.figures),
        measured_weight=u.measured_weight,
        rank=u.rank,
    )


def index_response(
    peaks: list[index.UnitIndex], zone: index.UnitIndex | None, now_ms: int
) -> pb.GetEconomyIndexResponse:
    response = pb.GetEconomyIndexResponse(
        peaks=[index_message(u) for u in peaks], computed_at=timestamp(now_ms)
    )
    if zone is not None:
        response.zone.CopyFrom(index_message(zone))
    return response
