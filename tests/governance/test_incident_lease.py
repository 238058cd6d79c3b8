"""The incident pipeline's leader lease against a real nats-server: of two governance replicas (two
pipelines, or two full governance Apps, each on its own NATS connection) one perceives and opens
incidents; a leader stopped gracefully hands over at once; one that hangs or is killed is replaced
within the TTL plus one renewal interval and opens nothing after it lost the lease; the replica
that does not hold it serves every RPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.governance.incidents.lease import INCIDENTS_LEASE, Lease
from citymesh.governance.incidents.perceive import DURABLE
from citymesh.governance.incidents.pipeline import RESOURCES, Pipeline
from citymesh.governance.incidents.settings import IncidentSettings
from citymesh.runtime import errors, natsauth
from citymesh.runtime.bus import LEASES_BUCKET, TELEMETRY_STREAM, Bus
from citymesh.runtime.natsd import NatsServer, environ_with
from tests.conftest import free_port
from tests.governance.conftest import governance
from tests.governance.incident_harness import (
    FLOOD,
    ZONE,
    Device,
    headers,
    near,
    publish,
    register,
    stream_bus,
    trigger,
)
from tests.polling import eventually

pytestmark = pytest.mark.integration

PLACES = [
    (113.485, 34.790),  # gouzhao
    near(113.485, 34.790, east_m=2000),  # gouzhao, 2 km east
    (113.530, 34.820),  # fengyang
    near(113.575, 34.825, east_m=-2000),  # wutong
    (113.575, 34.825),  # wutong, 2 km east
]
"""Five places at least 2 km apart (the correlation radius is 1 km)."""
GAUGES = [
    Device(f"water-{p}{g}", "water", *near(*place, north_m=300 * g))
    for p, place in enumerate(PLACES)
    for g in range(2)
]
"""Two water gauges 300 m apart at each place: their readings belong to one incident."""
NEW_PLACE = near(113.530, 34.820, north_m=-2500)  # shifo
LATE = [
    Device("water-late0", "water", *NEW_PLACE),
    Device("water-late1", "water", *near(*NEW_PLACE, east_m=200)),
]
FAST = {"lease_ttl_s": 2.0, "lease_renew_s": 0.5}
"""A lease that a test sees expire: 2 s, renewed every 0.5 s."""
SLOW = {"lease_ttl_s": 60.0, "lease_renew_s": 20.0}
"""A lease that neither expires nor is tried again by a standby within a test: what happens comes
from a release or a move, seen by the watch."""
HANDOVER_S = 3.0
"""A lease released (graceful stop) is taken by the standby within this (it is measured in ~0.1 s)."""
SCHEDULING_S = 1.0
"""What the TTL-plus-interval bound is allowed on top: the server's expiry timer and this machine's
two shared cores."""


class HangingLease(Lease):
    """A holder whose writes stop: each renewal (and try to take the lease again) waits forever
    once `hang()` was called, as in a process that hangs, or is killed, without releasing."""

    hung = False

    def hang(self) -> None:
        self.hung = True

    async def _update(self, value: bytes, last: int) -> int:
        if self.hung:
            await asyncio.Event().wait()
        return await super()._update(value, last)

    async def _create(self, value: bytes) -> int:
        if self.hung:
            await asyncio.Event().wait()
        return await super()._create(value)


class HangingPipeline(Pipeline):
    lease_type = HangingLease


@contextlib.asynccontextmanager
async def replica(
    nats: NatsServer, name: str, lease: dict[str, float], pipeline_type: type[Pipeline] = Pipeline
) -> AsyncIterator[Pipeline]:
    """A governance replica's incident pipeline (rules, lease, supervisor) on its own connection."""
    settings = IncidentSettings(  # type: ignore[call-arg]
        nats_url=nats.url,
        incident_fetch_batch=4,
        lease_ttl_s=lease["lease_ttl_s"],
        lease_renew_s=lease["lease_renew_s"],
    )
    bus = await Bus.connect(settings, name=name, resources=RESOURCES)
    p = await pipeline_type.create(bus, settings)
    try:
        await p.start(settings)
        yield p
    finally:
        await p.stop()
        await bus.close()


async def flooded(feed: Bus, devices: list[Device], tag: str) -> None:
    """One reading above the 6 m warning level from each gauge, each in its own batch, the places
    interleaved: two consumers sharing the TELEMETRY consumer would each get gauges of every place."""
    now = time.time_ns() // 1_000_000
    for i, gauge in enumerate(devices):
        await publish(feed, f"{tag}-{i}", [(gauge, now + i, 6.4)])


