"""The simulated fleet: the seed's device counts, inside their districts, deterministic."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from citymesh.city import DISTRICTS, locate
from citymesh.simulator.fleet import OWNERS, SENSORS, Fleet, apportion


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.build(2020)


def test_fleet_has_the_seeds_2003_cameras_and_512_sensors(fleet: Fleet) -> None:
    kinds = Counter(d.kind for d in fleet.devices)
    assert kinds["camera"] == 2003
    assert sum(n for kind, n in kinds.items() if kind != "camera") == 512
    assert {kind: kinds[kind] for kind in SENSORS} == SENSORS


def test_every_district_has_devices_of_every_kind(fleet: Fleet) -> None:
    pairs = Counter((d.district, d.kind) for d in fleet.devices)
    for district in DISTRICTS:
        for kind in ("camera", *SENSORS):
            assert pairs[(district, kind)] > 0, (district, kind)


def test_every_device_stands_inside_its_district(fleet: Fleet) -> None:
    outside = [d.device_id for d in fleet.devices if locate(d.longitude, d.latitude) != d.district]
    assert outside == []


def test_device_ids_are_unique_valid_and_name_kind_and_district(fleet: Fleet) -> None:
    ids = [d.device_id for d in fleet.devices]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", i) for i in ids)
    assert "cam-gouzhao-0001" in ids
    assert "air-wutong-001" in ids
    for d in fleet.devices:
        assert d.device_id.split("-")[1] == d.district


def test_devices_belong_to_their_districts_peak_tenant(fleet: Fleet) -> None:
    for d in fleet.devices:
        assert d.owner_tenant == OWNERS[d.district]
    assert OWNERS["gouzhao"] == "alibaba-cloud"
    assert OWNERS["shifo"] == OWNERS["shuangqiao"] == ""


def test_the_same_seed_builds_the_same_fleet(fleet: Fleet) -> None:
    assert Fleet.build(2020).devices == fleet.devices


def test_another_seed_moves_the_devices_but_keeps_their_ids(fleet: Fleet) -> None:
    other = Fleet.build(7)
    assert [d.device_id for d in other.devices] == [d.device_id for d in fleet.devices]
    assert [d.longitude for d in other.devices] != [d.longitude for d in fleet.devices]


def test_reporting_periods_are_10_s_for_cameras_and_60_s_for_sensors(fleet: Fleet) -> None:
    for d in fleet.devices:
        assert d.period_ms == (10_000 if d.kind == "camera" else 60_000)
        assert 0 <= d.phase_ms < d.period_ms
    assert fleet.readings_per_second() == pytest.approx(2003 / 10 + 512 / 60)


@pytest.mark.parametrize("streams", [0, 1, 3, 5, 12])
def test_split_gives_every_device_to_exactly_one_gateway(fleet: Fleet, streams: int) -> None:
    parts = fleet.split(streams)
    assert len(parts) == (5 if streams == 0 else streams)
    ids = [d.device_id for part in parts.values() for d in part.devices]
    assert sorted(ids) == sorted(d.device_id for d in fleet.devices)


def test_split_by_default_gives_each_district_its_own_gateway(fleet: Fleet) -> None:
    for district, part in fleet.split().items():
        assert {d.district for d in part.devices} == {district}


def test_apportion_keeps_the_total_and_the_proportions() -> None:
    assert apportion(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(apportion(2003, {"a": 3.3, "b": 1.7, "c": 9.1}).values()) == 2003
