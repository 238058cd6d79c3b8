"""What the compute API does, between the servicer (transport) and the store (NATS): submit with
validation and quotas, get, watch, cancel, and read results."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy.typing as npt

from citymesh.compute import domain
from citymesh.compute.domain import Job, Priority, Quota, State
from citymesh.compute.kernels import kernel
from citymesh.compute.store import JobStore
from citymesh.runtime import errors
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity

log = logging.getLogger("citymesh.compute")


class ComputeService:
    def __init__(
        self,
        store: JobStore,
        default_quota: Quota,
        quotas: dict[str, dict[str, float]],
        max_input_bytes: int,
        access: Access | None = None,
    ) -> None:
        self.access = access or Access(None, "compute")
        self.store = store
        self.default_quota = default_quota
        self.quotas = quotas
        self.max_input_bytes = max_input_bytes

    def quota_of(self, tenant: str) -> Quota:
        given = self.quotas.get(tenant, {})
        return Quota(
            concurrent_jobs=int(given.get("concurrent_jobs", self.default_quota.concurrent_jobs)),
            core_seconds_per_day=given.get("core_seconds_per_day", self.default_quota.core_seconds_per_day),
        )

    async def submit(
        self,
        tenant: str,
        kernel_name: str,
        params: dict[str, float],
        arrays: dict[str, npt.NDArray[Any]],
        priority: Priority,
    ) -> Job:
        k = kernel(kernel_name)
        size = sum(a.nbytes for a in arrays.values())
        if size > self.max_input_bytes:
            raise errors.ResourceExhausted(
                f"inputs of {size:,} bytes; the limit of one job is {self.max_input_bytes:,} bytes"
            )
        resolved = k.resolve_params(params)
        plan = k.prepare(arrays, resolved)  # every input checked now, so a bad job never queues
        del plan
        now = domain.now_s()
        job = domain.new_job(tenant, k.name, resolved, priority, k.size(arrays, resolved), now)
        await self._admit(job)
        try:
            await self.store.put_inputs(job.job_id, arrays)
            await self.store.create(job)
            await self.store.enqueue(job)
        except BaseException:
            await self.store.release(job, 0.0)
            raise
        log.info(
            "job queued",
            extra={"job_id": job.job_id, "tenant": tenant, "kernel": k.name, "size": job.size},
        )
        return job

    async def _admit(self, job: Job) -> None:
        quota = self.quota_of(job.tenant)
        now = job.submitted
        try:
            await self.store.change_usage(
                job.tenant, lambda u: domain.admit(u, job.tenant, quota, job.job_id, now)
            )
        except errors.ResourceExhausted:
            # Jobs whose release was lost (a worker killed between finishing and releasing) still
            # count: drop the final ones and try once more.
            usage = await self.store.usage_of(job.tenant)
            final = await self.store.final_among(usage.active)
            if not final:
                raise
            await self.store.change_usage(job.tenant, lambda u: domain.forget(u, final))
            await self.store.change_usage(
                job.tenant, lambda u: domain.admit(u, job.tenant, quota, job.job_id, now)
            )

    async def _own(self, who: Identity, job_id: str, action: str) -> Job:
        """The caller's job. Another tenant's is NotFound, word for word as a missing one, and the
        attempt is audited; no role sees another tenant's jobs."""
        try:
            return await self.store.job_of(who.tenant, job_id)
        except errors.NotFound:
            with contextlib.suppress(errors.NotFound):
                await self.store.get(job_id)  # it exists: another tenant's
                await self.access.record(
                    who, action, f"job {job_id}", False, f"job {job_id} belongs to another tenant"
                )
            raise

    async def get(self, who: Identity, job_id: str) -> Job:
        return await self._own(who, job_id, "GetJob")

    async def watch(self, who: Identity, job_id: str) -> AsyncIterator[Job]:
        await self._own(who, job_id, "WatchJob")
        async for job in self.store.watch(job_id):
            yield job
            if job.state.final:
                return

    async def cancel(self, who: Identity, job_id: str) -> Job:
        await self._own(who, job_id, "CancelJob")
        now = domain.now_s()
        job = await self.store.change(job_id, lambda j: domain.cancel(j, now))
        if job.state == State.CANCELLED and job.finished == now:
            await self.store.release(job, 0.0)
        return job

    async def result(self, who: Identity, job_id: str, output: str) -> tuple[domain.OutputInfo, bytes]:
        job = await self._own(who, job_id, "GetResult")
        info = job.output(output)
        return info, await self.store.get_output(job_id, info.name)
