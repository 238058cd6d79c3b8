"""A compute worker process: `citymesh serve compute-worker` (the chart's worker Deployment).

The same workers as `citymesh serve compute` with CITYMESH_WORKERS, without the API: it serves
only gRPC health (and reflection), so that Kubernetes probes it like every citymesh process; its
work comes from the JOBS queue. SIGTERM stops it between two steps of the kernel it runs and gives
the job back to the queue, where another worker takes it at once.
"""

from __future__ import annotations

from typing import ClassVar

import grpc

from citymesh.compute.app import WorkerSettings, batch_api
from citymesh.compute.kubernetes import KubernetesExecutor
from citymesh.compute.store import JobStore
from citymesh.compute.worker import Worker, default_worker_id
from citymesh.runtime.bus import COMPUTE_RESOURCES, Bus


class Settings(WorkerSettings):
    service: ClassVar[str] = "compute-worker"


class App:
    name = "compute-worker"
    service_names: ClassVar[list[str]] = []
    resources: ClassVar[list[str]] = COMPUTE_RESOURCES

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.worker: Worker | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        store = await JobStore.open(bus)
        executor = (
            KubernetesExecutor(store, batch_api(), s.kubernetes_options())
            if s.executor == "kubernetes"
            else None
        )
        self.worker = Worker(
            bus,
            store,
            worker_id=s.worker_id or default_worker_id(),
            ack_wait_s=s.ack_wait_s,
            poll_s=s.poll_s,
            kubernetes=executor,
            kubernetes_min_elements=s.k8s_min_elements,
        )
        await self.worker.start()

    def register(self, server: grpc.aio.Server) -> None:
        """Nothing beyond health and reflection."""

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
