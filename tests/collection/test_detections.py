"""ReportDetections: each detection checked on its own, the good ones published on EVENTS
(`events.detection.<district>`, deduplicated by batch id), a tenant held to its own cameras."""

from __future__ import annotations

import json
import math
from typing import Any

import grpc
import nats
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.common.v1 import common_pb2
from citymesh.city import DETECTION_LABELS
from citymesh.collection.detections import MAX_DETECTIONS
from citymesh.collection.registry import now_ms
from tests.audit import audit_records, denied
from tests.collection.conftest import GOUZHAO, WUTONG, Collection, device
from tests.polling import eventually

CAMERA = common_pb2.DEVICE_KIND_CAMERA
R = pb.DetectionRejectionReason


def seen(
    device_id: str,
    label: int = pb.DETECTION_LABEL_FIRE,
    confidence: float = 0.9,
    at: int | None = None,
    **extra: Any,
) -> pb.Detection:
    return pb.Detection(
        device_id=device_id,
        time_unix_ms=now_ms() if at is None else at,
        label=label,  # type: ignore[arg-type]
        confidence=confidence,
        **extra,
    )


def report(batch_id: str, *detections: pb.Detection) -> pb.ReportDetectionsRequest:
    return pb.ReportDetectionsRequest(batch=pb.DetectionBatch(batch_id=batch_id, detections=detections))


async def events(
    nats_url: str, subject_prefix: str = "events.detection."
) -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, Nats-Msg-Id, JSON) of each detection event on EVENTS, oldest first."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("EVENTS")
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("EVENTS", seq)
            if (msg.subject or "").startswith(subject_prefix):
                msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                out.append((msg.subject or "", msg_id, json.loads(msg.data or b"{}")))
        return out
    finally:
        await nc.close()


async def cameras(c: Collection) -> None:
    for d in [
        device("cam-g1", CAMERA, GOUZHAO, owner="alibaba-cloud"),
        device("cam-w1", CAMERA, WUTONG, owner="unisplendour"),
        device("air-g1", common_pb2.DEVICE_KIND_AIR, GOUZHAO),
    ]:
        await c.stub.RegisterDevice(pb.RegisterDeviceRequest(device=d))


def test_the_proto_labels_are_the_citys_vocabulary() -> None:
    names = [n for n in pb.DetectionLabel.keys() if n != "DETECTION_LABEL_UNSPECIFIED"]  # noqa: SIM118
    assert [n.removeprefix("DETECTION_LABEL_").lower() for n in names] == list(DETECTION_LABELS)
    assert [pb.DetectionLabel.Value(n) for n in names] == list(range(1, len(DETECTION_LABELS) + 1))


