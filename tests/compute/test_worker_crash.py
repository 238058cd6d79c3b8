"""Integration: a worker process SIGKILLed mid-job; the job is redelivered to another worker process
and completes once, with one set of results."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.compute.store import JobStore
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer, environ_with
from citymesh.runtime.settings import ServiceSettings
from tests.compute.conftest import StartCompute
from tests.conftest import free_port
from tests.polling import eventually

ACK_WAIT_S = 2.0


@contextlib.contextmanager
def worker_process(nats_url: str, worker_id: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = environ_with(
        CITYMESH_NATS_URL=nats_url,
        CITYMESH_LISTEN=f"127.0.0.1:{free_port()}",
        CITYMESH_WORKER_ID=worker_id,
        CITYMESH_ACK_WAIT_S=str(ACK_WAIT_S),
        CITYMESH_POLL_S="0.05",
        CITYMESH_GRACE_S="1",
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "citymesh", "serve", "compute-worker"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def active_jobs(nats_url: str) -> tuple[str, ...]:
    bus = await Bus.connect(ServiceSettings(nats_url=nats_url), name="test")
    try:
        usage = await (await JobStore.open(bus)).usage_of("alibaba-cloud")
        return tuple(usage.active)
    finally:
        await bus.close()


@pytest.mark.integration
async def test_a_job_whose_worker_is_killed_is_redelivered_and_completes_once(
    nats_server: NatsServer, start_compute: StartCompute, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    terrain = rng.normal(0.0, 1.0, (200, 200))
    depth = rng.uniform(0.0, 0.1, (200, 200))
    params = {"steps": 30_000, "rain_m": 0.0001}

    async def jobs_waiting() -> int:
        bus = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test")
        try:
            return int((await bus.js.stream_info("JOBS")).state.messages)
        finally:
            await bus.close()

    async with start_compute(workers=0, ack_wait_s=ACK_WAIT_S) as compute:
        me = compute.as_tenant("alibaba-cloud")
        job = await me.submit("flood_sim", {"terrain": terrain, "depth": depth}, params)
        with worker_process(nats_server.url, "worker-a", tmp_path / "a.log") as a:
            running = await eventually(
                lambda: me.get(job.job_id),
                lambda j: j.state == pb.JOB_STATE_RUNNING and j.steps_done >= 2,
                timeout=60,
                what="running on worker-a",
            )
            assert running.steps_done < running.steps_total, "the job finished before it could be killed"
            a.kill()
            a.wait(10)
        with worker_process(nats_server.url, "worker-b", tmp_path / "b.log"):
            done = await me.finished(job.job_id, timeout=90)
            # Worker-b acks the message and releases the quota just after the record says
            # SUCCEEDED: wait for both while it still runs (the test then SIGKILLs it).
            await eventually(jobs_waiting, lambda n: n == 0, 10, "JOBS empty")
            await eventually(lambda: active_jobs(nats_server.url), lambda a: a == (), 10, "quota released")
        assert done.state == pb.JOB_STATE_SUCCEEDED, done.error
        assert done.attempts == 2

        # The water is all there: the result is a whole run, not a resumed half.
        _, data = await me.result(job.job_id)
        final = np.load(io.BytesIO(data), allow_pickle=False)
        expected = depth.sum() + params["rain_m"] * params["steps"] * terrain.size
        assert final.sum() == pytest.approx(expected, rel=1e-9)

    # One set of results, the queue empty, the tenant's quota released once.
    bus = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test")
    try:
        store = await JobStore.open(bus)
        names = sorted(o.name for o in await store.artifacts.list())
        assert names == sorted(
            [
                f"inputs/{job.job_id}.npz",
                f"results/{job.job_id}/depth.npy",
                f"results/{job.job_id}/max_depth.npy",
            ]
        )
        assert (await bus.js.stream_info("JOBS")).state.messages == 0
        usage = await store.usage_of("alibaba-cloud")
        assert usage.active == ()
        assert usage.core_seconds == pytest.approx(done.core_seconds)
    finally:
        await bus.close()
