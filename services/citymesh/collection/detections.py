"""Camera detections: validated one by one, the accepted ones grouped by sub-district into the
events collection publishes on EVENTS. No transport, no bus: plain data.

The event of one batch in one sub-district (JSON on `events.detection.<district>`, Nats-Msg-Id
`detection-<batch_id>/<district>`) is the contract governance's incident rules read:

    {"type": "detection.reported", "batch_id": "...", "district": "gouzhao",
     "reported_by": "<tenant of the caller>",
     "detections": [{"device_id": "cam-gouzhao-0001", "time_ms": 1780000000000, "label": "fire",
                     "confidence": 0.93, "count": 0, "box": {"x": .., "y": .., "width": .., "height": ..}
                     or null, "longitude": 113.49, "latitude": 34.79}]}

Position and sub-district are the registry's for the device at the time of the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from citymesh.city import DETECTION_LABELS, DISTRICTS, KINDS
from citymesh.collection.domain import BATCH_ID, Device, Limits, Writer
from citymesh.runtime.errors import InvalidArgument

MAX_DETECTIONS = 1000
"""Most detections in one batch: one batch's event stays well under NATS's 1 MB message limit."""
MAX_COUNT = int(KINDS["camera"].high)
"""Most objects one detection may count (a camera's physical range)."""
CAMERA = "camera"
EVENT_TYPE = "detection.reported"


def detection_msg_id(batch_id: str, district: str) -> str:
    """Namespaced so that a client's batch id can never shadow another event's dedup id."""
    return f"detection-{batch_id}/{district}"


class DetectionReason(IntEnum):
    """Why a detection was rejected; the numbers are citymesh.collection.v1.DetectionRejectionReason's."""

    UNKNOWN_DEVICE = 1
    NOT_A_CAMERA = 2
    UNKNOWN_LABEL = 3
    CONFIDENCE_OUT_OF_RANGE = 4
    FUTURE_TIMESTAMP = 5
    TOO_OLD = 6
    COUNT_OUT_OF_RANGE = 7
    BAD_BOUNDING_BOX = 8


@dataclass(frozen=True)
class Box:
    """Fractions of the frame: top-left corner and size."""

    x: float
    y: float
    width: float
    height: float

    def fits(self) -> bool:
        parts = (self.x, self.y, self.width, self.height)
        return (
            all(math.isfinite(p) for p in parts)
            and self.x >= 0
            and self.y >= 0
            and self.width > 0
            and self.height > 0
            and self.x + self.width <= 1 + 1e-6
            and self.y + self.height <= 1 + 1e-6
        )


@dataclass(frozen=True)
class Detection:
    """One detection as sent. `label` is the vocabulary's name, None for an unset or unknown one
    (then `label_code` is the number that was sent)."""

    device_id: str
    time_ms: int
    label: str | None
    label_code: int
    confidence: float
    count: int = 0
    box: Box | None = None


@dataclass(frozen=True)
class Placed:
    """An accepted detection with its device's sub-district and position."""

    detection: Detection
    district: str
    longitude: float
    latitude: float


@dataclass(frozen=True)
class DetectionRejected:
    index: int
    device_id: str
    reason: DetectionReason
    message: str


@dataclass
class DetectionVerdict:
    accepted: list[Placed] = field(default_factory=list)
    rejected: list[DetectionRejected] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    """Registered devices the writer named but may not feed: rejected as UNKNOWN_DEVICE, audited."""

    def by_district(self) -> dict[str, list[Placed]]:
        """The accepted detections per sub-district, in the zone's order."""
        out: dict[str, list[Placed]] = {}
        for district in DISTRICTS:
            mine = [p for p in self.accepted if p.district == district]
            if mine:
                out[district] = mine
        return out


def check_batch(batch_id: str, detections: Sequence[Detection]) -> None:
    """Batch-level checks; InvalidArgument when the batch as a whole cannot be taken."""
    if not BATCH_ID.match(batch_id):
        raise InvalidArgument(
            f"batch_id {batch_id[:40]!r} is not valid: use 1 to 128 printable ASCII characters without spaces"
        )
    if len(detections) > MAX_DETECTIONS:
        raise InvalidArgument(
            f"batch {batch_id} has {len(detections)} detections; at most {MAX_DETECTIONS} per batch: split it"
        )


def validate_detections(
    batch_id: str,
    detections: Sequence[Detection],
    devices: Mapping[str, Device],
    now_ms: int,
    limits: Limits,
    writer: Writer | None = None,
) -> DetectionVerdict:
    """Check every detection; the first failed check is its reason. For a `writer`, a device it
    may not feed is rejected as UNKNOWN_DEVICE, as if it did not exist."""
    check_batch(batch_id, detections)
    verdict = DetectionVerdict()
    others: set[str] = set()
    for i, d in enumerate(detections):
        device = devices.get(d.device_id)
        if device is not None and writer is not None and not writer.may_use(device):
            others.add(d.device_id)
            device = None
        why = _check(d, device, now_ms, limits, writer)
        if why is None:
            assert device is not None
            verdict.accepted.append(Placed(d, device.district, device.longitude, device.latitude))
        else:
            verdict.rejected.append(DetectionRejected(i, d.device_id, *why))
    verdict.others = sorted(others)
    return verdict


def _check(
    d: Detection, device: Device | None, now_ms: int, limits: Limits, writer: Writer | None
) -> tuple[DetectionReason, str] | None:
    if device is None:
        if writer is not None:
            return DetectionReason.UNKNOWN_DEVICE, (
                f"device {d.device_id[:80]!r} is not registered in district {writer.district or '(none)'} "
                f"nor to tenant {writer.tenant or '(none)'}: register it with RegisterDevice first"
            )
        return DetectionReason.UNKNOWN_DEVICE, (
            f"device {d.device_id[:80]!r} is not registered: register it with RegisterDevice first"
        )
    if device.kind != CAMERA:
        article = "an" if device.kind[:1] in "aeiou" else "a"
        return DetectionReason.NOT_A_CAMERA, (
            f"device {d.device_id} is {article} {device.kind} device, not a camera: only cameras report detections"
        )
    if d.label is None:
        return DetectionReason.UNKNOWN_LABEL, (
            f"label {d.label_code} is not a detection label; one of {', '.join(DETECTION_LABELS)}"
        )
    if not (math.isfinite(d.confidence) and 0.0 <= d.confidence <= 1.0):
        return DetectionReason.CONFIDENCE_OUT_OF_RANGE, (
            f"confidence {d.confidence} is outside [0, 1]: send the model's score as a probability"
        )
    if d.time_ms > now_ms + limits.max_clock_skew_ms:
        return DetectionReason.FUTURE_TIMESTAMP, (
            f"time_unix_ms {d.time_ms} is {(d.time_ms - now_ms) / 1000:.0f} s in the future; at most "
            f"{limits.max_clock_skew_ms / 1000:.0f} s of clock skew is accepted: check the camera's clock"
        )
    if d.time_ms < now_ms - limits.max_age_ms:
        return DetectionReason.TOO_OLD, (
            f"time_unix_ms {d.time_ms} is {(now_ms - d.time_ms) / 86_400_000:.1f} days old; detections "
            f"older than {limits.max_age_ms / 86_400_000:.1f} days are not accepted"
        )
    if d.count > MAX_COUNT:
        return (
            DetectionReason.COUNT_OUT_OF_RANGE,
            f"count {d.count} is above {MAX_COUNT} objects in one frame",
        )
    if d.box is not None and not d.box.fits():
        b = d.box
        return DetectionReason.BAD_BOUNDING_BOX, (
            f"box (x {b.x:g}, y {b.y:g}, width {b.width:g}, height {b.height:g}) is not inside the frame "
            "with an area: fractions in [0, 1], x + width and y + height at most 1"
        )
    return None


def event_of(batch_id: str, district: str, placed: Sequence[Placed], reported_by: str) -> dict[str, Any]:
    """The EVENTS record of a batch's accepted detections in one sub-district."""
    return {
        "type": EVENT_TYPE,
        "batch_id": batch_id,
        "district": district,
        "reported_by": reported_by,
        "detections": [
            {
                "device_id": p.detection.device_id,
                "time_ms": p.detection.time_ms,
                "label": p.detection.label,
                "confidence": p.detection.confidence,
                "count": p.detection.count,
                "box": None
                if p.detection.box is None
                else {
                    "x": p.detection.box.x,
                    "y": p.detection.box.y,
                    "width": p.detection.box.width,
                    "height": p.detection.box.height,
                },
                "longitude": p.longitude,
                "latitude": p.latitude,
            }
            for p in placed
        ],
    }