async def test_bad_detections_are_rejected_with_reasons_while_the_good_ones_land(
    collection: Collection,
) -> None:
    await cameras(collection)
    now = now_ms()
    box = pb.BoundingBox(x=0.1, y=0.2, width=0.3, height=0.4)
    sent = [
        seen("cam-g1", at=now, box=box),  # 0 good
        seen("nobody"),  # 1
        seen("air-g1"),  # 2
        seen("cam-g1", label=pb.DETECTION_LABEL_UNSPECIFIED),  # 3
        seen("cam-g1", label=99),  # 4
        seen("cam-g1", confidence=1.5),  # 5
        seen("cam-g1", confidence=math.nan),  # 6
        seen("cam-g1", at=now + 3_600_000),  # 7
        seen("cam-g1", at=now - 30 * 86_400_000),  # 8
        seen("cam-g1", count=20_000),  # 9
        seen("cam-g1", box=pb.BoundingBox(x=0.8, y=0.1, width=0.5, height=0.1)),  # 10
        seen("cam-w1", label=pb.DETECTION_LABEL_CROWD, confidence=0.7, count=250),  # 11 good, wutong
    ]
    response = await collection.stub.ReportDetections(report("det-1", *sent))
    assert (response.batch_id, response.accepted, response.rejected, response.duplicate) == (
        "det-1",
        2,
        10,
        False,
    )
    assert [(r.index, r.reason) for r in response.rejections] == [
        (1, R.Value("DETECTION_REJECTION_REASON_UNKNOWN_DEVICE")),
        (2, R.Value("DETECTION_REJECTION_REASON_NOT_A_CAMERA")),
        (3, R.Value("DETECTION_REJECTION_REASON_UNKNOWN_LABEL")),
        (4, R.Value("DETECTION_REJECTION_REASON_UNKNOWN_LABEL")),
        (5, R.Value("DETECTION_REJECTION_REASON_CONFIDENCE_OUT_OF_RANGE")),
        (6, R.Value("DETECTION_REJECTION_REASON_CONFIDENCE_OUT_OF_RANGE")),
        (7, R.Value("DETECTION_REJECTION_REASON_FUTURE_TIMESTAMP")),
        (8, R.Value("DETECTION_REJECTION_REASON_TOO_OLD")),
        (9, R.Value("DETECTION_REJECTION_REASON_COUNT_OUT_OF_RANGE")),
        (10, R.Value("DETECTION_REJECTION_REASON_BAD_BOUNDING_BOX")),
    ]
    counters = await collection.stub.GetIngestStats(pb.GetIngestStatsRequest())
    assert (counters.detections_accepted, counters.detections_rejected) == (2, 10)
    messages = {r.index: r.message for r in response.rejections}
    assert "register it with RegisterDevice" in messages[1]
    assert "is an air device, not a camera" in messages[2]
    assert "fire, smoke, crowd" in messages[4]
    assert "3600 s in the future" in messages[7]

    stored = await events(collection.settings.nats_url)
    assert [(s, m) for s, m, _ in stored] == [
        ("events.detection.gouzhao", "detection-det-1/gouzhao"),
        ("events.detection.wutong", "detection-det-1/wutong"),
    ]
    gouzhao, wutong = stored[0][2], stored[1][2]
    assert (gouzhao["type"], gouzhao["batch_id"], gouzhao["district"]) == (
        "detection.reported",
        "det-1",
        "gouzhao",
    )
    [fire] = gouzhao["detections"]
    assert (fire["device_id"], fire["label"], fire["confidence"], fire["time_ms"]) == (
        "cam-g1",
        "fire",
        0.9,
        now,
    )
    assert (fire["longitude"], fire["latitude"]) == GOUZHAO
    assert fire["box"] == pytest.approx({"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4})
    [crowd] = wutong["detections"]
    assert (crowd["label"], crowd["count"], crowd["box"]) == ("crowd", 250, None)


async def test_a_batch_sent_again_is_stored_once(collection: Collection) -> None:
    await cameras(collection)
    batch = report("det-again", seen("cam-g1"), seen("cam-g1", label=pb.DETECTION_LABEL_SMOKE))
    first = await collection.stub.ReportDetections(batch)
    again = await collection.stub.ReportDetections(batch)
    assert (first.accepted, first.duplicate) == (2, False)
    assert (again.accepted, again.duplicate) == (2, True)
    stored = await events(collection.settings.nats_url)
    assert len(stored) == 1
    assert [d["label"] for d in stored[0][2]["detections"]] == ["fire", "smoke"]


async def test_a_tenant_reports_only_for_its_own_districts_cameras(collection: Collection) -> None:
    await cameras(collection)
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
    response = await alibaba.ReportDetections(report("ali-1", seen("cam-g1"), seen("cam-w1")))
    assert (response.accepted, response.rejected) == (1, 1)
    [refused] = response.rejections
    assert (refused.index, refused.device_id) == (1, "cam-w1")
    assert refused.reason == R.Value("DETECTION_REJECTION_REASON_UNKNOWN_DEVICE")
    assert "not registered in district gouzhao" in refused.message  # as if it did not exist
    stored = await events(collection.settings.nats_url)
    assert [(s, e["reported_by"], [d["device_id"] for d in e["detections"]]) for s, _, e in stored] == [
        ("events.detection.gouzhao", "alibaba-cloud", ["cam-g1"])
    ]
    records = await eventually(
        lambda: audit_records(collection.settings.nats_url, "collection", allowed=False),
        lambda r: len(denied(r, "alibaba-cloud", "ReportDetections")) == 1,
        what="the attempt audited",
    )
    assert "cam-w1" in denied(records, "alibaba-cloud", "ReportDetections")[0]["resource"]


async def test_a_malformed_batch_is_invalid_argument_and_nothing_is_stored(collection: Collection) -> None:
    await cameras(collection)
    for request, says in [
        (report("has space", seen("cam-g1")), "batch_id 'has space' is not valid"),
        (report("big", *[seen("cam-g1")] * (MAX_DETECTIONS + 1)), f"at most {MAX_DETECTIONS} per batch"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await collection.stub.ReportDetections(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert says in (err.value.details() or "")
    empty = await collection.stub.ReportDetections(report("empty"))
    assert (empty.accepted, empty.rejected, empty.duplicate) == (0, 0, False)
    unnamed = await collection.stub.ReportDetections(report("", seen("cam-g1")))
    assert unnamed.batch_id.startswith("auto-")
    assert unnamed.accepted == 1
    assert [m for _, m, _ in await events(collection.settings.nats_url)] == [
        f"detection-{unnamed.batch_id}/gouzhao"
    ]
