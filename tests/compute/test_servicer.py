"""ComputeService against a real in-process gRPC server, a real nats-server and in-process workers."""

from __future__ import annotations

import io
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
import pytest

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.compute.kernels import kernel
from tests.compute.conftest import Compute, StartCompute
from tests.polling import eventually

IDW = {"x": [5.0, 95.0, 40.0], "y": [5.0, 55.0, 80.0], "value": [10.0, 30.0, 22.0]}


def load(data: bytes) -> npt.NDArray[Any]:
    array: npt.NDArray[Any] = np.load(io.BytesIO(data), allow_pickle=False)
    return array


async def test_a_submitted_job_runs_and_its_result_is_the_kernels_output(compute: Compute) -> None:
    me = compute.as_tenant("alibaba-cloud")
    job = await me.submit("idw_grid", IDW, {"nx": 12, "ny": 8})
    assert job.state == pb.JOB_STATE_QUEUED
    assert job.tenant == "alibaba-cloud"
    assert job.params["power"] == 2.0  # defaults filled in
    assert job.size == "8×12 cells × 3 sensors"
    done = await me.finished(job.job_id)
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error
    assert done.progress == 1.0
    assert done.attempts == 1
    assert [o.name for o in done.outputs] == ["field"]
    header, data = await me.result(job.job_id)
    assert header.name == "field"
    assert list(header.shape) == [8, 12]
    assert header.size_bytes == len(data)
    expected = kernel("idw_grid").prepare(IDW, {"nx": 12, "ny": 8}).reference()["field"]
    np.testing.assert_allclose(load(data), expected, rtol=1e-9)


async def test_a_result_is_streamed_in_chunks_and_a_named_output_can_be_fetched(
    start_compute: StartCompute,
) -> None:
    async with start_compute(result_chunk_bytes=1024) as compute:
        me = compute.as_tenant("huawei")
        stations = {"x": [100.0, 300.0], "y": [100.0, 250.0], "tx_dbm": [46.0, 43.0]}
        job = await me.submit("coverage_5g", stations, {"nx": 40, "ny": 30})
        assert (await me.finished(job.job_id)).state == pb.JOB_STATE_SUCCEEDED
        parts = [
            p
            async for p in compute.stub.GetResult(
                pb.GetResultRequest(job_id=job.job_id, output="server"), metadata=me.md
            )
        ]
        assert len(parts) > 1
        assert parts[0].output.dtype == "int32"
        server = load(b"".join(p.chunk for p in parts))
        assert server.shape == (30, 40)
        assert set(np.unique(server)) == {0, 1}


async def test_watch_streams_progress_until_the_job_is_final(compute: Compute) -> None:
    me = compute.as_tenant("alibaba-cloud")
    terrain = np.random.default_rng(1).normal(0, 1, (60, 60))
    job = await me.submit("flood_sim", {"terrain": terrain}, {"steps": 3000, "rain_m": 0.001})
    seen = [r.job async for r in compute.stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=me.md)]
    states = [j.state for j in seen]
    assert states[-1] == pb.JOB_STATE_SUCCEEDED
    assert pb.JOB_STATE_RUNNING in states
    progress = [j.progress for j in seen if j.state == pb.JOB_STATE_RUNNING]
    assert progress == sorted(progress)
    assert seen[-1].steps_done == seen[-1].steps_total > 1