async def handled(feed: Bus) -> bool:
    """Whether the incident rules handled every stored batch (none pending or unacknowledged)."""
    info = await feed.js.consumer_info(TELEMETRY_STREAM, DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


def floods(p: Pipeline) -> list[tuple[str, int]]:
    return sorted((i.district, i.triggers) for i in p.store.incidents() if i.type == "flood")


def leaders(*replicas: Pipeline) -> list[Pipeline]:
    return [p for p in replicas if p.leading]


class Overlap:
    """Samples who leads every 5 ms while it runs; `both` counts samples where two did."""

    def __init__(self, *replicas: Pipeline) -> None:
        self.replicas = replicas
        self.both = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.samples += 1
            self.both += len(leaders(*self.replicas)) > 1
            await asyncio.sleep(0.005)

    async def __aenter__(self) -> Overlap:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def lease_value(bus: Bus) -> dict[str, Any] | None:
    try:
        entry = await (await bus.kv(LEASES_BUCKET)).get(INCIDENTS_LEASE)
    except (KeyNotFoundError, BucketNotFoundError):  # not taken, or nobody declared the bucket yet
        return None
    return dict(json.loads(entry.value or b"{}"))


async def test_of_two_replicas_started_together_one_perceives_and_each_place_gets_one_incident(
    nats_server: NatsServer,
) -> None:
    feed = await stream_bus(nats_server)
    await register(feed, GAUGES)
    try:
        async with contextlib.AsyncExitStack() as stack:
            a, b = await asyncio.gather(
                stack.enter_async_context(replica(nats_server, "governance-a", FAST)),
                stack.enter_async_context(replica(nats_server, "governance-b", FAST)),
            )
            (leader,) = leaders(a, b)
            standby = b if leader is a else a
            assert leader.perceivers
            assert not standby.perceivers
            assert leader.lease is not None
            assert standby.lease is not None
            assert (await lease_value(feed) or {}).get("holder") == leader.lease.holder

            async with Overlap(a, b) as overlap:
                await flooded(feed, GAUGES, "flood")
                found = await eventually(
                    lambda: floods(standby),
                    lambda f: sum(n for _, n in f) == len(GAUGES),
                    30,
                    "every gauge's trigger in an incident, as the standby's view has them",
                )
                await eventually(lambda: handled(feed), bool, 10, "every batch handled")
            # one incident per place, of two triggers each, all opened by the leader
            assert found == sorted(
                [("gouzhao", 2), ("gouzhao", 2), ("fengyang", 2), ("wutong", 2), ("wutong", 2)]
            )
            assert floods(leader) == found
            assert (leader.opened, standby.opened) == (len(PLACES), 0)
            assert standby.lease.terms == 0
            assert leader.lease.terms == 1
            assert overlap.both == 0
            assert overlap.samples > 0
    finally:
        await feed.close()


async def test_a_standby_app_serves_every_rpc_and_takes_over_at_once_when_the_leader_stops(
    nats_server: NatsServer,
) -> None:
    feed = await stream_bus(nats_server)
    await register(feed, [*GAUGES, *LATE])
    try:
        async with contextlib.AsyncExitStack() as first:
            a = await first.enter_async_context(governance(nats_server, **SLOW))
            async with governance(nats_server, **SLOW) as b:
                leader, standby = a.app.incidents, b.app.incidents
                assert leader is not None
                assert standby is not None
                assert leader.leading, "the App started first took the lease"
                assert not standby.leading
                await flooded(feed, GAUGES, "flood")
                async with grpc.aio.insecure_channel(f"127.0.0.1:{b.port}") as channel:
                    stub = incidents_pb2_grpc.IncidentServiceStub(channel)
                    zone = headers(ZONE)

                    async def listed() -> list[pb.Incident]:
                        reply = await stub.ListIncidents(pb.ListIncidentsRequest(), metadata=zone)
                        return list(reply.incidents)

                    incidents = await eventually(
                        listed,
                        lambda i: len(i) == len(PLACES) and all(x.triggers == 2 for x in i),
                        30,
                        "five incidents of two triggers, listed by the standby",
                    )
                    # every RPC answered by the standby, on incidents the leader opened
                    one = next(i.incident_id for i in incidents if GAUGES[0].device_id in i.device_ids)
                    two = next(i.incident_id for i in incidents if i.incident_id != one)
                    got = await stub.GetIncident(pb.GetIncidentRequest(incident_id=one), metadata=zone)
                    assert got.incident.incident_id == one
                    acked = await stub.AcknowledgeIncident(
                        pb.AcknowledgeIncidentRequest(incident_id=one), metadata=zone
                    )
                    assert acked.incident.state == pb.INCIDENT_STATE_ACKNOWLEDGED
                    sent = await stub.DispatchIncident(
                        pb.DispatchIncidentRequest(incident_id=one), metadata=zone
                    )
                    assert sent.incident.state == pb.INCIDENT_STATE_DISPATCHED
                    done = await stub.ResolveIncident(
                        pb.ResolveIncidentRequest(incident_id=two, resolution="pumped out"), metadata=zone
                    )
                    assert done.incident.state == pb.INCIDENT_STATE_RESOLVED
                    stats = await stub.GetIncidentStats(pb.GetIncidentStatsRequest(), metadata=zone)
                    assert stats.districts
                    units = await stub.ListResponderUnits(pb.ListResponderUnitsRequest(), metadata=zone)
                    assert units.units
                    rules = await stub.ListIncidentRules(pb.ListIncidentRulesRequest(), metadata=zone)
                    assert rules.rules
                    watch = stub.WatchIncidents(pb.WatchIncidentsRequest(include_current=True), metadata=zone)
                    current = {(await watch.read()).incident.incident_id for _ in range(len(PLACES) - 1)}
                    watch.cancel()
                    assert current == {i.incident_id for i in incidents} - {two}
                    # ... and the leader's view has what the standby did
                    await eventually(
                        lambda: {i.id: i.state.value for i in leader.store.incidents()},
                        lambda s: (s[one], s[two]) == ("dispatched", "resolved"),
                        10,
                        "the standby's acts in the leader's view",
                    )
                    assert (leader.opened, standby.opened) == (len(PLACES), 0)

                    # the leader stops gracefully (releasing the lease): the standby takes it at once
                    started = time.monotonic()
                    await first.aclose()
                    await eventually(
                        lambda: standby.leading and len(standby.perceivers) > 0,
                        bool,
                        HANDOVER_S,
                        "the standby leading",
                    )
                    took_s = time.monotonic() - started
                    print(f"graceful handover: {took_s:.2f} s (TTL {SLOW['lease_ttl_s']} s)")
                    assert took_s < HANDOVER_S < SLOW["lease_renew_s"]

                    # it goes on where the leader stopped: a place with an open incident joins it,
                    # a new place opens one
                    await flooded(feed, [GAUGES[0], *LATE], "after")
                    after = await eventually(
                        listed,
                        lambda i: (
                            len(i) == len(PLACES) + 1 and sum(x.triggers for x in i) == 2 * len(PLACES) + 3
                        ),
                        30,
                        "the new place's incident and a third trigger at the first place",
                    )
                    assert next(x for x in after if x.incident_id == one).triggers == 3
                    assert standby.opened == 1
    finally:
        await feed.close()


async def test_a_leader_whose_renewals_stop_is_replaced_within_the_ttl_and_opens_nothing_after(
    nats_server: NatsServer,
) -> None:
    feed = await stream_bus(nats_server)
    await register(feed, [*GAUGES, *LATE])
    try:
        async with (
            replica(nats_server, "governance-a", FAST, HangingPipeline) as a,
            replica(nats_server, "governance-b", FAST) as b,
        ):
            assert a.leading
            assert not b.leading
            await flooded(feed, GAUGES, "flood")
            await eventually(lambda: floods(a), lambda f: len(f) == len(PLACES), 30, "opened")
            await eventually(lambda: handled(feed), bool, 10, "every batch handled")
            assert isinstance(a.lease, HangingLease)
            assert b.lease is not None

            async with Overlap(a, b) as overlap:
                hung_at = time.monotonic()
                a.lease.hang()
                bound_s = FAST["lease_ttl_s"] + FAST["lease_renew_s"]
                await eventually(
                    lambda: b.leading and len(b.perceivers) > 0,
                    bool,
                    bound_s + SCHEDULING_S + 5,
                    "the standby leading",
                )
                took_s = time.monotonic() - hung_at
            print(f"takeover after the leader's renewals stopped: {took_s:.2f} s (bound {bound_s} s)")
            assert took_s <= bound_s + SCHEDULING_S
            assert overlap.both == 0, "both replicas counted themselves leaders at once"
            # the hung leader stepped down by itself, at the end of its lease
            assert not a.leading
            assert a.perceivers == []
            assert a.lease.losses
            assert a.lease.losses[0].startswith("renewal failed")
            # and opens nothing any more: a trigger at a place without an incident is refused ...
            with pytest.raises(errors.Unavailable, match="does not hold the incident lease"):
                await a.trigger(trigger(FLOOD, *NEW_PLACE, value=6.4, device=LATE[0].device_id))
            # ... while the new leader opens it
            await flooded(feed, LATE, "late")
            await eventually(lambda: floods(b), lambda f: len(f) == len(PLACES) + 1, 30, "new")
            await eventually(lambda: handled(feed), bool, 10, "every batch handled")
            assert (a.opened, b.opened) == (len(PLACES), 1)
            assert sum(n for _, n in floods(b)) == len(GAUGES) + len(LATE)
    finally:
        await feed.close()


async def test_a_leader_steps_down_the_moment_its_lease_moves_and_a_freed_lease_is_taken_once(
    nats_server: NatsServer,
) -> None:
    feed = await stream_bus(nats_server)
    try:
        async with (
            replica(nats_server, "governance-a", SLOW) as a,
            replica(nats_server, "governance-b", SLOW) as b,
        ):
            assert a.leading
            assert a.perceivers
            assert not b.leading
            assert a.lease is not None
            kv = await feed.kv(LEASES_BUCKET)
            moved_at = time.monotonic()
            await kv.put(INCIDENTS_LEASE, json.dumps({"holder": "an-operator"}).encode())
            await eventually(
                lambda: not a.leading and a.perceivers == [],
                bool,
                HANDOVER_S,
                "a stepped down",
            )
            assert time.monotonic() - moved_at < HANDOVER_S < SLOW["lease_renew_s"]
            assert a.lease.losses == ["the lease's key moved: another holder's value or a deletion"]
            assert not b.leading, "the key holds another holder's value"

            await kv.delete(INCIDENTS_LEASE)  # that holder lets go: one of the two takes the lease
            (leader,) = await eventually(
                lambda: leaders(a, b),
                lambda held: len(held) == 1,
                HANDOVER_S,
                "one leading",
            )
            assert leader.perceivers
            assert leader.lease is not None
            assert (await lease_value(feed) or {}).get("holder") == leader.lease.holder
            assert len(leaders(a, b)) == 1
    finally:
        await feed.close()


@contextlib.contextmanager
def governance_process(
    nats: NatsServer, log: Path, lease: dict[str, float]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`citymesh serve governance` as its own process; (process, port)."""
    port = free_port()
    env = environ_with(
        CITYMESH_NATS_URL=nats.url,
        CITYMESH_LISTEN=f"127.0.0.1:{port}",
        CITYMESH_AUTH_DEV_HEADERS="true",
        CITYMESH_GRACE_S="1",
        CITYMESH_LEASE_TTL_S=str(lease["lease_ttl_s"]),
        CITYMESH_LEASE_RENEW_S=str(lease["lease_renew_s"]),
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "citymesh", "serve", "governance"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def held_by(feed: Bus, pid: int) -> bool:
    """Whether the lease names process `pid` (holders are <host>-<pid>-<random>)."""
    return f"-{pid}-" in ((await lease_value(feed)) or {}).get("holder", "")


async def test_a_governance_process_hands_the_lease_over_on_sigterm(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The real serve path, SIGTERM → graceful stop: the lease is released and the standby, which
    would not try again for 20 s, has it at once; and a standby process takes it from a stopping
    replica the same way."""
    feed = await stream_bus(nats_server)
    try:
        with governance_process(nats_server, tmp_path / "first.log", SLOW) as (first, _):
            await eventually(lambda: held_by(feed, first.pid), bool, 60, "the first process leading")
            async with contextlib.AsyncExitStack() as stack:
                b = await stack.enter_async_context(replica(nats_server, "governance-b", SLOW))
                assert not b.leading
                started = time.monotonic()
                first.send_signal(signal.SIGTERM)
                await eventually(lambda: b.leading, bool, HANDOVER_S, "b leading after SIGTERM")
                took_s = time.monotonic() - started
                print(f"handover on SIGTERM: {took_s:.2f} s")
                assert await asyncio.to_thread(first.wait, 10) == 0

                with governance_process(nats_server, tmp_path / "second.log", SLOW) as (second, port):
                    await eventually(lambda: serving(port), bool, 60, "the second process serving")
                    assert b.leading
                    assert not await held_by(feed, second.pid)
                    started = time.monotonic()
                    await stack.aclose()  # b stops gracefully: the standby process takes the lease at once
                    await eventually(
                        lambda: held_by(feed, second.pid), bool, HANDOVER_S, "the process leading"
                    )
                    print(f"handover to a standby process: {time.monotonic() - started:.2f} s")
    finally:
        await feed.close()


async def test_a_killed_governance_process_is_replaced_within_the_ttl_and_one_interval(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """SIGKILL: nothing is released; the lease expires and the standby has it within the TTL plus
    one renewal interval of the kill."""
    feed = await stream_bus(nats_server)
    bound_s = FAST["lease_ttl_s"] + FAST["lease_renew_s"]
    try:
        with governance_process(nats_server, tmp_path / "governance.log", FAST) as (proc, _):
            await eventually(lambda: held_by(feed, proc.pid), bool, 60, "the process leading")
            async with replica(nats_server, "governance-b", FAST) as b:
                assert not b.leading
                killed_at = time.monotonic()
                os.kill(proc.pid, signal.SIGKILL)
                await eventually(lambda: b.leading, bool, bound_s + 5, "b leading")
                took_s = time.monotonic() - killed_at
                print(f"takeover after SIGKILL: {took_s:.2f} s (bound {bound_s} s)")
                assert took_s <= bound_s + SCHEDULING_S
                assert b.perceivers
    finally:
        await feed.close()


async def serving(port: int) -> bool:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def test_the_leases_bucket_expires_values_after_the_configured_ttl_and_follows_a_change(
    nats_server: NatsServer,
) -> None:
    """The bucket's max_age is the setting (declared again when it changes), and a lease takes its
    TTL from the bucket as the server has it, not from its own settings."""

    async def declared(ttl_s: float) -> Bus:
        settings = IncidentSettings(nats_url=nats_server.url, lease_ttl_s=ttl_s, lease_renew_s=1.0)  # type: ignore[call-arg]
        return await Bus.connect(settings, name="governance", resources=[LEASES_BUCKET])

    first = await declared(30.0)
    second = await declared(4.0)
    try:
        kv = await first.kv(LEASES_BUCKET)
        assert (await kv.status()).ttl == 4.0

        async def nothing() -> None:
            return None

        lease = await Lease.open(first, "probe", 10.0, nothing, nothing)
        assert (lease.ttl_s, lease.renew_s) == (4.0, 2.0)  # renewals at most half the bucket's TTL
        with pytest.raises(ValueError, match="at most half"):
            IncidentSettings(nats_url=nats_server.url, lease_ttl_s=4.0, lease_renew_s=3.0)  # type: ignore[call-arg]
    finally:
        await first.close()
        await second.close()


async def test_the_governance_nats_user_takes_renews_watches_and_releases_the_lease(tmp_path: Path) -> None:
    """With the platform's NATS users (runtime/natsauth.py), as `citymesh up` and the chart run
    them: a refused write would only show as a lease never taken."""
    server = NatsServer(tmp_path / "nats", users=natsauth.platform_users()).start()
    try:
        settings = IncidentSettings(  # type: ignore[call-arg]
            nats_url=server.url_for("governance"),
            lease_ttl_s=FAST["lease_ttl_s"],
            lease_renew_s=FAST["lease_renew_s"],
        )
        a_bus, b_bus = [await Bus.connect(settings, "governance", [LEASES_BUCKET]) for _ in range(2)]

        async def nothing() -> None:
            return None

        a = await Lease.open(a_bus, INCIDENTS_LEASE, FAST["lease_renew_s"], nothing, nothing)
        b = await Lease.open(b_bus, INCIDENTS_LEASE, FAST["lease_renew_s"], nothing, nothing)
        await a.start()
        await b.start()
        try:
            assert a.held()
            assert not b.held()
            renewed = a._revision
            await eventually(lambda: a._revision, lambda r: r != renewed, 5, "renewed")
            assert a.held()
            await a.stop()  # the release wakes b through its watch
            await eventually(lambda: b.held(), bool, HANDOVER_S, "b holding")
            assert not a.losses
            assert not b.losses
        finally:
            await a.stop()
            await b.stop()
            await a_bus.close()
            await b_bus.close()
    finally:
        server.stop()
