"""A peak's data and jobs go through the exchange and compute with the caller's identity: the
tenant's own district's telemetry, the kernels of the peak's theme, the tenant's own jobs."""

from __future__ import annotations

import time

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2, collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.compute.v1 import compute_pb2, compute_pb2_grpc
from citymesh.api.exchange.v1 import exchange_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from tests.peak.conftest import ALIBABA, GOUZHAO, HUAWEI, StartPlatform
from tests.polling import eventually

IDW = {
    "x": [5.0, 95.0, 40.0],
    "y": [5.0, 55.0, 80.0],
    "value": [10.0, 30.0, 22.0],
}


def idw_job(kernel: str = "idw_grid") -> compute_pb2.SubmitJobRequest:
    return compute_pb2.SubmitJobRequest(
        kernel=kernel,
        params={"nx": 4, "ny": 4},
        inline=compute_pb2.InlineInput(
            arrays=[compute_pb2.Array(name=k, float64_values=v) for k, v in IDW.items()]
        ),
    )


async def test_queries_read_the_tenants_district_through_the_exchange(start_platform: StartPlatform) -> None:
    async with start_platform("collection", "exchange") as platform:
        stub = platform.stub
        await stub.RegisterDevice(
            pb.RegisterDeviceRequest(
                device_id="lake-air-1",
                kind=common_pb2.DEVICE_KIND_AIR,
                position=common_pb2.GeoPoint(longitude=GOUZHAO[0], latitude=GOUZHAO[1]),
            ),
            metadata=ALIBABA,
        )
        now = int(time.time() * 1000)
        batch = collection_pb2.ReadingBatch(
            batch_id="lake-1",
            device_ids=["lake-air-1"],
            device_index=[0, 0, 0],
            time_unix_ms=[now - 3000, now - 2000, now - 1000],
            values=[30.0, 40.0, 50.0],
        )
        async with grpc.aio.insecure_channel(platform.addresses["collection"]) as channel:
            ack = await collection_pb2_grpc.CollectionServiceStub(channel).Ingest(
                collection_pb2.IngestRequest(batch=batch), metadata=ALIBABA
            )
        assert ack.ack.accepted == 3

        query = exchange_pb2.QueryRequest(group_by=[exchange_pb2.GROUP_BY_DISTRICT])
        query.time_range.start.FromMilliseconds(now - 60_000)
        query.time_range.end.FromMilliseconds(now + 60_000)

        async def ask() -> pb.QueryDataResponse:
            answer: pb.QueryDataResponse = await stub.QueryData(
                pb.QueryDataRequest(query=query), metadata=ALIBABA
            )
            return answer

        answer = await eventually(ask, lambda a: sum(r.count for r in a.result.rows) == 3, what="3 readings")
        (row,) = answer.result.rows
        assert row.district == common_pb2.DISTRICT_GOUZHAO
        assert row.mean == pytest.approx(40.0)

        # Another sub-district's telemetry is the exchange's to refuse: the query went as the tenant.
        wutong = exchange_pb2.QueryRequest()
        wutong.CopyFrom(query)
        wutong.filter.districts.append(common_pb2.DISTRICT_WUTONG)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.QueryData(pb.QueryDataRequest(query=wutong), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert str(info.value.details()).startswith("exchange: ")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.QueryData(pb.QueryDataRequest(query=exchange_pb2.QueryRequest()), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_jobs_run_the_themes_kernels_as_the_tenant(start_platform: StartPlatform) -> None:
    async with start_platform("compute") as platform:
        stub = platform.stub
        kernels = await stub.ListKernels(pb.ListKernelsRequest(), metadata=ALIBABA)
        assert [k.name for k in kernels.kernels] == ["anomaly_scan", "flood_sim", "idw_grid"]
        assert all(k.params or k.inputs for k in kernels.kernels)

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.SubmitJob(pb.SubmitJobRequest(job=idw_job("coverage_5g")), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "offers: anomaly_scan, flood_sim, idw_grid" in str(info.value.details())

        submitted = await stub.SubmitJob(pb.SubmitJobRequest(job=idw_job()), metadata=ALIBABA)
        job = submitted.job
        assert job.tenant == "alibaba-cloud"  # compute saw the tenant, not the peak
        assert job.state == compute_pb2.JOB_STATE_QUEUED
        assert (
            await stub.GetJob(pb.GetJobRequest(job_id=job.job_id), metadata=ALIBABA)
        ).job.job_id == job.job_id
        cancelled = await stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id), metadata=ALIBABA)
        assert cancelled.job.state == compute_pb2.JOB_STATE_CANCELLED

        # A job of another tenant is not found through this peak.
        async with grpc.aio.insecure_channel(platform.addresses["compute"]) as channel:
            theirs = await compute_pb2_grpc.ComputeServiceStub(channel).SubmitJob(idw_job(), metadata=HUAWEI)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetJob(pb.GetJobRequest(job_id=theirs.job.job_id), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CancelJob(pb.CancelJobRequest(job_id=theirs.job.job_id), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
