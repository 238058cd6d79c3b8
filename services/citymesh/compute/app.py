"""The compute service: settings and the App that `citymesh serve compute` runs.

`citymesh serve compute` serves the API and runs CITYMESH_WORKERS workers in the same process (0,
the default: the API only). `citymesh serve compute-worker` (worker_app.py) runs one worker and no
API: a deployment scales the two apart (the chart's compute-api and compute-worker). `citymesh up`
runs one compute process with one worker.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import grpc
from pydantic import Field, field_validator

from citymesh.compute.domain import Quota, parse_quotas
from citymesh.compute.exchange_input import ExchangeInputs
from citymesh.compute.kubernetes import KubernetesExecutor, KubernetesOptions
from citymesh.compute.service import ComputeService
from citymesh.compute.servicer import SERVICE, ComputeServicer, add_to_server
from citymesh.compute.store import JobStore
from citymesh.compute.worker import Worker, default_worker_id
from citymesh.runtime.access import Access
from citymesh.runtime.bus import AUDIT_STREAM, COMPUTE_RESOURCES, Bus
from citymesh.runtime.settings import ServiceSettings


class WorkerSettings(ServiceSettings):
    """What the workers of a compute process read."""

    service: ClassVar[str] = "compute"

    ack_wait_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds without a sign of life after which a job is redelivered to another worker.",
    )
    worker_id: str = Field("", description="Name of this worker in job records; default host-pid.")
    poll_s: float = Field(0.2, gt=0, le=60, description="Seconds an idle worker waits before looking again.")
    executor: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where large jobs run: local (in the worker) or kubernetes (as a Kubernetes Job).",
    )
    k8s_min_elements: int = Field(
        10_000_000,
        ge=1,
        description="With the kubernetes executor: jobs with this many input elements go there.",
    )
    k8s_namespace: str = Field("citymesh", description="Namespace of the Kubernetes Jobs.")
    k8s_image: str = Field("citymesh:latest", description="Image of the Kubernetes Jobs' pods.")
    k8s_service_account: str = Field("citymesh-compute-job", description="ServiceAccount of those pods.")
    k8s_shards: int = Field(4, ge=1, le=1000, description="Pods of an Indexed Job for a shardable kernel.")
    k8s_cpu: str = Field("2", description="CPU request and limit of each pod.")
    k8s_memory: str = Field("4Gi", description="Memory request and limit of each pod.")

    def kubernetes_options(self) -> KubernetesOptions:
        return KubernetesOptions(
            namespace=self.k8s_namespace,
            image=self.k8s_image,
            service_account=self.k8s_service_account,
            nats_url=self.nats_url,
            shards=self.k8s_shards,
            cpu=self.k8s_cpu,
            memory=self.k8s_memory,
        )


class Settings(WorkerSettings):
    """What the compute API process reads (besides every service's settings)."""

    service: ClassVar[str] = "compute"

    concurrent_jobs: int = Field(8, ge=1, description="Default quota: jobs of one tenant queued or running.")
    core_seconds_per_day: float = Field(
        36_000.0, gt=0, description="Default quota: CPU core-seconds of one tenant's jobs per UTC day."
    )
    tenant_quotas: str = Field(
        "",
        description='Quotas of named tenants, JSON: {"tenant": {"concurrent_jobs": n, "core_seconds_per_day": s}}.',
    )
    max_input_bytes: int = Field(
        512 * 1024 * 1024,
        gt=0,
        description="Largest inputs of one job, bytes (inline ones are also bounded by MAX_MESSAGE_BYTES).",
    )
    result_chunk_bytes: int = Field(1024 * 1024, ge=1024, description="Bytes per GetResult message.")
    exchange_address: str = Field(
        "", description="host:port of the exchange, for jobs whose input is a query."
    )
    workers: int = Field(0, ge=0, le=64, description="Workers this process runs (0: it serves the API only).")

    @field_validator("tenant_quotas")
    @classmethod
    def _quotas(cls, value: str) -> str:
        parse_quotas(value)
        return value


def batch_api() -> Any:
    """BatchV1Api with the pod's ServiceAccount (in a cluster) or ~/.kube/config (outside one)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.BatchV1Api()


class App:
    name = "compute"
    service_names: ClassVar[list[str]] = [SERVICE]
    resources: ClassVar[list[str]] = [*COMPUTE_RESOURCES, AUDIT_STREAM]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.exchange = ExchangeInputs(settings.exchange_address, settings.token)
        self.service: ComputeService | None = None
        self.workers: list[Worker] = []
        self._servicer: ComputeServicer | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        store = await JobStore.open(bus)
        self.service = ComputeService(
            store,
            Quota(s.concurrent_jobs, s.core_seconds_per_day),
            parse_quotas(s.tenant_quotas),
            s.max_input_bytes,
            Access(bus, "compute"),
        )
        self._servicer = ComputeServicer(self.service, self.exchange, s.result_chunk_bytes)
        base = s.worker_id or default_worker_id()
        executor = (
            KubernetesExecutor(store, batch_api(), s.kubernetes_options())
            if s.executor == "kubernetes"
            else None
        )
        for i in range(s.workers):
            worker = Worker(
                bus,
                store,
                worker_id=base if s.workers == 1 else f"{base}-{i}",
                ack_wait_s=s.ack_wait_s,
                poll_s=s.poll_s,
                kubernetes=executor,
                kubernetes_min_elements=s.k8s_min_elements,
            )
            await worker.start()
            self.workers.append(worker)

    def register(self, server: grpc.aio.Server) -> None:
        if self._servicer is None:
            raise RuntimeError("register before start")
        add_to_server(self._servicer, server)

    async def stop(self) -> None:
        for worker in self.workers:
            await worker.stop()
        await self.exchange.close()
