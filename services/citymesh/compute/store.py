"""The compute service's state on NATS: job records (KV, compare-and-set), quota use (KV), the
JOBS work queue, and artifacts (object store: inputs as .npz, outputs as .npy, named by job id so
that a rerun after a crash overwrites rather than duplicates)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError, ObjectNotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from citymesh.compute import domain
from citymesh.compute.domain import Job, Usage
from citymesh.runtime import errors
from citymesh.runtime.bus import (
    ARTIFACTS_STORE,
    COMPUTE_USAGE_BUCKET,
    JOBS_BUCKET,
    Bus,
    jobs_subject,
)

log = logging.getLogger("citymesh.compute.store")

CAS_TRIES = 50


def inputs_name(job_id: str) -> str:
    return f"inputs/{job_id}.npz"


def output_name(job_id: str, output: str) -> str:
    return f"results/{job_id}/{output}.npy"


def npy_bytes(array: npt.NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class JobStore:
    def __init__(self, bus: Bus, jobs: KeyValue, usage: KeyValue, artifacts: ObjectStore) -> None:
        self.bus = bus
        self.jobs = jobs
        self.usage = usage
        self.artifacts = artifacts

    @classmethod
    async def open(cls, bus: Bus) -> JobStore:
        return cls(
            bus,
            await bus.kv(JOBS_BUCKET),
            await bus.kv(COMPUTE_USAGE_BUCKET),
            await bus.object_store(ARTIFACTS_STORE),
        )

    # --- job records ----------------------------------------------------------------------------

    async def get(self, job_id: str) -> tuple[Job, int]:
        try:
            entry = await self.jobs.get(job_id)
        except (KeyNotFoundError, NotFoundError):
            raise errors.NotFound(f"no job {job_id}") from None
        if entry.value is None or entry.revision is None:
            raise errors.NotFound(f"no job {job_id}")
        return Job.from_json(entry.value), entry.revision

    async def job_of(self, tenant: str, job_id: str) -> Job:
        """The tenant's job; NotFound for another tenant's (it may not learn that it exists)."""
        if not job_id or "." in job_id or "*" in job_id or ">" in job_id:
            raise errors.InvalidArgument(f"job_id {job_id!r} is not a job id")
        job, _ = await self.get(job_id)
        if job.tenant != tenant:
            raise errors.NotFound(f"no job {job_id}")
        return job

    async def create(self, job: Job) -> None:
        await self.jobs.create(job.job_id, job.to_json())

    async def change(self, job_id: str, fn: Callable[[Job], Job]) -> Job:
        """Apply `fn` to the latest record by compare-and-set, retrying when another party won."""
        for _ in range(CAS_TRIES):
            job, revision = await self.get(job_id)
            new = fn(job)
            if new == job:
                return job
            try:
                await self.jobs.update(job_id, new.to_json(), last=revision)
                return new
            except KeyWrongLastSequenceError:
                continue
        raise errors.Unavailable(f"job {job_id} changed {CAS_TRIES} times while being updated; retry")

    async def watch(self, job_id: str) -> AsyncIterator[Job]:
        """The job's record now and after each change, until the caller stops."""
        watcher = await self.jobs.watch(job_id)
        try:
            async for entry in watcher:
                if entry is None or entry.value is None or entry.operation is not None:
                    continue
                yield Job.from_json(entry.value)
        finally:
            await watcher.stop()

    # --- quota use ------------------------------------------------------------------------------

    async def change_usage(self, tenant: str, fn: Callable[[Usage], Usage]) -> Usage:
        for _ in range(CAS_TRIES):
            try:
                entry = await self.usage.get(tenant)
                current, revision = Usage.from_json(entry.value), entry.revision
            except (KeyNotFoundError, NotFoundError):
                current, revision = Usage(), None
            new = fn(current)
            if new == current:
                return current
            try:
                if revision is None:
                    await self.usage.create(tenant, new.to_json())
                else:
                    await self.usage.update(tenant, new.to_json(), last=revision)
                return new
            except KeyWrongLastSequenceError:
                continue
            except Exception as exc:  # create raced with another create
                if "wrong last sequence" in str(exc).lower() or "already exists" in str(exc).lower():
                    continue
                raise
        raise errors.Unavailable(
            f"quota use of {tenant} changed {CAS_TRIES} times while being updated; retry"
        )

    async def usage_of(self, tenant: str) -> Usage:
        try:
            entry = await self.usage.get(tenant)
        except (KeyNotFoundError, NotFoundError):
            return Usage()
        return Usage.from_json(entry.value)

    async def final_among(self, job_ids: tuple[str, ...]) -> set[str]:
        """Which of these jobs are final (or gone)."""
        final: set[str] = set()
        for job_id in job_ids:
            try:
                job, _ = await self.get(job_id)
            except errors.NotFound:
                final.add(job_id)
                continue
            if job.state.final:
                final.add(job_id)
        return final

    async def release(self, job: Job, core_seconds: float) -> None:
        now = domain.now_s()
        await self.change_usage(job.tenant, lambda u: domain.release(u, job.job_id, core_seconds, now))

    # --- the queue ------------------------------------------------------------------------------

    async def enqueue(self, job: Job) -> None:
        await self.bus.publish(jobs_subject(job.tenant, job.priority.value), job.job_id.encode(), job.job_id)

    # --- artifacts ------------------------------------------------------------------------------

    async def put_inputs(self, job_id: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        await self.artifacts.put(inputs_name(job_id), buffer.getvalue())

    async def get_inputs(self, job_id: str) -> dict[str, npt.NDArray[Any]]:
        result = await self.artifacts.get(inputs_name(job_id))
        with np.load(io.BytesIO(result.data or b""), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    async def put_output(self, job_id: str, name: str, array: npt.NDArray[Any]) -> domain.OutputInfo:
        data = await asyncio.to_thread(npy_bytes, array)
        await self.artifacts.put(output_name(job_id, name), data)
        return domain.OutputInfo(name, str(array.dtype), tuple(int(d) for d in array.shape), len(data))

    async def get_output(self, job_id: str, name: str) -> bytes:
        try:
            result = await self.artifacts.get(output_name(job_id, name))
        except (ObjectNotFoundError, NotFoundError):
            raise errors.NotFound(f"the output {name} of job {job_id} is not in the object store") from None
        return result.data or b""
