"""The compute domain: a job's life, claims by workers, quotas. No NATS, no gRPC."""

from __future__ import annotations

import pytest

from citymesh.compute import domain
from citymesh.compute.domain import Claim, Job, OutputInfo, Priority, Quota, State, Usage
from citymesh.runtime.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

DAY = 1_795_000_000.0  # 2026-11-18, some time in a UTC day
LEASE = 30.0


def queued() -> Job:
    return domain.new_job(
        "alibaba-cloud", "idw_grid", {"nx": 4.0}, Priority.NORMAL, "4×4 cells × 1 sensors", DAY
    )


def test_a_record_survives_json() -> None:
    job = domain.finish(
        queued(),
        State.SUCCEEDED,
        DAY + 5,
        outputs=(OutputInfo("field", "float64", (4, 4), 256),),
        core_seconds=1.5,
    )
    assert Job.from_json(job.to_json()) == job


def test_a_worker_claims_a_queued_job_and_a_final_one_is_left_alone() -> None:
    outcome, running = domain.claim(queued(), "w1", DAY + 1, LEASE)
    assert outcome == Claim.RUN
    assert (running.state, running.worker, running.attempts) == (State.RUNNING, "w1", 1)
    done = domain.finish(running, State.SUCCEEDED, DAY + 2)
    assert domain.claim(done, "w2", DAY + 3, LEASE) == (Claim.DONE, done)


def test_a_live_worker_keeps_its_job_and_a_dead_ones_job_is_taken_over() -> None:
    _, running = domain.claim(queued(), "w1", DAY, LEASE)
    beat = domain.heartbeat(running, "w1", 3, 10, DAY + 20)
    assert domain.claim(beat, "w2", DAY + 25, LEASE)[0] == Claim.BUSY
    outcome, taken = domain.claim(beat, "w2", DAY + 20 + LEASE, LEASE)
    assert outcome == Claim.RUN
    assert (taken.worker, taken.attempts, taken.steps_done) == ("w2", 2, 0)
    with pytest.raises(FailedPrecondition, match="no longer run by w1"):
        domain.heartbeat(taken, "w1", 4, 10, DAY + 60)


def test_cancel_is_immediate_when_queued_requested_when_running_and_a_no_op_when_final() -> None:
    cancelled = domain.cancel(queued(), DAY + 1)
    assert cancelled.state == State.CANCELLED
    assert domain.cancel(cancelled, DAY + 2) == cancelled
    _, running = domain.claim(queued(), "w1", DAY, LEASE)
    asked = domain.cancel(running, DAY + 1)
    assert (asked.state, asked.cancel_requested) == (State.RUNNING, True)
    # A job whose cancel was asked before a (new) worker got it is not run.
    outcome, final = domain.claim(domain.requeue(asked, "w1", 0.5), "w2", DAY + 2, LEASE)
    assert outcome == Claim.DONE
    assert final.state == State.CANCELLED


def test_quotas_name_what_is_reached_and_a_new_day_resets_core_seconds() -> None:
    quota = Quota(concurrent_jobs=2, core_seconds_per_day=100.0)
    usage = domain.admit(Usage(), "t", quota, "a", DAY)
    usage = domain.admit(usage, "t", quota, "b", DAY)
    with pytest.raises(ResourceExhausted, match="quota concurrent_jobs of tenant t: 2 of 2"):
        domain.admit(usage, "t", quota, "c", DAY)
    usage = domain.release(usage, "a", 150.0, DAY)
    with pytest.raises(ResourceExhausted, match=r"quota core_seconds_per_day of tenant t: 150\.0 of 100"):
        domain.admit(usage, "t", quota, "c", DAY)
    tomorrow = domain.admit(usage, "t", quota, "c", DAY + 86_400)
    assert tomorrow.core_seconds == 0.0
    assert tomorrow.active == ("b", "c")
    assert domain.forget(tomorrow, {"b"}).active == ("c",)


def test_tenant_names_and_quota_settings_are_checked() -> None:
    assert domain.tenant_from("alibaba-cloud") == "alibaba-cloud"
    for bad in (None, "", "Alibaba", "a.b", "-x", "x" * 64, "jobs>"):
        with pytest.raises(InvalidArgument):
            domain.tenant_from(bad)
    assert domain.parse_quotas('{"huawei": {"concurrent_jobs": 3}}') == {"huawei": {"concurrent_jobs": 3.0}}
    assert domain.parse_quotas("") == {}
    with pytest.raises(ValueError, match="expected keys"):
        domain.parse_quotas('{"huawei": {"gpus": 3}}')


def test_a_result_exists_only_for_a_succeeded_job() -> None:
    with pytest.raises(FailedPrecondition, match="is queued"):
        queued().output("")
    done = domain.finish(queued(), State.SUCCEEDED, DAY, outputs=(OutputInfo("field", "float64", (1,), 10),))
    assert done.output("").name == "field"
    with pytest.raises(InvalidArgument, match="no output 'x'"):
        done.output("x")
