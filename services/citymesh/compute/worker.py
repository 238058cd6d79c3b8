"""Workers: take jobs from the JOBS work queue fairly, run them, keep them alive, record the outcome.

Fair share. Jobs are published on `jobs.<tenant>.<priority>`, one durable pull consumer per
subject (work-queue retention allows several consumers whose filters do not overlap). Before each
job a worker asks the stream which subjects hold messages (one `stream_info` with a subject
filter) and serves tenants round-robin, starting after the tenant it served last; within a tenant,
high before normal before low. A tenant that floods the queue therefore gets one job in turn like
any other: another tenant's job starts after at most one job of each other waiting tenant per
worker, and the concurrent-jobs quota bounds how many workers one tenant can hold.

Exactly one outcome. A worker claims a job by compare-and-set on its record (RUNNING, its worker
id, attempts + 1); while the kernel runs (in a thread) it sends `in_progress` on the message and a
heartbeat with the progress to the record every `heartbeat_s`. A worker that dies stops both:
JetStream redelivers the message after `ack_wait_s`, and the next worker sees a stale heartbeat
and takes the job over. A redelivered job already final is acknowledged without running. Results
are written under names keyed by the job id (a rerun overwrites, never duplicates) before the
record becomes SUCCEEDED, which happens once, by compare-and-set, only by the worker holding it.
Cancel: the heartbeat reads the record; `cancel_requested` stops the kernel between two steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.js import api

from citymesh.compute import domain
from citymesh.compute.domain import PRIORITIES, Claim, Job, State
from citymesh.compute.kernels import Cancelled, kernel, run
from citymesh.compute.kubernetes import KubernetesExecutor, wants_kubernetes
from citymesh.compute.store import JobStore
from citymesh.runtime import errors
from citymesh.runtime.bus import JOBS_STREAM, Bus, jobs_subject

log = logging.getLogger("citymesh.compute.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class FairQueue:
    """Round-robin across tenants with queued jobs; by priority within a tenant."""

    def __init__(self, bus: Bus, ack_wait_s: float, fetch_wait_s: float = 0.05) -> None:
        self.bus = bus
        self.ack_wait_s = ack_wait_s
        self.fetch_wait_s = fetch_wait_s
        self._subs: dict[str, Any] = {}
        self.last_tenant = ""

    async def waiting(self) -> dict[str, set[str]]:
        """Tenant → priorities with messages in the stream (queued or being run)."""
        info = await self.bus.js.stream_info(JOBS_STREAM, subjects_filter="jobs.>")
        out: dict[str, set[str]] = {}
        for subject, count in (info.state.subjects or {}).items():
            parts = subject.split(".")
            if count and len(parts) == 3:
                out.setdefault(parts[1], set()).add(parts[2])
        return out

    def order(self, tenants: list[str]) -> list[str]:
        ordered = sorted(tenants)
        after = [t for t in ordered if t > self.last_tenant]
        return after + [t for t in ordered if t <= self.last_tenant]

    async def next(self) -> Any | None:
        waiting = await self.waiting()
        for tenant in self.order(list(waiting)):
            for priority in PRIORITIES:
                if priority.value not in waiting[tenant]:
                    continue
                msg = await self._fetch(tenant, priority.value)
                if msg is not None:
                    self.last_tenant = tenant
                    return msg
        return None

    async def _fetch(self, tenant: str, priority: str) -> Any | None:
        subject = jobs_subject(tenant, priority)
        sub = self._subs.get(subject)
        if sub is None:
            sub = await self.bus.js.pull_subscribe(
                subject,
                durable=f"jobs-{tenant}-{priority}",
                stream=JOBS_STREAM,
                config=api.ConsumerConfig(
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait_s,
                    max_deliver=-1,
                    filter_subject=subject,
                    description=f"compute workers: jobs of {tenant} at {priority} priority",
                ),
            )
            self._subs[subject] = sub
        try:
            msgs = await sub.fetch(1, timeout=self.fetch_wait_s)
        except (nats.errors.TimeoutError, TimeoutError):
            return None
        return msgs[0] if msgs else None

    async def close(self) -> None:
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()


@dataclass
class Progress:
    done: int = 0
    total: int = 0


class Worker:
    def __init__(
        self,
        bus: Bus,
        store: JobStore,
        *,
        worker_id: str,
        ack_wait_s: float,
        poll_s: float = 0.2,
        kubernetes: KubernetesExecutor | None = None,
        kubernetes_min_elements: int = 0,
    ) -> None:
        self.bus = bus
        self.store = store
        self.worker_id = worker_id
        self.ack_wait_s = ack_wait_s
        self.lease_s = ack_wait_s
        self.heartbeat_s = min(1.0, ack_wait_s / 3)
        self.poll_s = poll_s
        self.queue = FairQueue(bus, ack_wait_s)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.jobs_run = 0
        self.kubernetes = kubernetes
        self.kubernetes_min_elements = kubernetes_min_elements

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"compute-worker-{self.worker_id}")
        log.info("worker started", extra={"worker": self.worker_id})

    async def stop(self) -> None:
        """Stop taking jobs; a job running is stopped between two steps and given back to the queue."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.queue.close()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                msg = await self.queue.next()
            except Exception as exc:
                log.warning("cannot read the JOBS queue: %s", exc)
                msg = None
            if msg is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_s)
                continue
            try:
                await self.handle(msg)
            except Exception:
                log.exception("job message not handled; it will be redelivered")

    async def handle(self, msg: Any) -> None:
        job_id = msg.data.decode()
        now = domain.now_s()
        claimed: list[Claim] = []

        def take(job: Job) -> Job:
            outcome, new = domain.claim(job, self.worker_id, now, self.lease_s)
            claimed.append(outcome)
            return new

        try:
            job = await self.store.change(job_id, take)
        except errors.NotFound:
            log.warning("a queued job has no record; dropped", extra={"job_id": job_id})
            await msg.ack()
            return
        outcome = claimed[-1]
        if outcome == Claim.DONE:
            if job.state == State.CANCELLED and job.finished == now:
                await self.store.release(job, 0.0)
            await msg.ack()
            return
        if outcome == Claim.BUSY:
            await msg.nak(delay=self.heartbeat_s)
            return
        await self.execute(job, msg)

    async def execute(self, job: Job, msg: Any) -> None:
        log.info(
            "job started",
            extra={"job_id": job.job_id, "tenant": job.tenant, "kernel": job.kernel, "attempt": job.attempts},
        )
        cpu_start = time.process_time()
        progress = Progress()
        cancel = threading.Event()
        lost = False
        requested = False

        def on_progress(done: int, total: int) -> None:
            progress.done, progress.total = done, total

        def cpu() -> float:
            return time.process_time() - cpu_start

        try:
            arrays = await self.store.get_inputs(job.job_id)
            elements = sum(a.size for a in arrays.values())
            remote = self.kubernetes is not None and wants_kubernetes(
                job, elements, self.kubernetes_min_elements
            )
            running: asyncio.Task[Any]
            if remote:
                assert self.kubernetes is not None
                running = asyncio.create_task(self.kubernetes.execute(job, on_progress, cancel))
            else:
                plan = await asyncio.to_thread(kernel(job.kernel).prepare, arrays, job.params)
                progress.total = plan.steps
                await self.store.change(
                    job.job_id, lambda j: domain.heartbeat(j, self.worker_id, 0, plan.steps, domain.now_s())
                )
                running = asyncio.create_task(asyncio.to_thread(run, plan, on_progress, cancel.is_set))
            while True:
                done, _ = await asyncio.wait({running}, timeout=self.heartbeat_s)
                if done:
                    break
                await msg.in_progress()
                try:
                    current = await self.store.change(
                        job.job_id,
                        lambda j: domain.heartbeat(
                            j, self.worker_id, progress.done, progress.total, domain.now_s()
                        ),
                    )
                    requested = current.cancel_requested
                except errors.FailedPrecondition:
                    lost = True
                if requested or lost or self._stopping.is_set():
                    cancel.set()
            if remote:
                infos = running.result()
            else:
                outputs = running.result()
                infos = tuple(
                    [await self.store.put_output(job.job_id, name, a) for name, a in outputs.items()]
                )
            await self._finish(job, msg, State.SUCCEEDED, cpu(), outputs=infos)
        except Cancelled as exc:
            if lost:
                log.warning("job taken over by another worker; left to it", extra={"job_id": job.job_id})
            elif requested:
                await self._finish(job, msg, State.CANCELLED, cpu(), error=f"cancelled: {exc}")
            else:
                await self.store.change(job.job_id, lambda j: domain.requeue(j, self.worker_id, cpu()))
                await msg.nak()
                log.info("job given back to the queue (worker stopping)", extra={"job_id": job.job_id})
        except errors.CitymeshError as exc:
            await self._finish(job, msg, State.FAILED, cpu(), error=str(exc))
        except Exception as exc:
            log.exception("job failed", extra={"job_id": job.job_id})
            await self._finish(job, msg, State.FAILED, cpu(), error=f"internal error (a bug): {exc!r}")

    async def _finish(
        self,
        job: Job,
        msg: Any,
        state: State,
        core_seconds: float,
        *,
        error: str = "",
        outputs: tuple[domain.OutputInfo, ...] = (),
    ) -> None:
        now = domain.now_s()
        mine: list[bool] = []

        def done(j: Job) -> Job:
            ours = j.worker == self.worker_id and j.state == State.RUNNING
            mine.append(ours)
            if not ours:
                return j
            return domain.finish(j, state, now, error=error, outputs=outputs, core_seconds=core_seconds)

        final = await self.store.change(job.job_id, done)
        if mine and mine[-1]:
            await self.store.release(final, final.core_seconds)
            self.jobs_run += 1
            log.info(
                "job finished",
                extra={"job_id": job.job_id, "state": state.value, "core_seconds": round(core_seconds, 3)},
            )
        await msg.ack()
