"""Camera detections end to end: a real collection takes them (ReportDetections) and publishes them
on EVENTS, a real governance's pipeline reads them with its detection rules and opens incidents
in the camera's sub-district, correlated as any other; all on one real nats-server, both services
in development mode (the callers named by headers)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.collection.app import App as CollectionApp
from citymesh.collection.app import Settings as CollectionSettings
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.governance.conftest import governance
from tests.governance.incident_harness import GOUZHAO, ZONE, events, headers, near, stream_bus
from tests.polling import eventually

pytestmark = pytest.mark.integration
PLATFORM = (("x-citymesh-tenant", "simulator"), ("x-citymesh-roles", "service"))
G = (113.485, 34.790)  # gouzhao
F = (113.530, 34.820)  # fengyang
W = (113.575, 34.825)  # wutong
CAMERAS = {
    "cam-g1": G,
    "cam-g2": near(*G, east_m=300),
    "cam-f1": F,
    "cam-w1": W,
}


@contextlib.asynccontextmanager
async def city(
    nats: NatsServer,
) -> AsyncIterator[
    tuple[collection_pb2_grpc.CollectionServiceStub, incidents_pb2_grpc.IncidentServiceStub, Bus]
]:
    settings = CollectionSettings(nats_url=nats.url, listen="127.0.0.1:0", auth_dev_headers=True, grace_s=1.0)
    async with (
        governance(nats) as g,
        grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as gov_channel,
        running(CollectionApp(settings), settings) as srv,
        grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as col_channel,
    ):
        collection = collection_pb2_grpc.CollectionServiceStub(col_channel)
        for device_id, (lon, lat) in CAMERAS.items():
            camera = cpb.Device(
                device_id=device_id,
                kind=common_pb2.DEVICE_KIND_CAMERA,
                position=common_pb2.GeoPoint(longitude=lon, latitude=lat),
            )
            await collection.RegisterDevice(cpb.RegisterDeviceRequest(device=camera), metadata=PLATFORM)
        feed = await stream_bus(nats)
        try:
            yield collection, incidents_pb2_grpc.IncidentServiceStub(gov_channel), feed
        finally:
            await feed.close()


def seen(device_id: str, label: int, confidence: float, count: int = 0) -> cpb.Detection:
    return cpb.Detection(
        device_id=device_id,
        time_unix_ms=time.time_ns() // 1_000_000,
        label=label,  # type: ignore[arg-type]
        confidence=confidence,
        count=count,
    )


def batch(batch_id: str, *detections: cpb.Detection) -> cpb.ReportDetectionsRequest:
    return cpb.ReportDetectionsRequest(batch=cpb.DetectionBatch(batch_id=batch_id, detections=detections))


async def listed(stub: incidents_pb2_grpc.IncidentServiceStub) -> list[pb.Incident]:
    response = await stub.ListIncidents(pb.ListIncidentsRequest(), metadata=headers(ZONE))
    return sorted(response.incidents, key=lambda i: (i.district, i.type))


async def test_a_fire_a_camera_saw_opens_a_critical_incident_in_its_sub_district(
    nats_server: NatsServer,
) -> None:
    async with city(nats_server) as (collection, incidents, feed):
        response = await collection.ReportDetections(
            batch(
                "cams-1",
                seen("cam-g1", cpb.DETECTION_LABEL_FIRE, 0.92),
                seen("cam-f1", cpb.DETECTION_LABEL_FIRE, 0.3),  # too unsure: no incident
                seen("cam-f1", cpb.DETECTION_LABEL_CROWD, 0.9, count=40),  # too few people
            ),
            metadata=PLATFORM,
        )
        assert (response.accepted, response.rejected) == (3, 0)
        (fire,) = await eventually(
            lambda: listed(incidents), lambda found: len(found) == 1, 30, "a fire incident"
        )
        assert (fire.district, fire.type, fire.severity, fire.state) == (
            common_pb2.DISTRICT_GOUZHAO,
            "fire",
            pb.INCIDENT_SEVERITY_CRITICAL,
            pb.INCIDENT_STATE_OPEN,
        )
        assert (fire.rule_id, fire.unit_id, list(fire.device_ids)) == (
            "fire-detected",
            "gouzhao-emergency",
            ["cam-g1"],
        )
        assert fire.peak_value == pytest.approx(0.92)

        # Smoke 300 m away is the same fire: it joins; a fire elsewhere is another incident.
        await collection.ReportDetections(
            batch(
                "cams-2",
                seen("cam-g2", cpb.DETECTION_LABEL_SMOKE, 0.8),
                seen("cam-f1", cpb.DETECTION_LABEL_FIRE, 0.85),
            ),
            metadata=PLATFORM,
        )
        found = await eventually(
            lambda: listed(incidents),
            lambda found: len(found) == 2 and {i.triggers for i in found} == {1, 2},
            30,
            "the smoke joined, a second fire opened",
        )
        joined = next(i for i in found if i.incident_id == fire.incident_id)
        assert sorted(joined.device_ids) == ["cam-g1", "cam-g2"]
        other = next(i for i in found if i.incident_id != fire.incident_id)
        assert (other.district, other.type, other.unit_id) == (
            common_pb2.DISTRICT_FENGYANG,
            "fire",
            "fengyang-emergency",
        )

        # The outbox publishes an incident's event just after its record is stored.
        await eventually(
            lambda: events(feed, "EVENTS", "events.incident."),
            lambda opened: (
                sorted((e["incident"]["district"], e["type"]) for e in opened)
                == [("fengyang", "incident.opened"), ("gouzhao", "incident.opened")]
            ),
            10,
            "one incident.opened event per incident",
        )


async def test_a_tenant_cannot_raise_an_incident_with_another_districts_camera(
    nats_server: NatsServer,
) -> None:
    async with city(nats_server) as (collection, incidents, _):
        response = await collection.ReportDetections(
            batch(
                "ali-1",
                seen("cam-w1", cpb.DETECTION_LABEL_FIRE, 0.99),  # wutong's camera
                seen("cam-g1", cpb.DETECTION_LABEL_FLOODING_ROAD, 0.9),  # its own
            ),
            metadata=headers(GOUZHAO),
        )
        assert (response.accepted, response.rejected) == (1, 1)
        assert response.rejections[0].device_id == "cam-w1"
        (flood,) = await eventually(
            lambda: listed(incidents), lambda found: len(found) == 1, 30, "one incident"
        )
        assert (flood.district, flood.type, flood.unit_id) == (
            common_pb2.DISTRICT_GOUZHAO,
            "flood",
            "gouzhao-water",
        )
        assert all(i.district != common_pb2.DISTRICT_WUTONG for i in await listed(incidents))
