"""Data sharing seen from the peaks: two tenants, each through its own peak, in front of a real
collection and exchange. alibaba-cloud publishes a dataset of its Gouzhao telemetry; huawei asks
for it through its peak; alibaba decides through its own; huawei exports it as Arrow through its
peak until the grant expires or is revoked. Every call carries the caller's own identity, so the
exchange decides and audits as if the tenant had called it."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pyarrow as pa
import pytest
from google.protobuf import duration_pb2

from citymesh.api.collection.v1 import collection_pb2, collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as xpb
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.api.peak.v1 import peak_pb2_grpc
from tests.audit import audit_records
from tests.peak.conftest import ALIBABA, GOUZHAO, HUAWEI, Platform, StartPlatform
from tests.polling import eventually

DATASET = "alibaba-cloud.lake-air"


class Clock:
    """The exchange's clock: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


def export_request(now_ms: int, **fields: Any) -> pb.ExportReadingsRequest:
    request = xpb.ExportReadingsRequest(**fields)
    request.time_range.start.FromMilliseconds(now_ms - 60_000)
    request.time_range.end.FromMilliseconds(now_ms + 60_000)
    return pb.ExportReadingsRequest(request=request)


async def export(stub: peak_pb2_grpc.PeakServiceStub, request: pb.ExportReadingsRequest, md: Any) -> pa.Table:
    chunks = [r.chunk async for r in stub.ExportReadings(request, metadata=md)]
    assert chunks[-1].rows_sent == chunks[-1].rows_total
    return pa.ipc.open_stream(b"".join(c.arrow_ipc for c in chunks)).read_all()


