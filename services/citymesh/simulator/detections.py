"""What the simulated cameras' AI reports seeing: a few detections, seeded.

On average DETECTIONS_PER_CAMERA_HOUR detections per camera per hour of simulated time (the zone's
2,003 cameras: about 200 an hour), labels drawn by LABEL_WEIGHTS, confidences uniform in
[0.35, 0.99], a count for crowds (30..400 people) and illegal parking (1..6 vehicles), a bounding
box inside the frame. Pure and deterministic: time is cut into one-minute slots, each slot's
detections drawn from a generator seeded with (fleet seed, slot), so the detections between two
instants are the same however a run's steps cut them, and a batch generated again (a retry, a
resumed run) is the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citymesh.city import KIND_NAMES
from citymesh.simulator.fleet import Fleet

DETECTIONS_PER_CAMERA_HOUR = 0.1
"""Default rate: detections per camera per hour of simulated time."""
SLOT_MS = 60_000
LABEL_WEIGHTS: dict[str, float] = {
    "illegal_parking": 0.30,
    "crowd": 0.25,
    "vehicle_accident": 0.12,
    "smoke": 0.10,
    "person_fallen": 0.08,
    "flooding_road": 0.08,
    "fire": 0.07,
}
"""How often each label is drawn."""
COUNTS: dict[str, tuple[int, int]] = {"crowd": (30, 400), "illegal_parking": (1, 6)}
"""The labels that come with a count, and its range."""
MAX_BATCH = 1000
"""Most detections in one ReportDetections batch (collection's limit)."""
_LABELS = tuple(LABEL_WEIGHTS)
_P = np.array([LABEL_WEIGHTS[label] for label in _LABELS]) / sum(LABEL_WEIGHTS.values())
_STREAM = 7
"""Mixed into the seed, so detections draw apart from everything else seeded by the fleet's seed."""


@dataclass(frozen=True)
class SimDetection:
    device_id: str
    time_ms: int
    label: str
    confidence: float
    count: int
    box: tuple[float, float, float, float]
    """x, y, width, height: fractions of the frame."""


def detections_between(
    fleet: Fleet, start_ms: int, end_ms: int, per_camera_hour: float = DETECTIONS_PER_CAMERA_HOUR
) -> list[SimDetection]:
    """The fleet's cameras' detections in [start_ms, end_ms), in time order."""
    cameras = np.flatnonzero(fleet.kind_code == KIND_NAMES.index("camera"))
    if per_camera_hour <= 0 or not len(cameras) or end_ms <= start_ms:
        return []
    expected = len(cameras) * per_camera_hour * SLOT_MS / 3_600_000
    out: list[SimDetection] = []
    for slot in range(start_ms // SLOT_MS, (end_ms - 1) // SLOT_MS + 1):
        rng = np.random.default_rng([fleet.seed, _STREAM, slot])
        n = int(rng.poisson(expected))
        if not n:
            continue
        which = cameras[rng.integers(0, len(cameras), n)]
        times = slot * SLOT_MS + rng.integers(0, SLOT_MS, n)
        labels = rng.choice(len(_LABELS), n, p=_P)
        confidence = rng.uniform(0.35, 0.99, n).round(3)
        size = rng.uniform(0.05, 0.5, (n, 2))
        corner = rng.uniform(0.0, 1.0, (n, 2)) * (1.0 - size)
        # Rounded down, so a box stays inside the frame.
        size, corner = np.floor(size * 1e4) / 1e4, np.floor(corner * 1e4) / 1e4
        counts = rng.uniform(0.0, 1.0, n)
        for i in range(n):
            t = int(times[i])
            if not start_ms <= t < end_ms:
                continue
            label = _LABELS[int(labels[i])]
            low, high = COUNTS.get(label, (0, 0))
            out.append(
                SimDetection(
                    device_id=fleet.devices[int(which[i])].device_id,
                    time_ms=t,
                    label=label,
                    confidence=float(confidence[i]),
                    count=int(low + counts[i] * (high - low + 1)) if high else 0,
                    box=(float(corner[i, 0]), float(corner[i, 1]), float(size[i, 0]), float(size[i, 1])),
                )
            )
    out.sort(key=lambda d: (d.time_ms, d.device_id))
    return out


@dataclass(frozen=True)
class DetectionBatch:
    batch_id: str
    detections: list[SimDetection]


def detection_batches(
    reporter: str,
    fleet: Fleet,
    start_ms: int,
    end_ms: int,
    per_camera_hour: float = DETECTIONS_PER_CAMERA_HOUR,
) -> list[DetectionBatch]:
    """The detections in [start_ms, end_ms) as batches of at most MAX_BATCH, each id naming the
    reporter, the window and the chunk (the same batch generated again has the same id)."""
    found = detections_between(fleet, start_ms, end_ms, per_camera_hour)
    return [
        DetectionBatch(f"{reporter}-{start_ms}-{end_ms}-{c}", found[lo : lo + MAX_BATCH])
        for c, lo in enumerate(range(0, len(found), MAX_BATCH))
    ]
