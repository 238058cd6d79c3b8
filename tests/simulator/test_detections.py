"""The simulated cameras' detections: seeded, the same however a run cuts its steps, at the
documented rate, each one something collection accepts."""

from __future__ import annotations

import itertools

import numpy as np

from citymesh.city import DETECTION_LABELS
from citymesh.simulator.detections import (
    COUNTS,
    DETECTIONS_PER_CAMERA_HOUR,
    MAX_BATCH,
    detection_batches,
    detections_between,
)
from citymesh.simulator.fleet import CAMERAS, Fleet

T0 = 1_780_000_000_000
HOUR = 3_600_000
FLEET = Fleet.build()


def test_the_detections_of_a_window_do_not_depend_on_how_it_is_cut() -> None:
    whole = detections_between(FLEET, T0, T0 + HOUR)
    cuts = [T0, T0 + 1_234, T0 + 600_000, T0 + 600_001, T0 + 2_000_000, T0 + HOUR]
    pieces = [d for a, b in itertools.pairwise(cuts) for d in detections_between(FLEET, a, b)]
    assert pieces == whole
    assert detections_between(Fleet.build(), T0, T0 + HOUR) == whole  # seeded
    assert detections_between(Fleet.build(seed=7), T0, T0 + HOUR) != whole


def test_the_rate_is_the_documented_one_and_every_detection_is_valid() -> None:
    day = detections_between(FLEET, T0, T0 + 24 * HOUR)
    expected = CAMERAS * DETECTIONS_PER_CAMERA_HOUR * 24
    assert abs(len(day) - expected) < 4 * np.sqrt(expected)  # Poisson: within four sigma
    cameras = {d.device_id for d in FLEET.devices if d.kind == "camera"}
    assert {d.device_id for d in day} <= cameras
    assert {d.label for d in day} == set(DETECTION_LABELS)
    for d in day:
        assert T0 <= d.time_ms < T0 + 24 * HOUR
        assert 0.0 <= d.confidence <= 1.0
        low, high = COUNTS.get(d.label, (0, 0))
        assert low <= d.count <= high
        x, y, w, h = d.box
        assert min(x, y) >= 0
        assert min(w, h) > 0
        assert max(x + w, y + h) <= 1
    assert [d.time_ms for d in day] == sorted(d.time_ms for d in day)


def test_batches_are_at_most_the_collection_limit_with_ids_that_name_the_window() -> None:
    batches = detection_batches("sim2020-detections", FLEET, T0, T0 + 24 * HOUR, per_camera_hour=1.0)
    assert len(batches) > 1
    assert all(0 < len(b.detections) <= MAX_BATCH for b in batches)
    assert [b.batch_id for b in batches[:2]] == [
        f"sim2020-detections-{T0}-{T0 + 24 * HOUR}-0",
        f"sim2020-detections-{T0}-{T0 + 24 * HOUR}-1",
    ]
    assert detection_batches("r", FLEET, T0, T0 + HOUR, per_camera_hour=0) == []
