"""Conversions between citymesh.peak.v1 messages (and the governance claims a peak submits) and the
peak's domain."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import governance_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.convert import timestamp_ms
from citymesh.peak import domain
from citymesh.peak.domain import Booking, BookingAsk, Contract, Milestone, Project, Result, Scene, SceneKind
from citymesh.peak.themes import Theme
from citymesh.runtime.errors import InvalidArgument

THEME_TO = {
    Theme.SENSOR_IOT: pb.THEME_SENSOR_IOT,
    Theme.FIVE_G: pb.THEME_FIVE_G,
    Theme.DIGITAL_GOVERNANCE: pb.THEME_DIGITAL_GOVERNANCE,
}
KIND_TO = {
    SceneKind.LIFE: pb.SCENE_KIND_LIFE,
    SceneKind.PRODUCTION: pb.SCENE_KIND_PRODUCTION,
    SceneKind.ECOLOGY: pb.SCENE_KIND_ECOLOGY,
}
KIND_FROM = {v: k for k, v in KIND_TO.items()}
STATE_TO = {
    domain.ProjectState.ACTIVE: pb.PROJECT_STATE_ACTIVE,
    domain.ProjectState.COMPLETED: pb.PROJECT_STATE_COMPLETED,
}
RESULT_TO = {
    Result.COMPLETED: governance_pb2.PROJECT_RESULT_COMPLETED,
    Result.DEPLOYED_IN_ZONE: governance_pb2.PROJECT_RESULT_DEPLOYED_IN_ZONE,
}
RESULT_FROM = {v: k for k, v in RESULT_TO.items()}


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def scene_kind(value: int) -> SceneKind | None:
    """The kind a request asks for (None: any); INVALID_ARGUMENT for a value the contract lacks."""
    if value == pb.SCENE_KIND_UNSPECIFIED:
        return None
    if value not in KIND_FROM:
        raise InvalidArgument(f"kind {value}: one of life (1), production (2), ecology (3), or unset")
    return KIND_FROM[value]  # type: ignore[index]


def scene_message(scene: Scene) -> pb.Scene:
    return pb.Scene(
        scene_id=scene.scene_id,
        name=scene.name,
        place=scene.place,
        position=common_pb2.GeoPoint(longitude=scene.lon, latitude=scene.lat),
        kind=KIND_TO[scene.kind],
        capacity=scene.capacity,
        availability=[
            pb.AvailabilityWindow(
                weekdays=list(w.weekdays), open_minute=w.open_minute, close_minute=w.close_minute
            )
            for w in scene.availability
        ],
        description=scene.description,
    )


def booking_ask(request: pb.BookSceneRequest) -> BookingAsk:
    if not request.scene_id:
        raise InvalidArgument("scene_id is required; ListScenes names the scenes")
    domain.check_project_id(request.project_id)
    if not (request.time_range.HasField("start") and request.time_range.HasField("end")):
        raise InvalidArgument("time_range with start and end is required")
    return BookingAsk(
        scene_id=request.scene_id,
        project_id=request.project_id,
        start_ms=timestamp_ms("time_range.start", request.time_range.start),
        end_ms=timestamp_ms("time_range.end", request.time_range.end),
        participants=request.participants,
        purpose=request.purpose,
    )


def booking_message(booking: Booking) -> pb.Booking:
    return pb.Booking(
        booking_id=booking.booking_id,
        scene_id=booking.scene_id,
        project_id=booking.project_id,
        time_range=common_pb2.TimeRange(start=timestamp(booking.start_ms), end=timestamp(booking.end_ms)),
        participants=booking.participants,
        purpose=booking.purpose,
        booked_at=timestamp(booking.booked_at_ms),
        booked_by=booking.booked_by,
    )


def new_project(request: pb.RegisterProjectRequest, now_ms: int) -> Project:
    return domain.new_project(
        request.project_id,
        request.name,
        request.investment_fen,
        request.local_enterprise,
        request.technology,
        request.leading_industry,
        now_ms,
    )


def result(value: int) -> Result | None:
    if value == governance_pb2.PROJECT_RESULT_UNSPECIFIED:
        return None
    if value not in RESULT_FROM:
        raise InvalidArgument(f"result {value}: completed (1) or deployed in the zone (2)")
    return RESULT_FROM[value]  # type: ignore[index]


def _milestone(m: Milestone) -> pb.Milestone:
    message = pb.Milestone(name=m.name, due=timestamp(m.due_ms))
    if m.reached_at_ms:
        message.reached_at.CopyFrom(timestamp(m.reached_at_ms))
    return message


def _contract(c: Contract) -> pb.Contract:
    return pb.Contract(
        contract_id=c.contract_id,
        amount_fen=c.amount_fen,
        client=c.client,
        place=c.place,
        recorded_at=timestamp(c.recorded_at_ms),
        claim_id=c.claim_id,
    )


def project_message(project: Project) -> pb.Project:
    message = pb.Project(
        project_id=project.project_id,
        name=project.name,
        investment_fen=project.investment_fen,
        local_enterprise=project.local_enterprise,
        technology=project.technology,
        leading_industry=project.leading_industry,
        state=STATE_TO[project.state],
        milestones=[_milestone(m) for m in project.milestones],
        registered_at=timestamp(project.registered_at_ms),
        subsidy_claim_id=project.subsidy_claim_id,
        contracts=[_contract(c) for c in project.contracts],
    )
    if project.completed_at_ms:
        message.completed_at.CopyFrom(timestamp(project.completed_at_ms))
    if project.result is not None:
        message.result = RESULT_TO[project.result]
    return message


def subsidy_claim(tenant: str, project: Project) -> governance_pb2.AwardClaim:
    """The project-subsidy claim of a completed project."""
    assert project.result is not None
    return governance_pb2.AwardClaim(
        claim_id=project.subsidy_claim_id,
        enterprise=tenant,
        project=domain.claim_project(tenant, project.project_id),
        kind=governance_pb2.AWARD_KIND_PROJECT_SUBSIDY,
        project_subsidy=governance_pb2.ProjectClaim(
            local_enterprise=project.local_enterprise,
            total_investment_fen=project.investment_fen,
            result=RESULT_TO[project.result],
            leading_industry=project.leading_industry,
        ),
    )


def first_application_claim(tenant: str, project: Project, contract: Contract) -> governance_pb2.AwardClaim:
    """The first-application claim of a contract applying the project's technology outside the zone."""
    return governance_pb2.AwardClaim(
        claim_id=contract.claim_id,
        enterprise=tenant,
        project=domain.claim_project(tenant, project.project_id),
        kind=governance_pb2.AWARD_KIND_FIRST_APPLICATION,
        first_application=governance_pb2.FirstApplicationClaim(
            technology=project.technology, contract_fen=contract.amount_fen
        ),
    )
