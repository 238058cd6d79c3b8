"""The compute service's vocabulary: jobs and their life, tenants, quotas. No transport, no bus.

A job's record lives in the `compute-jobs` bucket as JSON and changes only by compare-and-set, so
two parties (the API cancelling, a worker reporting progress, a second worker taking over from a
dead one) never overwrite each other: each change is a pure function here, applied by the store
to the latest revision.
"""

from __future__ import annotations

import enum
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from citymesh.runtime.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

TENANT_HEADER = "x-citymesh-tenant"
"""gRPC metadata naming the caller's tenant, trusted as it is until governance issues tokens."""
TENANT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def tenant_from(value: str | None) -> str:
    """The tenant named by the caller; InvalidArgument when it is missing or not a valid name."""
    if not value:
        raise InvalidArgument(f"no tenant: send the {TENANT_HEADER} metadata header")
    if not TENANT_RE.match(value):
        raise InvalidArgument(
            f"{TENANT_HEADER} is {value!r}: a tenant is lowercase letters, digits and dashes, "
            "at most 63 characters, starting and ending with a letter or digit"
        )
    return value


class State(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED, State.CANCELLED)


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
"""In the order a tenant's jobs are taken."""


@dataclass(frozen=True)
class OutputInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    size_bytes: int


@dataclass(frozen=True)
class Job:
    """A job's record. Times are epoch seconds (0: not yet)."""

    job_id: str
    tenant: str
    kernel: str
    params: dict[str, float]
    priority: Priority = Priority.NORMAL
    state: State = State.QUEUED
    size: str = ""
    steps_done: int = 0
    steps_total: int = 0
    submitted: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    heartbeat: float = 0.0
    """When its worker last said it is alive (RUNNING only)."""
    worker: str = ""
    attempts: int = 0
    error: str = ""
    core_seconds: float = 0.0
    outputs: tuple[OutputInfo, ...] = ()
    cancel_requested: bool = False

    @property
    def progress(self) -> float:
        if self.state == State.SUCCEEDED:
            return 1.0
        return self.steps_done / self.steps_total if self.steps_total else 0.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Job:
        raw: dict[str, Any] = json.loads(data)
        raw["state"] = State(raw["state"])
        raw["priority"] = Priority(raw["priority"])
        raw["outputs"] = tuple(
            OutputInfo(o["name"], o["dtype"], tuple(o["shape"]), o["size_bytes"]) for o in raw["outputs"]
        )
        return cls(**raw)

    def output(self, name: str) -> OutputInfo:
        if self.state != State.SUCCEEDED:
            raise FailedPrecondition(
                f"job {self.job_id} is {self.state}; results exist once it has succeeded"
            )
        if not name:
            return self.outputs[0]
        for o in self.outputs:
            if o.name == name:
                return o
        raise InvalidArgument(
            f"job {self.job_id} has no output {name!r}; it has {[o.name for o in self.outputs]}"
        )


def new_job(
    tenant: str, kernel: str, params: Mapping[str, float], priority: Priority, size: str, now: float
) -> Job:
    return Job(
        job_id=uuid.uuid4().hex,
        tenant=tenant,
        kernel=kernel,
        params=dict(params),
        priority=priority,
        size=size,
        submitted=now,
    )


# --- changes of a job's record (each applied by compare-and-set to the latest revision) ---------


class Claim(enum.Enum):
    """What a worker that received a job's message does with it."""

    RUN = "run"
    DONE = "done"  # already final (a redelivery after it finished): acknowledge, run nothing
    BUSY = "busy"  # another worker holds a fresh lease on it: let it be redelivered later


def claim(job: Job, worker: str, now: float, lease_s: float) -> tuple[Claim, Job]:
    """A worker's claim on a job it received: run it (taking it over from a dead worker), or not."""
    if job.state.final:
        return Claim.DONE, job
    if job.cancel_requested:
        return Claim.DONE, finish(job, State.CANCELLED, now, error="cancelled before it ran")
    if job.state == State.RUNNING and job.worker != worker and now - job.heartbeat < lease_s:
        return Claim.BUSY, job
    return Claim.RUN, replace(
        job,
        state=State.RUNNING,
        worker=worker,
        attempts=job.attempts + 1,
        started=now,
        heartbeat=now,
        steps_done=0,
        error="",
    )


