"""A peak's incidents: those governance's pipeline opened in its sub-district, acknowledged and
resolved through the peak with the caller's identity; another sub-district's are not its own."""

from __future__ import annotations

import time

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2, collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import incidents_pb2, incidents_pb2_grpc
from citymesh.api.peak.v1 import peak_pb2 as pb
from tests.peak.conftest import ADMIN, ALIBABA, GOUZHAO, WUTONG, Md, StartPlatform
from tests.polling import eventually


async def flood(
    collection: collection_pb2_grpc.CollectionServiceStub, device_id: str, at: tuple[float, float], md: Md
) -> None:
    """A water gauge at `at` reads 7.0 m: above the 6.0 m warning level (a critical flood rule)."""
    await collection.RegisterDevice(
        collection_pb2.RegisterDeviceRequest(
            device=collection_pb2.Device(
                device_id=device_id,
                kind=common_pb2.DEVICE_KIND_WATER,
                position=common_pb2.GeoPoint(longitude=at[0], latitude=at[1]),
            )
        ),
        metadata=md,
    )
    batch = collection_pb2.ReadingBatch(
        batch_id=f"flood-{device_id}",
        device_ids=[device_id],
        device_index=[0],
        time_unix_ms=[int(time.time() * 1000) - 1000],
        values=[7.0],
    )
    ack = await collection.Ingest(collection_pb2.IngestRequest(batch=batch), metadata=md)
    assert ack.ack.accepted == 1


async def test_incidents_of_the_peaks_district_are_listed_acknowledged_and_resolved(
    start_platform: StartPlatform,
) -> None:
    async with start_platform("governance", "collection") as platform:
        stub = platform.stub
        async with grpc.aio.insecure_channel(platform.addresses["collection"]) as channel:
            collection = collection_pb2_grpc.CollectionServiceStub(channel)
            await flood(collection, "wutong-gauge", WUTONG, ADMIN)
            await flood(collection, "lake-gauge", GOUZHAO, ALIBABA)

        async def listed() -> pb.ListIncidentsResponse:
            reply: pb.ListIncidentsResponse = await stub.ListIncidents(
                pb.ListIncidentsRequest(), metadata=ALIBABA
            )
            return reply

        found = await eventually(listed, lambda r: len(r.incidents) >= 1, 30, "the lake's flood incident")
        (incident,) = found.incidents
        assert incident.district == common_pb2.DISTRICT_GOUZHAO
        assert incident.type == "flood"
        assert list(incident.device_ids) == ["lake-gauge"]

        # The Wutong flood was opened too, but it is not this peak's.
        async def everywhere() -> pb.ListIncidentsResponse:
            reply: pb.ListIncidentsResponse = await stub.ListIncidents(
                pb.ListIncidentsRequest(), metadata=ADMIN
            )
            return reply

        assert len((await everywhere()).incidents) == 1  # the platform, through this peak: still Gouzhao only
        async with grpc.aio.insecure_channel(platform.addresses["governance"]) as channel:
            all_of_them = await eventually(
                lambda: incidents_pb2_grpc.IncidentServiceStub(channel).ListIncidents(
                    incidents_pb2.ListIncidentsRequest(), metadata=ADMIN
                ),
                lambda r: len(r.incidents) == 2,
                30,
                "both floods",
            )
        wutong = next(i for i in all_of_them.incidents if i.district == common_pb2.DISTRICT_WUTONG)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.AcknowledgeIncident(
                pb.AcknowledgeIncidentRequest(incident_id=wutong.incident_id), metadata=ADMIN
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.AcknowledgeIncident(
                pb.AcknowledgeIncidentRequest(incident_id=wutong.incident_id), metadata=ALIBABA
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND

        acknowledged = await stub.AcknowledgeIncident(
            pb.AcknowledgeIncidentRequest(incident_id=incident.incident_id), metadata=ALIBABA
        )
        assert acknowledged.incident.state == incidents_pb2.INCIDENT_STATE_ACKNOWLEDGED
        assert acknowledged.incident.acknowledged_by == "alibaba-cloud"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ResolveIncident(
                pb.ResolveIncidentRequest(incident_id=incident.incident_id), metadata=ALIBABA
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # governance wants a resolution note
        resolved = await stub.ResolveIncident(
            pb.ResolveIncidentRequest(
                incident_id=incident.incident_id, resolution="sluice opened; level falling"
            ),
            metadata=ALIBABA,
        )
        assert resolved.incident.state == incidents_pb2.INCIDENT_STATE_RESOLVED
        assert resolved.incident.resolution == "sluice opened; level falling"
        open_ones = await stub.ListIncidents(
            pb.ListIncidentsRequest(states=[incidents_pb2.INCIDENT_STATE_OPEN]), metadata=ALIBABA
        )
        assert list(open_ones.incidents) == []
