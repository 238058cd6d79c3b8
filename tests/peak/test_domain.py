"""The peak's rules, as pure functions: device positions, scene windows and bookings, the project
lifecycle and its claims, and the themes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from citymesh.city import BOUNDARIES, DISTRICTS
from citymesh.compute.kernels import KERNELS
from citymesh.peak import domain, themes
from citymesh.peak.domain import (
    ZONE_TIME,
    Booking,
    BookingAsk,
    ProjectState,
    Result,
    Scene,
    SceneKind,
    Window,
)
from citymesh.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tests.peak.conftest import GOUZHAO, OUTSIDE, WUTONG

HOUR = 3_600_000


def at(year: int, month: int, day: int, hour: float = 0) -> int:
    """Unix ms of a zone-time (UTC+8) moment."""
    midnight = datetime(year, month, day, tzinfo=ZONE_TIME)
    return int(midnight.timestamp() * 1000 + hour * HOUR)


MONDAY = (2030, 1, 7)  # 2030-01-07 is a Monday
SATURDAY = (2030, 1, 12)
NOW = at(2030, 1, 1, 12)

SCENE = Scene(
    "road",
    "Test road",
    "arterial road",
    113.5,
    34.8,
    SceneKind.LIFE,
    10,
    (Window((1, 2, 3, 4, 5), 9 * 60, 17 * 60), Window((6,), 8 * 60, 24 * 60)),
)


def ask(start: int, end: int, project: str = "p1", participants: int = 5, purpose: str = "") -> BookingAsk:
    return BookingAsk("road", project, start, end, participants, purpose)


def test_a_device_position_is_located_or_refused() -> None:
    assert domain.device_district(*GOUZHAO) == "gouzhao"
    assert domain.device_district(*WUTONG) == "wutong"
    with pytest.raises(InvalidArgument, match="outside the zone"):
        domain.device_district(*OUTSIDE)
    with pytest.raises(InvalidArgument, match="finite"):
        domain.device_district(float("nan"), 34.8)


def test_a_window_admits_a_range_inside_it_on_its_days_in_zone_time() -> None:
    weekdays = SCENE.availability[0]
    assert weekdays.admits(at(*MONDAY, 9), at(*MONDAY, 17))
    assert not weekdays.admits(at(*MONDAY, 8.5), at(*MONDAY, 10))  # opens at 09:00
    assert not weekdays.admits(at(*MONDAY, 16), at(*MONDAY, 17.5))  # closes at 17:00
    assert not weekdays.admits(at(*SATURDAY, 10), at(*SATURDAY, 11))  # not on Saturday
    # 10:00 zone time is 02:00 UTC: the window is in zone time, not UTC.
    assert datetime.fromtimestamp(at(*MONDAY, 10) / 1000).astimezone(ZONE_TIME).hour == 10
    saturday = SCENE.availability[1]
    assert saturday.admits(at(*SATURDAY, 22), at(*SATURDAY, 24))  # until midnight
    assert not saturday.admits(at(*SATURDAY, 23), at(*SATURDAY, 25))  # not past it


def test_a_window_must_open_before_it_closes_on_real_days() -> None:
    with pytest.raises(InvalidArgument, match="weekdays"):
        Window((0,), 0, 60)
    with pytest.raises(InvalidArgument, match="opens before it closes"):
        Window((1,), 600, 600)
    with pytest.raises(InvalidArgument, match="opens before it closes"):
        Window((1,), 0, 24 * 60 + 1)


def test_bookings_of_a_scene_do_not_overlap() -> None:
    bookings, first, new = domain.book(SCENE, [], ask(at(*MONDAY, 10), at(*MONDAY, 12)), NOW, "b1", "t")
    assert new
    assert bookings == [first]
    with pytest.raises(FailedPrecondition, match="booked from 2030-01-07 10:00 to 2030-01-07 12:00") as info:
        domain.book(SCENE, bookings, ask(at(*MONDAY, 11), at(*MONDAY, 13), "p2"), NOW, "b2", "t")
    assert "project p1 (booking b1)" in str(info.value)
    with pytest.raises(FailedPrecondition):  # one inside the other
        domain.book(SCENE, bookings, ask(at(*MONDAY, 10.5), at(*MONDAY, 11), "p2"), NOW, "b2", "t")
    # Back to back is not an overlap: ranges are half-open.
    after, _, new = domain.book(SCENE, bookings, ask(at(*MONDAY, 12), at(*MONDAY, 13)), NOW, "b2", "t")
    assert new
    assert [b.booking_id for b in after] == ["b1", "b2"]
    before, _, _ = domain.book(SCENE, after, ask(at(*MONDAY, 9), at(*MONDAY, 10)), NOW, "b3", "t")
    assert [b.booking_id for b in before] == ["b3", "b1", "b2"]  # in start order


def test_the_same_booking_again_is_the_first_one() -> None:
    bookings, first, _ = domain.book(SCENE, [], ask(at(*MONDAY, 10), at(*MONDAY, 12)), NOW, "b1", "t")
    again, same, new = domain.book(SCENE, bookings, ask(at(*MONDAY, 10), at(*MONDAY, 12)), NOW, "b9", "t")
    assert not new
    assert same == first
    assert again == bookings


@pytest.mark.parametrize(
    ("start", "end", "participants", "match"),
    [
        (at(*MONDAY, 12), at(*MONDAY, 11), 1, "end must be after start"),
        (NOW - HOUR, NOW, 1, "in the past"),
        (at(2031, 6, 2, 10), at(2031, 6, 2, 11), 1, "366 days"),
        (at(*MONDAY, 10), at(*MONDAY, 11), 0, "admits 1 to 10"),
        (at(*MONDAY, 10), at(*MONDAY, 11), 11, "admits 1 to 10"),
        (at(*MONDAY, 18), at(*MONDAY, 19), 1, "not inside one availability window"),
        (at(*MONDAY, 16), at(2030, 1, 8, 10), 1, "not inside one availability window"),
    ],
)
def test_a_booking_is_refused_with_its_reason(start: int, end: int, participants: int, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        domain.book(SCENE, [], ask(start, end, participants=participants), NOW, "b1", "t")


def test_a_booking_is_cancelled_until_it_ends_and_old_ones_are_dropped() -> None:
    bookings, _, _ = domain.book(SCENE, [], ask(at(*MONDAY, 10), at(*MONDAY, 12)), NOW, "b1", "t")
    assert domain.cancel(bookings, "b1", NOW) == []
    with pytest.raises(NotFound, match="no booking 'b2'"):
        domain.cancel(bookings, "b2", NOW)
    with pytest.raises(FailedPrecondition, match="ended"):
        domain.cancel(bookings, "b1", at(*MONDAY, 13))
    # A month and more after it ended, the next booking drops it.
    later = at(2030, 2, 11, 10)
    kept, _, _ = domain.book(SCENE, bookings, ask(later, later + HOUR), later - 1, "b2", "t")
    assert [b.booking_id for b in kept] == ["b2"]


def test_scenes_and_bookings_survive_their_json() -> None:
    assert Scene.from_dict(SCENE.to_dict()) == SCENE
    booking = Booking("b1", "road", "p1", 1, 2, 3, "x", 4, "t")
    assert Booking.from_dict(booking.to_dict()) == booking


def project(**kw: object) -> domain.Project:
    values: dict[str, object] = {
        "project_id": "lake-sensing",
        "name": "Lake sensing",
        "investment_fen": 10_000_000_00,
        "local_enterprise": True,
        "technology": "MEMS water sensor",
        "leading_industry": True,
        "now_ms": NOW,
    }
    return domain.new_project(**(values | kw))  # type: ignore[arg-type]


def test_a_project_is_registered_once_with_its_facts() -> None:
    p = project()
    assert domain.register(None, p) is p
    assert domain.register(p, replace(p, registered_at_ms=NOW + 1)) is p
    with pytest.raises(AlreadyExists, match="different facts"):
        domain.register(p, project(investment_fen=1))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"project_id": "Lake"}, "project_id"),
        ({"project_id": "x" * 33}, "project_id"),
        ({"investment_fen": 0}, "investment_fen"),
        ({"name": " "}, "name is required"),
        ({"technology": "t" * 201}, "technology is 201 characters"),
    ],
)
def test_a_bad_project_is_refused(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        project(**kw)


def test_a_project_completes_once_its_milestones_are_reached() -> None:
    p = domain.add_milestone(project(), "prototype", NOW + HOUR)
    with pytest.raises(AlreadyExists):
        domain.add_milestone(p, "prototype", NOW)
    with pytest.raises(FailedPrecondition, match="milestones not reached: 'prototype'"):
        domain.complete(p, Result.COMPLETED, NOW, "alibaba-cloud")
    with pytest.raises(NotFound, match="no milestone 'pilot'"):
        domain.reach_milestone(p, "pilot", NOW)
    p = domain.reach_milestone(p, "prototype", NOW + 5)
    assert domain.reach_milestone(p, "prototype", NOW + 9) == p  # reached once
    with pytest.raises(InvalidArgument, match="result is required"):
        domain.complete(p, None, NOW, "alibaba-cloud")
    done = domain.complete(p, Result.DEPLOYED_IN_ZONE, NOW + 10, "alibaba-cloud")
    assert done.state is ProjectState.COMPLETED
    assert done.subsidy_claim_id == "alibaba-cloud_lake-sensing_subsidy"
    assert domain.complete(done, Result.DEPLOYED_IN_ZONE, NOW + 20, "alibaba-cloud") == done
    with pytest.raises(FailedPrecondition, match="completed as deployed-in-zone"):
        domain.complete(done, Result.COMPLETED, NOW, "alibaba-cloud")
    with pytest.raises(FailedPrecondition, match="is completed"):
        domain.add_milestone(done, "more", NOW)
    assert domain.Project.from_dict(done.to_dict()) == done


def test_a_contract_is_of_a_completed_project_and_recorded_once() -> None:
    with pytest.raises(FailedPrecondition, match="complete it first"):
        domain.record_contract(project(), "c1", 100, "Luoyang", "Luoyang", NOW, "alibaba-cloud")
    done = domain.complete(project(), Result.COMPLETED, NOW, "alibaba-cloud")
    with_contract, contract = domain.record_contract(
        done, "c1", 100, "Client", "Luoyang", NOW, "alibaba-cloud"
    )
    assert contract.claim_id == "alibaba-cloud_lake-sensing_first_c1"
    again, same = domain.record_contract(
        with_contract, "c1", 100, "Client", "Luoyang", NOW + 1, "alibaba-cloud"
    )
    assert (again, same) == (with_contract, contract)
    with pytest.raises(AlreadyExists, match="different facts"):
        domain.record_contract(with_contract, "c1", 200, "Client", "Luoyang", NOW, "alibaba-cloud")
    with pytest.raises(InvalidArgument, match="amount_fen"):
        domain.record_contract(done, "c2", 0, "Client", "Luoyang", NOW, "alibaba-cloud")


def test_claim_ids_fit_governance_for_the_longest_ids() -> None:
    tenant, project_id, contract_id = "t" * 63, "p" * 32, "c" * 24
    for claim_id in (
        domain.subsidy_claim_id(tenant, project_id),
        domain.first_application_claim_id(tenant, project_id, contract_id),
    ):
        assert len(claim_id) <= 128  # governance's CLAIM_ID: 1 to 128 of [A-Za-z0-9_-]


@pytest.mark.parametrize("district", DISTRICTS)
@pytest.mark.parametrize("theme", list(themes.Theme))
def test_every_themes_scenes_stand_inside_the_peaks_sub_district(district: str, theme: themes.Theme) -> None:
    scenes = themes.scenes(theme, district)
    assert len(scenes) == len({s.scene_id for s in scenes}) >= 3
    for scene in scenes:
        assert BOUNDARIES[district].contains(scene.lon, scene.lat), scene
        assert domain.SLUG.match(scene.scene_id)
        assert scene.capacity > 0
        assert scene.availability
    assert themes.scenes(theme, district) == scenes  # the same places at every start


def test_every_district_has_a_theme_and_every_theme_offers_real_kernels() -> None:
    assert set(themes.DEFAULT_THEME) == set(DISTRICTS)
    assert themes.theme_for("gouzhao") is themes.Theme.SENSOR_IOT
    assert themes.theme_for("fengyang") is themes.Theme.FIVE_G
    assert themes.theme_for("wutong") is themes.Theme.DIGITAL_GOVERNANCE
    assert themes.theme_for("gouzhao", "five-g") is themes.Theme.FIVE_G
    for theme, kernels in themes.KERNELS.items():
        assert set(kernels) <= set(KERNELS), theme
        assert {t.kind for t in themes.TEMPLATES[theme]} <= set(SceneKind)