def heartbeat(job: Job, worker: str, steps_done: int, steps_total: int, now: float) -> Job:
    if job.worker != worker or job.state != State.RUNNING:
        raise FailedPrecondition(f"job {job.job_id} is no longer run by {worker}")
    return replace(job, steps_done=steps_done, steps_total=steps_total, heartbeat=now)


def finish(
    job: Job,
    state: State,
    now: float,
    *,
    error: str = "",
    outputs: tuple[OutputInfo, ...] = (),
    core_seconds: float = 0.0,
) -> Job:
    steps_done = job.steps_total if state == State.SUCCEEDED else job.steps_done
    return replace(
        job,
        state=state,
        finished=now,
        error=error,
        outputs=outputs,
        core_seconds=job.core_seconds + core_seconds,
        steps_done=steps_done,
        worker="" if state.final else job.worker,
    )


def requeue(job: Job, worker: str, core_seconds: float) -> Job:
    """A worker stopping gives its job back to the queue."""
    if job.worker != worker or job.state != State.RUNNING:
        return job
    return replace(
        job, state=State.QUEUED, worker="", heartbeat=0.0, core_seconds=job.core_seconds + core_seconds
    )


def cancel(job: Job, now: float) -> Job:
    """A queued job is cancelled at once; a running one is asked to stop; a final one is left."""
    if job.state == State.QUEUED:
        return finish(job, State.CANCELLED, now, error="cancelled while queued")
    if job.state == State.RUNNING:
        return replace(job, cancel_requested=True)
    return job


# --- quotas ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    concurrent_jobs: int
    """Jobs queued or running at once."""
    core_seconds_per_day: float
    """CPU time of finished runs per UTC day."""


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Usage:
    """A tenant's use of its quota: its active jobs, and the core-seconds charged on `day`."""

    day: str = ""
    core_seconds: float = 0.0
    active: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | None) -> Usage:
        if not data:
            return cls()
        raw = json.loads(data)
        return cls(raw["day"], raw["core_seconds"], tuple(raw["active"]))

    def today(self, now: float) -> Usage:
        day = utc_day(now)
        return self if self.day == day else Usage(day, 0.0, self.active)


def admit(usage: Usage, tenant: str, quota: Quota, job_id: str, now: float) -> Usage:
    """The usage with the new job counted; ResourceExhausted naming the quota when it is reached."""
    usage = usage.today(now)
    if usage.core_seconds >= quota.core_seconds_per_day:
        raise ResourceExhausted(
            f"quota core_seconds_per_day of tenant {tenant}: {usage.core_seconds:,.1f} of "
            f"{quota.core_seconds_per_day:,.0f} core-seconds used today (UTC); it resets at midnight UTC"
        )
    if len(usage.active) >= quota.concurrent_jobs:
        raise ResourceExhausted(
            f"quota concurrent_jobs of tenant {tenant}: {len(usage.active)} of {quota.concurrent_jobs} "
            "jobs queued or running; wait for one to finish or cancel one"
        )
    return replace(usage, active=(*usage.active, job_id))


def release(usage: Usage, job_id: str, core_seconds: float, now: float) -> Usage:
    """The usage once a job is final: no longer active, its CPU time charged to today."""
    usage = usage.today(now)
    return Usage(usage.day, usage.core_seconds + core_seconds, tuple(j for j in usage.active if j != job_id))


def forget(usage: Usage, job_ids: set[str]) -> Usage:
    """The usage without jobs found final (a release lost to a crash is made up for at the next submit)."""
    return replace(usage, active=tuple(j for j in usage.active if j not in job_ids))


def parse_quotas(text: str) -> dict[str, dict[str, float]]:
    """CITYMESH_TENANT_QUOTAS: JSON {tenant: {"concurrent_jobs": n, "core_seconds_per_day": s}}."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"tenant quotas are not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("tenant quotas must be a JSON object of tenant → quota")
    out: dict[str, dict[str, float]] = {}
    for tenant, quota in raw.items():
        if not isinstance(quota, dict) or set(quota) - {"concurrent_jobs", "core_seconds_per_day"}:
            raise ValueError(f"quota of {tenant}: expected keys concurrent_jobs and/or core_seconds_per_day")
        out[tenant] = {k: float(v) for k, v in quota.items()}
    return out


def now_s() -> float:
    return time.time()