async def refused(call: Any, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    return str(info.value.details())


async def drain(call: Any) -> None:
    async for _ in call:
        pass


async def lake_readings(platform: Platform, now_ms: int) -> None:
    """alibaba-cloud's air and noise sensors by the lake, registered through its peak, and three
    readings each, ingested as the tenant; waits until the exchange has them."""
    for device_id, kind in (
        ("lake-air-1", common_pb2.DEVICE_KIND_AIR),
        ("lake-noise-1", common_pb2.DEVICE_KIND_NOISE),
    ):
        await platform.stub.RegisterDevice(
            pb.RegisterDeviceRequest(
                device_id=device_id,
                kind=kind,
                position=common_pb2.GeoPoint(longitude=GOUZHAO[0], latitude=GOUZHAO[1]),
            ),
            metadata=ALIBABA,
        )
    batch = collection_pb2.ReadingBatch(
        batch_id="lake-1",
        device_ids=["lake-air-1", "lake-noise-1"],
        device_index=[0, 0, 0, 1, 1, 1],
        time_unix_ms=[now_ms - 3000, now_ms - 2000, now_ms - 1000] * 2,
        values=[30.0, 40.0, 50.0, 61.0, 62.0, 63.0],
    )
    async with grpc.aio.insecure_channel(platform.addresses["collection"]) as channel:
        ack = await collection_pb2_grpc.CollectionServiceStub(channel).Ingest(
            collection_pb2.IngestRequest(batch=batch), metadata=ALIBABA
        )
    assert ack.ack.accepted == 6
    await eventually(
        lambda: export(platform.stub, export_request(now_ms), ALIBABA),
        lambda table: table.num_rows == 6,
        what="the exchange stored the lake's readings",
    )


async def test_a_dataset_published_requested_granted_and_exported_through_two_peaks(
    start_platform: StartPlatform,
) -> None:
    clock = Clock()
    async with start_platform("collection", "exchange", exchange_clock=clock) as platform:
        alibaba = platform.stub
        assert platform.start_peak is not None
        huawei = await platform.start_peak(tenant="huawei", district="fengyang")
        now_ms = int(time.time() * 1000)
        await lake_readings(platform, now_ms)

        own = await export(alibaba, export_request(now_ms), ALIBABA)
        assert sorted(own.column("device_id").to_pylist()) == ["lake-air-1"] * 3 + ["lake-noise-1"] * 3
        assert set(own.column("district").to_pylist()) == {"gouzhao"}, "no district named: the peak's own"

        published = await alibaba.PublishDataset(
            pb.PublishDatasetRequest(
                request=xpb.PublishDatasetRequest(
                    name="lake-air",
                    description="PM2.5 by Tianjian Lake",
                    visibility=xpb.VISIBILITY_SHARED,
                    selection=xpb.ReadingFilter(kinds=[common_pb2.DEVICE_KIND_AIR]),
                )
            ),
            metadata=ALIBABA,
        )
        assert (published.result.dataset.dataset_id, published.result.created) == (DATASET, True)
        listed = await huawei.ListDatasets(pb.ListDatasetsRequest(), metadata=HUAWEI)
        seen = {d.dataset_id: d for d in listed.result.datasets}
        assert DATASET in seen
        assert not seen[DATASET].readable

        wanted = export_request(now_ms, dataset_id=DATASET)
        before = await refused(
            drain(huawei.ExportReadings(wanted, metadata=HUAWEI)), grpc.StatusCode.PERMISSION_DENIED
        )
        assert before.startswith("exchange: ")
        # huawei's peak serves huawei only; alibaba's peak alibaba only.
        await refused(
            alibaba.ListGrants(pb.ListGrantsRequest(), metadata=HUAWEI), grpc.StatusCode.PERMISSION_DENIED
        )

        asked = await huawei.RequestAccess(
            pb.RequestAccessRequest(
                request=xpb.RequestAccessRequest(dataset_id=DATASET, purpose="5G siting")
            ),
            metadata=HUAWEI,
        )
        assert asked.result.grant.state == xpb.GRANT_STATE_REQUESTED
        pending = await alibaba.ListGrants(
            pb.ListGrantsRequest(request=xpb.ListGrantsRequest(dataset_id=DATASET)), metadata=ALIBABA
        )
        assert [(g.tenant, g.purpose) for g in pending.result.grants] == [("huawei", "5G siting")]
        # Only the owner decides: huawei granting itself through its own peak is the exchange's to refuse.
        await refused(
            huawei.GrantAccess(
                pb.GrantAccessRequest(
                    request=xpb.GrantAccessRequest(
                        dataset_id=DATASET, tenant="huawei", ttl=duration_pb2.Duration(seconds=60)
                    )
                ),
                metadata=HUAWEI,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        denied = await alibaba.DenyAccess(
            pb.DenyAccessRequest(
                request=xpb.DenyAccessRequest(dataset_id=DATASET, tenant="huawei", reason="not yet")
            ),
            metadata=ALIBABA,
        )
        assert denied.result.grant.state == xpb.GRANT_STATE_DENIED
        await huawei.RequestAccess(
            pb.RequestAccessRequest(
                request=xpb.RequestAccessRequest(dataset_id=DATASET, purpose="5G siting, again")
            ),
            metadata=HUAWEI,
        )
        granted = await alibaba.GrantAccess(
            pb.GrantAccessRequest(
                request=xpb.GrantAccessRequest(
                    dataset_id=DATASET, tenant="huawei", ttl=duration_pb2.Duration(seconds=60)
                )
            ),
            metadata=ALIBABA,
        )
        assert (granted.result.grant.state, granted.result.grant.decided_by) == (
            xpb.GRANT_STATE_GRANTED,
            "alibaba-cloud",
        )

        table = await export(huawei, wanted, HUAWEI)
        assert table.column("device_id").to_pylist() == ["lake-air-1"] * 3, "the dataset's selection only"
        assert table.column("value").to_pylist() == [30.0, 40.0, 50.0]
        mine = await huawei.ListGrants(pb.ListGrantsRequest(), metadata=HUAWEI)
        assert [g.state for g in mine.result.grants] == [xpb.GRANT_STATE_GRANTED]
        reads = await eventually(
            lambda: audit_records(platform.nats_url, "exchange", allowed=True),
            lambda rs: any(r["action"] == "ExportReadings" for r in rs),
            what="the export through the grant audited",
        )
        assert [(r["tenant"], r["resource"]) for r in reads if r["action"] == "ExportReadings"] == [
            ("huawei", f"dataset {DATASET}")
        ], "the exchange saw huawei, not its peak"

        clock.offset_s += 60

        expired = await refused(
            drain(huawei.ExportReadings(wanted, metadata=HUAWEI)), grpc.StatusCode.PERMISSION_DENIED
        )
        assert "expired" in expired

        await alibaba.GrantAccess(
            pb.GrantAccessRequest(
                request=xpb.GrantAccessRequest(
                    dataset_id=DATASET, tenant="huawei", ttl=duration_pb2.Duration(seconds=600)
                )
            ),
            metadata=ALIBABA,
        )
        assert (await export(huawei, wanted, HUAWEI)).num_rows == 3
        revoked = await alibaba.RevokeGrant(
            pb.RevokeGrantRequest(
                request=xpb.RevokeGrantRequest(dataset_id=DATASET, tenant="huawei", reason="study over")
            ),
            metadata=ALIBABA,
        )
        assert revoked.result.grant.state == xpb.GRANT_STATE_REVOKED
        cut = await refused(
            drain(huawei.ExportReadings(wanted, metadata=HUAWEI)), grpc.StatusCode.PERMISSION_DENIED
        )
        assert "study over" in cut


async def test_bad_exports_and_catalog_requests_are_invalid_argument_through_the_peak(
    start_platform: StartPlatform,
) -> None:
    async with start_platform("exchange") as platform:
        stub = platform.stub
        cases = {
            "ExportReadings": drain(stub.ExportReadings(pb.ExportReadingsRequest(), metadata=ALIBABA)),
            "PublishDataset": stub.PublishDataset(pb.PublishDatasetRequest(), metadata=ALIBABA),
            "RequestAccess": stub.RequestAccess(pb.RequestAccessRequest(), metadata=ALIBABA),
            "GrantAccess": stub.GrantAccess(pb.GrantAccessRequest(), metadata=ALIBABA),
            "DenyAccess": stub.DenyAccess(pb.DenyAccessRequest(), metadata=ALIBABA),
            "RevokeGrant": stub.RevokeGrant(pb.RevokeGrantRequest(), metadata=ALIBABA),
        }
        for name, call in cases.items():
            details = await refused(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert details.startswith("exchange: "), name
