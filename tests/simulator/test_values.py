"""Value generators and the reading schedule: physical ranges, daily shapes, determinism."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citymesh.city import DISTRICTS, KIND_NAMES, KINDS
from citymesh.simulator.fleet import Fleet
from citymesh.simulator.schedule import SimClock, backfill_s, batches, readings_between
from citymesh.simulator.values import local_hour, values

# 2020-11-16 00:00 in Zhengzhou (UTC+8), the week of the seed's newspaper page.
MIDNIGHT_MS = 1_605_456_000_000
HOUR_MS = 3_600_000
FLEET = Fleet.build(2020)


@pytest.fixture
def fleet() -> Fleet:
    return FLEET


def at_hour(fleet: Fleet, kind: str, hour: float) -> npt.NDArray[np.float64]:
    """Every device of `kind` read at `hour` on a few days, averaged over the days."""
    mask = fleet.kind_code == KIND_NAMES.index(kind)
    days = [MIDNIGHT_MS + d * 24 * HOUR_MS + int(hour * HOUR_MS) for d in range(3)]
    out = []
    for t in days:
        n = int(mask.sum())
        out.append(values(fleet.kind_code[mask], np.full(n, t, np.int64), fleet.base[mask], fleet.key[mask]))
    return np.asarray(np.mean(out, axis=0), dtype=np.float64)


def test_local_hour_is_zhengzhou_time() -> None:
    assert local_hour(np.array([MIDNIGHT_MS + 8 * HOUR_MS]))[0] == pytest.approx(8.0)


def test_a_day_of_readings_stays_within_every_kinds_physical_range(fleet: Fleet) -> None:
    some = fleet.subset(list(range(0, len(fleet), 15)))
    readings = readings_between(some, MIDNIGHT_MS, MIDNIGHT_MS + 24 * HOUR_MS)
    kinds = some.kind_code[readings.device]
    for code, name in enumerate(KIND_NAMES):
        v = readings.value[kinds == code]
        assert v.size > 0
        assert np.isfinite(v).all()
        assert v.min() >= KINDS[name].low, name
        assert v.max() <= KINDS[name].high, name


@given(t=st.integers(0, 4_102_444_800_000))
@settings(max_examples=50, deadline=None)
def test_readings_at_any_time_are_finite_and_in_range(t: int) -> None:
    fleet = FLEET
    v = values(fleet.kind_code, np.full(len(fleet), t, np.int64), fleet.base, fleet.key)
    low = np.array([KINDS[KIND_NAMES[c]].low for c in fleet.kind_code])
    high = np.array([KINDS[KIND_NAMES[c]].high for c in fleet.kind_code])
    assert np.isfinite(v).all()
    assert ((v >= low) & (v <= high)).all()


def test_traffic_peaks_at_rush_hour_and_is_quiet_at_night(fleet: Fleet) -> None:
    night, morning, evening = (at_hour(fleet, "traffic", h).mean() for h in (3, 8, 18))
    assert morning > 5 * night
    assert evening > 5 * night


def test_cameras_count_more_by_day_than_by_night(fleet: Fleet) -> None:
    assert at_hour(fleet, "camera", 12).mean() > 4 * at_hour(fleet, "camera", 3).mean()


def test_noise_is_louder_by_day(fleet: Fleet) -> None:
    assert at_hour(fleet, "noise", 14).mean() - at_hour(fleet, "noise", 2).mean() > 12


def test_pm25_is_worse_in_the_morning_than_in_the_afternoon(fleet: Fleet) -> None:
    assert at_hour(fleet, "air", 8).mean() > 1.2 * at_hour(fleet, "air", 16).mean()


def test_temperature_is_warmest_in_the_afternoon_and_plausible_for_november(fleet: Fleet) -> None:
    afternoon, dawn = at_hour(fleet, "temperature", 15), at_hour(fleet, "temperature", 5)
    assert afternoon.mean() > dawn.mean() + 5
    assert 0 < dawn.mean() < afternoon.mean() < 25


def test_water_level_changes_slowly(fleet: Fleet) -> None:
    gauges = fleet.subset([i for i, d in enumerate(fleet.devices) if d.kind == "water"][:10])
    readings = readings_between(gauges, MIDNIGHT_MS, MIDNIGHT_MS + 24 * HOUR_MS)
    for device in range(len(gauges)):
        levels = readings.value[readings.device == device]
        assert len(levels) == 24 * 60
        assert np.abs(np.diff(levels)).max() < 0.05
        assert np.ptp(levels) < 1.0


def test_a_reading_generated_twice_is_the_same_reading(fleet: Fleet) -> None:
    a = readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 60_000)
    b = readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 60_000)
    assert np.array_equal(a.value, b.value)
    assert np.array_equal(a.device, b.device)


def test_each_device_reads_once_per_period(fleet: Fleet) -> None:
    readings = readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 60_000)
    per_device = np.bincount(readings.device, minlength=len(fleet))
    assert (per_device == 60_000 // fleet.period_ms).all()
    assert (readings.time_ms >= MIDNIGHT_MS).all()
    assert (readings.time_ms < MIDNIGHT_MS + 60_000).all()
    assert (np.diff(readings.time_ms) >= 0).all()


def test_adjacent_windows_neither_lose_nor_repeat_readings(fleet: Fleet) -> None:
    whole = readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 90_000)
    first = readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 33_333)
    second = readings_between(fleet, MIDNIGHT_MS + 33_333, MIDNIGHT_MS + 90_000)
    assert len(first) + len(second) == len(whole)
    pairs = set(zip(whole.device.tolist(), whole.time_ms.tolist(), strict=True))
    split = set(zip(first.device.tolist(), first.time_ms.tolist(), strict=True)) | set(
        zip(second.device.tolist(), second.time_ms.tolist(), strict=True)
    )
    assert pairs == split


def test_batches_are_bounded_single_district_and_columnar(fleet: Fleet) -> None:
    out = list(batches("sim-test", fleet, MIDNIGHT_MS, MIDNIGHT_MS + 120_000, batch_size=700))
    assert sum(len(b) for b in out) == len(readings_between(fleet, MIDNIGHT_MS, MIDNIGHT_MS + 120_000))
    assert len({b.batch_id for b in out}) == len(out)
    district_of = {d.device_id: d.district for d in fleet.devices}
    for b in out:
        assert 0 < len(b) <= 700
        assert len(b.device_index) == len(b.values) == len(b.time_unix_ms)
        assert len(set(b.device_ids)) == len(b.device_ids)
        assert max(b.device_index) < len(b.device_ids)
        assert len({district_of[i] for i in b.device_ids}) == 1
    assert {district_of[b.device_ids[0]] for b in out} == set(DISTRICTS)


def test_a_window_generated_again_has_the_same_batch_ids(fleet: Fleet) -> None:
    ids = [b.batch_id for b in batches("g", fleet, MIDNIGHT_MS, MIDNIGHT_MS + 30_000)]
    assert ids == [b.batch_id for b in batches("g", fleet, MIDNIGHT_MS, MIDNIGHT_MS + 30_000)]


def test_the_simulated_clock_runs_at_rate_but_never_passes_the_wall_clock() -> None:
    real = [100.0]
    wall = 1_000_000_000
    clock = SimClock(wall - 60_000, 10.0, 100.0, wall=lambda: wall, monotonic=lambda: real[0])
    real[0] = 103.0
    assert clock.now_ms() == wall - 30_000
    assert not clock.live()
    real[0] = 200.0
    assert clock.now_ms() == wall
    assert clock.live()


def test_backfill_lets_a_run_spend_its_time_at_full_rate_and_end_now() -> None:
    assert backfill_s(1.0, 60) == 0
    assert backfill_s(50.0, 60) == 49 * 60
    assert backfill_s(100.0, None) == 24 * 3600
    assert backfill_s(1000.0, 3600, max_backfill_s=7200) == 7200