async def test_cancel_stops_a_running_kernel_between_steps(compute: Compute) -> None:
    me = compute.as_tenant("alibaba-cloud")
    terrain = np.random.default_rng(2).normal(0, 1, (300, 300))
    job = await me.submit("flood_sim", {"terrain": terrain}, {"steps": 200_000})
    await eventually(
        lambda: me.get(job.job_id), lambda j: j.state == pb.JOB_STATE_RUNNING and j.steps_done > 0
    )
    asked = await me.cancel(job.job_id)
    assert asked.cancel_requested
    done = await me.finished(job.job_id, timeout=20)
    assert done.state == pb.JOB_STATE_CANCELLED
    assert 0 < done.steps_done < done.steps_total
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await me.result(job.job_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_cancel_of_a_queued_job_is_immediate(start_compute: StartCompute) -> None:
    async with start_compute(workers=0) as compute:
        me = compute.as_tenant("alibaba-cloud")
        job = await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        cancelled = await me.cancel(job.job_id)
        assert cancelled.state == pb.JOB_STATE_CANCELLED
        assert (await me.cancel(job.job_id)).state == pb.JOB_STATE_CANCELLED  # again: unchanged


async def test_bad_input_is_refused_at_submit_with_the_reason(compute: Compute) -> None:
    me = compute.as_tenant("alibaba-cloud")
    cases: list[tuple[str, dict[str, list[float]], dict[str, float], str]] = [
        ("idw_grid", {"x": [1.0, float("nan")], "y": [1.0, 2.0], "value": [1.0, 2.0]}, {}, "not finite"),
        ("idw_grid", {"x": [1.0], "y": [1.0], "value": [1.0]}, {"power": 50}, "power"),
        ("nope", IDW, {}, "no kernel"),
        ("idw_grid", {"x": [1.0]}, {}, "input y is required"),
    ]
    for name, arrays, params, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await me.submit(name, arrays, params)
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        assert reason in (err.value.details() or "")


async def test_the_tenant_comes_from_the_header_and_sees_only_its_jobs(compute: Compute) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compute.stub.GetJob(pb.GetJobRequest(job_id="x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-citymesh-tenant" in (err.value.details() or "")
    job = await compute.as_tenant("alibaba-cloud").submit("idw_grid", IDW, {"nx": 4, "ny": 4})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compute.as_tenant("huawei").get(job.job_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_quota_of_concurrent_jobs_is_enforced_and_named(start_compute: StartCompute) -> None:
    async with start_compute(workers=0, concurrent_jobs=2) as compute:
        me = compute.as_tenant("unisplendour")
        first = await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "concurrent_jobs" in (err.value.details() or "")
        # Another tenant is not affected; a cancelled job frees its place.
        await compute.as_tenant("huawei").submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        await me.cancel(first.job_id)
        await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})


async def test_quota_of_core_seconds_per_day_is_enforced_and_named(start_compute: StartCompute) -> None:
    quotas = '{"huawei": {"core_seconds_per_day": 0.000001}}'
    async with start_compute(tenant_quotas=quotas) as compute:
        me = compute.as_tenant("huawei")
        job = await me.submit("idw_grid", IDW, {"nx": 50, "ny": 50})
        done = await me.finished(job.job_id)
        assert done.core_seconds > 0
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await me.submit("idw_grid", IDW, {"nx": 4, "ny": 4})
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "core_seconds_per_day" in (err.value.details() or "")


async def test_a_flooding_tenant_does_not_starve_another(start_compute: StartCompute) -> None:
    async with start_compute(workers=0, concurrent_jobs=100) as compute:
        flood = compute.as_tenant("flooder")
        terrain = np.zeros((100, 100))
        queued = [await flood.submit("flood_sim", {"terrain": terrain}, {"steps": 200}) for _ in range(30)]
        other = await compute.as_tenant("patient").submit("idw_grid", IDW, {"nx": 4, "ny": 4})
    # One worker starts now; the other tenant's job must start among the first two jobs it takes.
    async with start_compute(workers=1, concurrent_jobs=100) as compute:
        patient = compute.as_tenant("patient")
        done = await patient.finished(other.job_id, timeout=60)
        assert done.state == pb.JOB_STATE_SUCCEEDED
        states = [(await compute.as_tenant("flooder").get(j.job_id)).state for j in queued]
        assert states.count(pb.JOB_STATE_SUCCEEDED) <= 2


async def test_list_kernels_gives_each_kernels_schema(compute: Compute) -> None:
    response = await compute.stub.ListKernels(pb.ListKernelsRequest())
    by_name = {k.name: k for k in response.kernels}
    assert set(by_name) == {
        "idw_grid",
        "coverage_5g",
        "anomaly_scan",
        "density_heatmap",
        "flood_sim",
        "route",
    }
    power = next(p for p in by_name["idw_grid"].params if p.name == "power")
    assert (power.kind, power.default, power.minimum, power.maximum) == ("float", 2.0, 0.5, 6.0)
    assert [i.name for i in by_name["route"].inputs][:3] == ["edge_from", "edge_to", "edge_time_s"]
    assert by_name["coverage_5g"].outputs == ["power_dbm", "server"]
