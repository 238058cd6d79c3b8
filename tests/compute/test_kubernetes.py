"""The Kubernetes executor: its manifests pass the Kubernetes schemas, and a job run through it
(with a fake API server whose "pods" run `citymesh job exec`'s code here) gives the kernel's result,
joined from the shards of an Indexed Job."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import numpy as np
import pytest

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.compute.domain import Job, Priority
from citymesh.compute.kernels import kernel
from citymesh.compute.kubernetes import (
    KubernetesExecutor,
    KubernetesOptions,
    as_dict,
    execute_in_pod,
    manifest,
)
from citymesh.compute.store import JobStore
from citymesh.compute.worker import Worker
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings
from tests.compute.conftest import StartCompute
from tests.polling import eventually

K8S_VERSION = "1.33"


def job(kernel_name: str) -> Job:
    return Job(
        job_id="0123456789abcdef0123456789abcdef",
        tenant="huawei",
        kernel=kernel_name,
        params={},
        priority=Priority.NORMAL,
    )


@pytest.mark.parametrize(("kernel_name", "shards"), [("idw_grid", 4), ("flood_sim", 1)])
def test_the_job_manifest_is_valid_and_indexed_for_shardable_kernels(kernel_name: str, shards: int) -> None:
    body = as_dict(manifest(job(kernel_name), KubernetesOptions(shards=4)))
    kubernetes_validate.validate(body, K8S_VERSION, strict=True)
    spec = body["spec"]
    assert spec["completions"] == spec["parallelism"] == shards
    assert spec["completionMode"] == ("Indexed" if shards > 1 else "NonIndexed")
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == [
        "citymesh",
        "job",
        "exec",
        job(kernel_name).job_id,
        "--shards",
        str(shards),
    ]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"name": "NUMBA_CACHE_DIR", "value": "/var/cache/numba"} in container["env"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_a_broken_manifest_is_caught_by_the_schema() -> None:
    body = as_dict(manifest(job("idw_grid"), KubernetesOptions()))
    body["spec"]["completions"] = "four"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, K8S_VERSION, strict=True)


class FakeBatch:
    """A Kubernetes API server whose Job "pods" the test runs (see `pods`)."""

    def __init__(self) -> None:
        self.created: list[Any] = []
        self.deleted: list[str] = []
        self.succeeded = 0
        self.lock = threading.Lock()
        self.created_event = threading.Event()

    def create_namespaced_job(self, namespace: str, body: Any) -> Any:
        kubernetes_validate.validate(as_dict(body), K8S_VERSION, strict=True)
        self.created.append(body)
        self.created_event.set()
        return body

    def read_namespaced_job_status(self, name: str, namespace: str) -> Any:
        with self.lock:
            return SimpleNamespace(status=SimpleNamespace(succeeded=self.succeeded, conditions=[]))

    def delete_namespaced_job(self, name: str, namespace: str, propagation_policy: str) -> Any:
        self.deleted.append(name)


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[JobStore]:
    bus = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test-k8s")
    try:
        yield await JobStore.open(bus)
    finally:
        await bus.close()


async def pods(api: FakeBatch, store: JobStore, run: bool = True) -> None:
    """Play the kubelet: once the Job exists, run each of its pods (the code `citymesh job exec` runs)."""
    await asyncio.to_thread(api.created_event.wait, 30)
    body = api.created[-1]
    job_id = body.spec.template.spec.containers[0].command[3]
    shards = body.spec.completions
    if not run:
        return
    for shard in range(shards):
        await execute_in_pod(store, job_id, shard, shards)
        with api.lock:
            api.succeeded += 1


async def test_a_large_job_runs_as_an_indexed_kubernetes_job_and_its_shards_are_joined(
    start_compute: StartCompute, store: JobStore
) -> None:
    api = FakeBatch()
    rng = np.random.default_rng(8)
    sensors = {"x": rng.uniform(0, 300, 20), "y": rng.uniform(0, 250, 20), "value": rng.uniform(5, 80, 20)}
    async with start_compute(workers=0) as compute:
        executor = KubernetesExecutor(store, api, KubernetesOptions(shards=3), poll_s=0.02)
        worker = Worker(
            store.bus,
            store,
            worker_id="k8s-worker",
            ack_wait_s=3.0,
            poll_s=0.05,
            kubernetes=executor,
            kubernetes_min_elements=1,
        )
        await worker.start()
        try:
            me = compute.as_tenant("huawei")
            submitted = await me.submit("idw_grid", sensors, {"nx": 30, "ny": 25})
            kubelet = asyncio.create_task(pods(api, store))
            done = await me.finished(submitted.job_id)
            await kubelet
        finally:
            await worker.stop()
        assert done.state == pb.JOB_STATE_SUCCEEDED, done.error
        assert api.created[0].spec.completion_mode == "Indexed"
        _, data = await me.result(submitted.job_id)
    field = np.load(io.BytesIO(data), allow_pickle=False)
    expected = kernel("idw_grid").prepare(sensors, {"nx": 30, "ny": 25}).reference()["field"]
    np.testing.assert_allclose(field, expected, rtol=1e-9)


async def test_cancelling_a_kubernetes_job_deletes_it(start_compute: StartCompute, store: JobStore) -> None:
    api = FakeBatch()
    async with start_compute(workers=0) as compute:
        executor = KubernetesExecutor(store, api, KubernetesOptions(), poll_s=0.02)
        worker = Worker(
            store.bus,
            store,
            worker_id="k8s-worker",
            ack_wait_s=3.0,
            poll_s=0.05,
            kubernetes=executor,
            kubernetes_min_elements=1,
        )
        await worker.start()
        try:
            me = compute.as_tenant("huawei")
            submitted = await me.submit("flood_sim", {"terrain": np.zeros((8, 8))}, {"steps": 10})
            await pods(api, store, run=False)
            await eventually(lambda: me.get(submitted.job_id), lambda j: j.state == pb.JOB_STATE_RUNNING)
            await me.cancel(submitted.job_id)
            done = await me.finished(submitted.job_id)
        finally:
            await worker.stop()
    assert done.state == pb.JOB_STATE_CANCELLED
    assert api.deleted == [api.created[0].metadata.name]
