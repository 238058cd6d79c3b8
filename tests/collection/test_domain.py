"""Validation of reading batches and device registration, without servers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citymesh import city
from citymesh.collection.domain import (
    Columns,
    Device,
    DeviceIndex,
    Limits,
    Reason,
    Writer,
    new_device,
    reconcile,
    select,
    validate,
)
from citymesh.runtime.errors import AlreadyExists, InvalidArgument

NOW = 1_790_000_000_000
LIMITS = Limits(max_readings=1000, max_clock_skew_ms=300_000, max_age_ms=7 * 86_400_000)


def index_with(*devices: tuple[str, str]) -> DeviceIndex:
    index = DeviceIndex()
    for device_id, kind in devices:
        index.put(Device(device_id, kind, 113.5, 34.8, "", "gouzhao", NOW))
    return index


def columns(ids: list[str], idx: list[int], t: list[int], v: list[float], batch_id: str = "b") -> Columns:
    return Columns(batch_id, ids, np.array(idx, np.int64), np.array(t, np.int64), np.array(v, np.float64))


def test_each_bad_reading_gets_its_own_reason_and_the_good_ones_pass() -> None:
    index = index_with(("air-1", "air"), ("noise-1", "noise"))
    c = columns(
        ["air-1", "noise-1", "ghost"],
        [0, 2, 0, 0, 0, 1, 7, 1],
        [NOW, NOW, NOW, NOW + 3_600_000, NOW - 30 * 86_400_000, NOW, NOW, NOW - 1000],
        [35.0, 1.0, float("nan"), 10.0, 10.0, 250.0, 1.0, 62.5],
    )
    verdict = validate(c, index, NOW, LIMITS)
    assert verdict.accepted.tolist() == [True, False, False, False, False, False, False, True]
    assert [(r.index, r.reason) for r in verdict.rejected] == [
        (1, Reason.UNKNOWN_DEVICE),
        (2, Reason.NOT_FINITE),
        (3, Reason.FUTURE_TIMESTAMP),
        (4, Reason.TOO_OLD),
        (5, Reason.VALUE_OUT_OF_RANGE),
        (6, Reason.BAD_DEVICE_INDEX),
    ]
    assert "ghost" in verdict.rejected[0].message
    assert "RegisterDevice" in verdict.rejected[0].message
    assert "[0, 194] dB(A)" in verdict.rejected[4].message
    assert verdict.districts() == [city.DISTRICTS.index("gouzhao")]


def test_infinite_values_are_not_finite_rather_than_out_of_range() -> None:
    verdict = validate(columns(["a"], [0], [NOW], [float("inf")]), index_with(("a", "air")), NOW, LIMITS)
    assert verdict.rejected[0].reason is Reason.NOT_FINITE


@pytest.mark.parametrize(
    ("c", "words"),
    [
        (columns(["a"], [0, 0], [NOW], [1.0, 2.0]), "differ in length"),
        (columns(["a"], [0] * 1001, [NOW] * 1001, [1.0] * 1001), "at most 1000"),
        (columns(["a"], [0], [NOW], [1.0], batch_id="has space"), "batch_id"),
        (columns(["a"], [0], [NOW], [1.0], batch_id=""), "batch_id"),
    ],
)
def test_a_malformed_batch_is_refused_as_a_whole(c: Columns, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        validate(c, index_with(("a", "air")), NOW, LIMITS)


def test_an_empty_batch_is_valid_and_stores_nothing() -> None:
    verdict = validate(columns([], [], [], []), DeviceIndex(), NOW, LIMITS)
    assert verdict.all_accepted
    assert verdict.districts() == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(NOW - 10 * 86_400_000, NOW + 600_000),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-100, 3000)),
        ),
        max_size=60,
    )
)
def test_every_reading_is_either_accepted_valid_or_rejected_once(
    rows: list[tuple[int, int, float]],
) -> None:
    index = index_with(("a", "air"), ("t", "temperature"))
    c = columns(["a", "t", "ghost"], [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    verdict = validate(c, index, NOW, LIMITS)
    rejected = {r.index for r in verdict.rejected}
    assert len(rejected) == len(verdict.rejected)
    assert rejected == set(np.flatnonzero(~verdict.accepted).tolist())
    for i in np.flatnonzero(verdict.accepted):
        kind = city.KINDS[["air", "temperature"][c.device_index[i]]]
        assert kind.low <= c.values[i] <= kind.high
        assert NOW - LIMITS.max_age_ms <= c.time_unix_ms[i] <= NOW + LIMITS.max_clock_skew_ms


def test_select_keeps_the_chosen_readings_and_only_the_devices_they_use() -> None:
    c = columns(["a", "b", "c"], [2, 0, 2, 1], [1, 2, 3, 4], [10.0, 20.0, 30.0, 40.0])
    part = select(c, np.array([True, False, True, False]))
    assert part.device_ids == ["c"]
    assert part.device_index.tolist() == [0, 0]
    assert part.values.tolist() == [10.0, 30.0]
    assert part.time_unix_ms.tolist() == [1, 3]


def test_a_device_is_placed_in_the_district_containing_it() -> None:
    d = new_device("air-7", "air", 113.56, 34.82, "unisplendour", NOW)
    assert d.district == "wutong"


@pytest.mark.parametrize(
    ("device_id", "kind", "lon", "lat", "words"),
    [
        ("air-7", "air", 113.0, 34.8, "outside the zone"),
        ("air-7", "air", 200.0, 34.8, "WGS84"),
        ("air-7", "air", float("nan"), 34.8, "WGS84"),
        ("Air 7", "air", 113.5, 34.8, "device_id"),
        ("", "air", 113.5, 34.8, "device_id"),
        ("air-7", None, 113.5, 34.8, "kind is required"),
    ],
)
def test_a_bad_device_is_refused_with_a_reason(
    device_id: str, kind: str | None, lon: float, lat: float, words: str
) -> None:
    with pytest.raises(InvalidArgument, match=words):
        new_device(device_id, kind, lon, lat, "", NOW)


def test_registering_again_is_idempotent_unless_the_device_differs() -> None:
    first = new_device("air-7", "air", 113.5, 34.8, "x", NOW)
    assert reconcile(None, first) is None
    assert reconcile(first, new_device("air-7", "air", 113.5, 34.8, "x", NOW + 5)) is first
    with pytest.raises(AlreadyExists, match="deregister it first"):
        reconcile(first, new_device("air-7", "noise", 113.5, 34.8, "x", NOW))


def test_a_writer_may_feed_its_districts_devices_and_its_own_and_no_other() -> None:
    index = DeviceIndex()
    index.put(Device("gz-1", "air", 113.5, 34.8, "", "gouzhao", NOW))
    index.put(Device("wt-own", "air", 113.56, 34.82, "alibaba-cloud", "wutong", NOW))
    index.put(Device("wt-1", "air", 113.56, 34.82, "unisplendour", "wutong", NOW))
    c = columns(["gz-1", "wt-own", "wt-1", "ghost"], [0, 1, 2, 3], [NOW] * 4, [1.0] * 4)
    alibaba = Writer("alibaba-cloud", "gouzhao")
    verdict = validate(c, index, NOW, LIMITS, alibaba)
    assert verdict.accepted.tolist() == [True, True, False, False]
    assert [(r.device_id, r.reason) for r in verdict.rejected] == [
        ("wt-1", Reason.UNKNOWN_DEVICE),
        ("ghost", Reason.UNKNOWN_DEVICE),
    ]
    assert verdict.rejected[0].message.replace("wt-1", "X") == verdict.rejected[1].message.replace(
        "ghost", "X"
    )
    assert verdict.others == ["wt-1"]
    everyone = validate(c, index, NOW, LIMITS)  # the platform
    assert everyone.accepted.tolist() == [True, True, True, False]
    assert everyone.others == []
    assert validate(c, index, NOW, LIMITS, Writer("nobody", "")).accepted.tolist() == [False] * 4


def test_another_tenants_device_id_is_taken_without_saying_where_or_whose() -> None:
    theirs = new_device("air-7", "air", 113.56, 34.82, "unisplendour", NOW)
    with pytest.raises(AlreadyExists) as err:
        reconcile(
            theirs,
            new_device("air-7", "air", 113.5, 34.8, "alibaba-cloud", NOW),
            Writer("alibaba-cloud", "gouzhao"),
        )
    assert "unisplendour" not in str(err.value)
    assert "113.56" not in str(err.value)
