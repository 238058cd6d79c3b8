"""The zone's sub-districts tile it: every point of the zone is in exactly one."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from citymesh import city

MIN_LON, MIN_LAT, MAX_LON, MAX_LAT = city.bounds()


def test_the_five_sub_districts_cover_about_99_km2() -> None:
    assert list(city.BOUNDARIES) == list(city.DISTRICTS)
    total = sum(d.area_km2 for d in city.BOUNDARIES.values())
    assert 95 < total < 103


@given(st.floats(MIN_LON, MAX_LON, exclude_max=True), st.floats(MIN_LAT, MAX_LAT, exclude_max=True))
def test_a_point_of_the_zone_is_in_exactly_one_sub_district(lon: float, lat: float) -> None:
    inside = [name for name, d in city.BOUNDARIES.items() if d.contains(lon, lat)]
    assert len(inside) == 1
    assert city.locate(lon, lat) == inside[0]


def test_points_on_shared_edges_and_vertices_belong_to_one_sub_district() -> None:
    for d in city.BOUNDARIES.values():
        for lon, lat in d.ring:
            if MIN_LON < lon < MAX_LON and MIN_LAT < lat < MAX_LAT:
                assert sum(o.contains(lon, lat) for o in city.BOUNDARIES.values()) == 1


def test_points_outside_the_zone_are_in_none() -> None:
    assert city.locate(MIN_LON - 0.01, 34.8) is None
    assert city.locate(113.5, MAX_LAT + 0.01) is None
    assert city.locate(float("nan"), 34.8) is None


def test_random_points_fall_in_the_district_asked_for() -> None:
    rng = np.random.default_rng(7)
    for name in city.DISTRICTS:
        lon, lat = city.random_point_in(name, rng)
        assert city.locate(lon, lat) == name
