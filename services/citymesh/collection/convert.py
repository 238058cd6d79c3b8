"""Conversions between citymesh.collection.v1 messages and collection's domain types."""

from __future__ import annotations

from typing import cast

import numpy as np

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.common.v1 import common_pb2
from citymesh.city import DETECTION_LABELS
from citymesh.collection.detections import Box, Detection, DetectionVerdict
from citymesh.collection.domain import Columns, Device, Rejected, Verdict
from citymesh.convert import district_from_proto, district_to_proto, kind_from_proto, kind_to_proto
from citymesh.runtime.errors import InvalidArgument


def device_to_proto(d: Device) -> pb.Device:
    out = pb.Device(
        device_id=d.device_id,
        kind=kind_to_proto(d.kind),
        position=common_pb2.GeoPoint(longitude=d.longitude, latitude=d.latitude),
        owner_tenant=d.owner_tenant,
        district=district_to_proto(d.district),
    )
    out.registered_at.FromMilliseconds(d.registered_at_ms)
    return out


def device_from_stored(data: bytes) -> Device:
    """A device as kept in the `devices` bucket (a serialized Device message)."""
    m = pb.Device.FromString(data)
    kind = kind_from_proto(m.kind)
    assert kind is not None
    district = district_from_proto(m.district)
    assert district is not None
    return Device(
        m.device_id,
        kind,
        m.position.longitude,
        m.position.latitude,
        m.owner_tenant,
        district,
        m.registered_at.ToMilliseconds(),
    )


def kind_of_request(value: int) -> str | None:
    try:
        return kind_from_proto(value)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc


def columns_from_proto(batch: pb.ReadingBatch, batch_id: str) -> Columns:
    return Columns(
        batch_id,
        list(batch.device_ids),
        np.array(batch.device_index, dtype=np.int64),
        np.array(batch.time_unix_ms, dtype=np.int64),
        np.array(batch.values, dtype=np.float64),
    )


def columns_to_proto(c: Columns) -> pb.ReadingBatch:
    return pb.ReadingBatch(
        batch_id=c.batch_id,
        device_ids=c.device_ids,
        device_index=c.device_index.tolist(),
        time_unix_ms=c.time_unix_ms.tolist(),
        values=c.values.tolist(),
    )


def rejection_to_proto(r: Rejected) -> common_pb2.Rejection:
    return common_pb2.Rejection(
        index=r.index,
        device_id=r.device_id,
        reason=cast(common_pb2.RejectionReason, int(r.reason)),
        message=r.message,
    )


def ack_to_proto(
    batch_id: str, verdict: Verdict | None, duplicate: bool, error: tuple[int, str] | None = None
) -> pb.BatchAck:
    ack = pb.BatchAck(batch_id=batch_id, duplicate=duplicate)
    if verdict is not None:
        ack.accepted = int(verdict.accepted.sum())
        ack.rejected = len(verdict.rejected)
        ack.rejections.extend(rejection_to_proto(r) for r in verdict.rejected)
    if error is not None:
        ack.error_code, ack.error_message = error
    return ack


def label_from_proto(value: int) -> str | None:
    """The detection label's name; None for DETECTION_LABEL_UNSPECIFIED or a number not in the
    vocabulary (a per-detection rejection, not an error of the batch)."""
    return DETECTION_LABELS[value - 1] if 1 <= value <= len(DETECTION_LABELS) else None


def label_to_proto(name: str) -> pb.DetectionLabel:
    return cast(pb.DetectionLabel, pb.DetectionLabel.Value(f"DETECTION_LABEL_{name.upper()}"))


def detection_from_proto(d: pb.Detection) -> Detection:
    box = None
    if d.HasField("box"):
        box = Box(d.box.x, d.box.y, d.box.width, d.box.height)
    return Detection(
        d.device_id, d.time_unix_ms, label_from_proto(d.label), int(d.label), d.confidence, d.count, box
    )


def detections_response(
    batch_id: str, verdict: DetectionVerdict, duplicate: bool
) -> pb.ReportDetectionsResponse:
    return pb.ReportDetectionsResponse(
        batch_id=batch_id,
        accepted=len(verdict.accepted),
        rejected=len(verdict.rejected),
        rejections=[
            pb.DetectionRejection(
                index=r.index,
                device_id=r.device_id,
                reason=cast(pb.DetectionRejectionReason, int(r.reason)),
                message=r.message,
            )
            for r in verdict.rejected
        ],
        duplicate=duplicate,
    )
