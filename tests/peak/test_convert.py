"""The peak's messages from and to its domain, and the claims it sends governance."""

from __future__ import annotations

import pytest

from citymesh.api.governance.v1 import governance_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.peak import convert, domain, themes
from citymesh.peak.domain import Result, SceneKind
from citymesh.runtime.errors import InvalidArgument


def completed() -> domain.Project:
    project = domain.new_project("lake", "Lake", 1_000_00, True, "MEMS sensor", False, now_ms=1_000)
    project = domain.reach_milestone(domain.add_milestone(project, "pilot", 2_000), "pilot", 3_000)
    return domain.complete(project, Result.DEPLOYED_IN_ZONE, 4_000, "alibaba-cloud")


def test_a_project_message_carries_every_fact() -> None:
    done, contract = domain.record_contract(
        completed(), "c1", 500, "Client", "Luoyang", 5_000, "alibaba-cloud"
    )
    message = convert.project_message(done)
    assert message.state == pb.PROJECT_STATE_COMPLETED
    assert message.result == governance_pb2.PROJECT_RESULT_DEPLOYED_IN_ZONE
    assert message.completed_at.ToMilliseconds() == 4_000
    assert message.milestones[0].reached_at.ToMilliseconds() == 3_000
    assert message.subsidy_claim_id == "alibaba-cloud_lake_subsidy"
    assert message.contracts[0].claim_id == contract.claim_id
    active = convert.project_message(domain.new_project("p", "P", 1, False, "t", False, now_ms=1))
    assert not active.HasField("completed_at")
    assert active.result == governance_pb2.PROJECT_RESULT_UNSPECIFIED


def test_the_claims_carry_the_projects_facts() -> None:
    project = completed()
    subsidy = convert.subsidy_claim("alibaba-cloud", project)
    assert subsidy.kind == governance_pb2.AWARD_KIND_PROJECT_SUBSIDY
    assert subsidy.WhichOneof("facts") == "project_subsidy"
    assert subsidy.project == "alibaba-cloud/lake"
    assert subsidy.project_subsidy.total_investment_fen == 1_000_00
    assert subsidy.project_subsidy.local_enterprise
    assert subsidy.project_subsidy.result == governance_pb2.PROJECT_RESULT_DEPLOYED_IN_ZONE
    _, contract = domain.record_contract(project, "c1", 500, "Client", "Luoyang", 5_000, "alibaba-cloud")
    first = convert.first_application_claim("alibaba-cloud", project, contract)
    assert first.claim_id == "alibaba-cloud_lake_first_c1"
    assert (first.first_application.technology, first.first_application.contract_fen) == ("MEMS sensor", 500)


def test_enums_a_request_names_are_checked() -> None:
    assert convert.scene_kind(pb.SCENE_KIND_UNSPECIFIED) is None
    assert convert.scene_kind(pb.SCENE_KIND_ECOLOGY) is SceneKind.ECOLOGY
    with pytest.raises(InvalidArgument, match="kind 7"):
        convert.scene_kind(7)
    assert convert.result(governance_pb2.PROJECT_RESULT_COMPLETED) is Result.COMPLETED
    with pytest.raises(InvalidArgument, match="result 9"):
        convert.result(9)
    assert set(convert.THEME_TO) == set(themes.Theme)


def test_a_scene_message_has_its_place_and_windows() -> None:
    (scene, *_) = themes.scenes(themes.Theme.SENSOR_IOT, "gouzhao")
    message = convert.scene_message(scene)
    assert message.position.longitude == scene.lon
    assert message.kind == pb.SCENE_KIND_ECOLOGY
    assert [(w.open_minute, w.close_minute) for w in message.availability] == [(360, 1200)]
    assert list(message.availability[0].weekdays) == [1, 2, 3, 4, 5, 6, 7]
