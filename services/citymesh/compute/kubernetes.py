"""The Kubernetes executor: a large job runs as a Kubernetes Job instead of inside the worker.

The worker still claims the job, keeps its message alive and records its outcome; what changes is
where the kernel runs. It builds a batch/v1 Job (with the `kubernetes` client's models) whose
pods run `citymesh job exec <job id>`: each pod reads the job's inputs from the object store, runs
the kernel and writes its outputs back. A shardable kernel (its steps are bands of grid rows)
runs as an Indexed Job of N completions: pod i (JOB_COMPLETION_INDEX) runs the i-th contiguous
run of steps and writes only its rows, as `results/<job>/shards/<i>/<output>.npy`; the worker then
joins the bands into the job's outputs. Progress is the pods that completed; a cancel deletes the
Job (its pods with it). The pod is hardened like every citymesh pod: non-root, read-only root
filesystem, all capabilities dropped; Numba's cache is an emptyDir (NUMBA_CACHE_DIR).

The local executor (worker processes) is the default: CITYMESH_EXECUTOR=kubernetes turns this on
for jobs of at least CITYMESH_K8S_MIN_ELEMENTS input elements.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from kubernetes import client as k8s

from citymesh.compute import domain
from citymesh.compute.domain import Job
from citymesh.compute.kernels import Cancelled, kernel, run
from citymesh.compute.kernels.spec import Plan, blocks
from citymesh.compute.store import JobStore, npy_bytes, output_name
from citymesh.runtime import errors

log = logging.getLogger("citymesh.compute.kubernetes")

CACHE_DIR = "/var/cache/numba"


@dataclass(frozen=True)
class KubernetesOptions:
    namespace: str = "citymesh"
    image: str = "citymesh:latest"
    service_account: str = "citymesh-compute-job"
    nats_url: str = "nats://nats:4222"
    shards: int = 4
    cpu: str = "2"
    memory: str = "4Gi"
    ttl_s: int = 3600
    deadline_s: int = 6 * 3600


def job_name(job: Job) -> str:
    return f"citymesh-job-{job.job_id[:24]}"


def shards_of(job: Job, options: KubernetesOptions) -> int:
    return options.shards if kernel(job.kernel).shardable and options.shards > 1 else 1


def manifest(job: Job, options: KubernetesOptions) -> k8s.V1Job:
    """The batch/v1 Job running `job` (Indexed, one shard per pod, for shardable kernels)."""
    shards = shards_of(job, options)
    labels = {
        "app.kubernetes.io/name": "citymesh",
        "app.kubernetes.io/component": "compute-job",
        "citymesh.io/job-id": job.job_id,
        "citymesh.io/tenant": job.tenant,
        "citymesh.io/kernel": job.kernel.replace("_", "-"),
    }
    container = k8s.V1Container(
        name="kernel",
        image=options.image,
        command=["citymesh", "job", "exec", job.job_id, "--shards", str(shards)],
        env=[
            k8s.V1EnvVar(name="CITYMESH_NATS_URL", value=options.nats_url),
            k8s.V1EnvVar(name="NUMBA_CACHE_DIR", value=CACHE_DIR),
            k8s.V1EnvVar(name="NUMBA_NUM_THREADS", value=options.cpu),
        ],
        resources=k8s.V1ResourceRequirements(
            requests={"cpu": options.cpu, "memory": options.memory},
            limits={"cpu": options.cpu, "memory": options.memory},
        ),
        security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        volume_mounts=[
            k8s.V1VolumeMount(name="numba-cache", mount_path=CACHE_DIR),
            k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
        ],
    )
    pod = k8s.V1PodSpec(
        restart_policy="Never",
        service_account_name=options.service_account,
        automount_service_account_token=False,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=10001,
            fs_group=10001,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        containers=[container],
        volumes=[
            k8s.V1Volume(name="numba-cache", empty_dir=k8s.V1EmptyDirVolumeSource()),
            k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
        ],
    )
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(name=job_name(job), namespace=options.namespace, labels=labels),
        spec=k8s.V1JobSpec(
            completions=shards,
            parallelism=shards,
            completion_mode="Indexed" if shards > 1 else "NonIndexed",
            backoff_limit=2 * shards,
            ttl_seconds_after_finished=options.ttl_s,
            active_deadline_seconds=options.deadline_s,
            template=k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels=labels), spec=pod),
        ),
    )


def as_dict(obj: Any) -> dict[str, Any]:
    """A client model as the plain dict kubectl would send (camelCase, no nulls)."""
    out: dict[str, Any] = k8s.ApiClient().sanitize_for_serialization(obj)
    return out


# --- inside the pod: `citymesh job exec` ----------------------------------------------------------


def shard_steps(plan: Plan, shard: int, shards: int) -> tuple[int, int]:
    """The contiguous run of steps shard `shard` of `shards` runs."""
    first, last = blocks(plan.steps, shards)[shard] if shard < min(shards, plan.steps) else (0, 0)
    return first, last


def shard_rows(plan: Any, first: int, last: int) -> tuple[int, int]:
    """The grid rows that steps [first, last) of a row-banded plan write."""
    if first >= last:
        return 0, 0
    return int(plan.rows[first][0]), int(plan.rows[last - 1][1])


def shard_name(job_id: str, shard: int, output: str) -> str:
    return f"results/{job_id}/shards/{shard}/{output}.npy"


async def execute_in_pod(store: JobStore, job_id: str, shard: int, shards: int) -> None:
    """What one pod does: run the job (or its shard) and write the outputs (or its rows)."""
    job, _ = await store.get(job_id)
    arrays = await store.get_inputs(job_id)
    plan = await asyncio.to_thread(kernel(job.kernel).prepare, arrays, job.params)
    if shards == 1:
        outputs = await asyncio.to_thread(run, plan)
        for name, array in outputs.items():
            await store.put_output(job_id, name, array)
        return
    first, last = shard_steps(plan, shard, shards)

    def part() -> dict[str, npt.NDArray[Any]]:
        for i in range(first, last):
            plan.step(i)
        row0, row1 = shard_rows(plan, first, last)
        return {name: array[row0:row1] for name, array in plan.outputs().items()}

    for name, array in (await asyncio.to_thread(part)).items():
        await store.artifacts.put(shard_name(job_id, shard, name), npy_bytes(array))


# --- in the worker ------------------------------------------------------------------------------


class BatchApi(Protocol):
    """The part of kubernetes.client.BatchV1Api the executor uses (a fake one in tests)."""

    def create_namespaced_job(self, namespace: str, body: Any) -> Any: ...
    def read_namespaced_job_status(self, name: str, namespace: str) -> Any: ...
    def delete_namespaced_job(self, name: str, namespace: str, propagation_policy: str) -> Any: ...


class KubernetesExecutor:
    def __init__(
        self, store: JobStore, api: BatchApi, options: KubernetesOptions, poll_s: float = 1.0
    ) -> None:
        self.store = store
        self.api = api
        self.options = options
        self.poll_s = poll_s

    async def execute(
        self, job: Job, progress: Callable[[int, int], None], cancel: threading.Event
    ) -> tuple[domain.OutputInfo, ...]:
        body = manifest(job, self.options)
        shards = shards_of(job, self.options)
        name, namespace = job_name(job), self.options.namespace
        progress(0, shards)
        try:
            await asyncio.to_thread(self.api.create_namespaced_job, namespace, body)
        except Exception as exc:
            if "AlreadyExists" not in str(exc) and "409" not in str(exc):  # a rerun after a worker died
                raise errors.Unavailable(f"Kubernetes refused Job {name}: {exc}") from exc
        log.info("kubernetes job created", extra={"job_id": job.job_id, "k8s_job": name, "shards": shards})
        try:
            while True:
                status = (
                    await asyncio.to_thread(self.api.read_namespaced_job_status, name, namespace)
                ).status
                succeeded = int(status.succeeded or 0)
                progress(min(succeeded, shards), shards)
                if succeeded >= shards:
                    break
                if any(c.type == "Failed" and c.status == "True" for c in (status.conditions or [])):
                    raise errors.FailedPrecondition(f"Kubernetes Job {name} failed; see its pods' logs")
                if cancel.is_set():
                    raise Cancelled(f"cancelled after {succeeded} of {shards} shards")
                await asyncio.sleep(self.poll_s)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.api.delete_namespaced_job, name, namespace, "Background")
            raise
        return await self.collect(job, shards)

    async def collect(self, job: Job, shards: int) -> tuple[domain.OutputInfo, ...]:
        infos = []
        for out in kernel(job.kernel).outputs:
            if shards == 1:
                data = await self.store.get_output(job.job_id, out)
                array = np.load(io.BytesIO(data), allow_pickle=False)
                infos.append(domain.OutputInfo(out, str(array.dtype), tuple(array.shape), len(data)))
                continue
            parts = []
            for shard in range(shards):
                result = await self.store.artifacts.get(shard_name(job.job_id, shard, out))
                parts.append(np.load(io.BytesIO(result.data or b""), allow_pickle=False))
            infos.append(await self.store.put_output(job.job_id, out, np.concatenate(parts, axis=0)))
        return tuple(infos)


def wants_kubernetes(job: Job, input_elements: int, min_elements: int) -> bool:
    return min_elements > 0 and input_elements >= min_elements


__all__ = ["KubernetesExecutor", "KubernetesOptions", "as_dict", "execute_in_pod", "manifest", "output_name"]
