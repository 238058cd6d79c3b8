"""The simulator against a collection server that misbehaves on purpose: acks saying UNAVAILABLE,
streams that break, a server that is not up yet. Whatever happens, every batch is stored once and
the counts match what the server stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.simulator import SimulationStats, run_simulation
from tests.conftest import free_port
from tests.polling import eventually


@dataclass
class FakeCollection(pb_grpc.CollectionServiceServicer):  # type: ignore[misc]
    """Stores batches by id, like JetStream's dedup; `unavailable` and `break_after` inject faults."""

    devices: dict[str, pb.Device] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    """batch id → readings."""
    attempts: dict[str, int] = field(default_factory=dict)
    unavailable: Callable[[str, int], bool] = lambda batch_id, attempt: False
    """(batch id, attempt number from 1) → answer error_code 14 instead of storing."""
    break_after: int = 0
    """Abort each stream with UNAVAILABLE after this many batches (0: never)."""
    refusal: int = 14
    """The error_code of an ack `unavailable` picks: 14 UNAVAILABLE, 8 RESOURCE_EXHAUSTED."""
    streams: int = 0
    tokens: set[str] = field(default_factory=set)
    """The authorization header of every call."""
    detections: dict[str, list[pb.Detection]] = field(default_factory=dict)
    """detection batch id → its detections."""
    detection_attempts: dict[str, int] = field(default_factory=dict)

    def _saw(self, context: grpc.aio.ServicerContext) -> None:
        self.tokens.update(v for k, v in context.invocation_metadata() or () if k == "authorization")

    async def RegisterDevice(
        self, request: pb.RegisterDeviceRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterDeviceResponse:
        self._saw(context)
        old = self.devices.setdefault(request.device.device_id, request.device)
        if old != request.device:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "registered differently")
        return pb.RegisterDeviceResponse(device=request.device)

    async def StreamReadings(
        self, request_iterator: AsyncIterator[pb.StreamReadingsRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamReadingsResponse]:
        self.streams += 1
        self._saw(context)
        seen = 0
        async for request in request_iterator:
            batch = request.batch
            seen += 1
            if self.break_after and seen > self.break_after:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "stream broken on purpose")
            attempt = self.attempts[batch.batch_id] = self.attempts.get(batch.batch_id, 0) + 1
            if self.unavailable(batch.batch_id, attempt):
                yield pb.StreamReadingsResponse(
                    ack=pb.BatchAck(batch_id=batch.batch_id, error_code=self.refusal, error_message="not now")
                )
                continue
            unknown = [i for i, d in enumerate(batch.device_index) if batch.device_ids[d] not in self.devices]
            duplicate = batch.batch_id in self.stored
            n = len(batch.values) - len(unknown)
            self.stored.setdefault(batch.batch_id, n)
            yield pb.StreamReadingsResponse(
                ack=pb.BatchAck(
                    batch_id=batch.batch_id,
                    accepted=n,
                    rejected=len(unknown),
                    duplicate=duplicate,
                    rejections=[
                        common_pb2.Rejection(index=i, reason=common_pb2.REJECTION_REASON_UNKNOWN_DEVICE)
                        for i in unknown
                    ],
                )
            )

    async def ReportDetections(
        self, request: pb.ReportDetectionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReportDetectionsResponse:
        self._saw(context)
        batch = request.batch
        attempt = self.detection_attempts[batch.batch_id] = self.detection_attempts.get(batch.batch_id, 0) + 1
        if self.unavailable(batch.batch_id, attempt):
            await context.abort(grpc.StatusCode.UNAVAILABLE, "not now")
        duplicate = batch.batch_id in self.detections
        self.detections.setdefault(batch.batch_id, list(batch.detections))
        return pb.ReportDetectionsResponse(
            batch_id=batch.batch_id, accepted=len(batch.detections), duplicate=duplicate
        )


Serve = Callable[[FakeCollection, int], Awaitable[grpc.aio.Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[grpc.aio.Server] = []

    async def start(fake: FakeCollection, port: int) -> grpc.aio.Server:
        server = grpc.aio.server()
        pb_grpc.add_CollectionServiceServicer_to_server(fake, server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop(None)


async def test_every_batch_is_stored_once_and_counted(serve: Serve) -> None:
    fake = FakeCollection()
    port = free_port()
    await serve(fake, port)
    stats = await run_simulation(f"127.0.0.1:{port}", rate=120, seconds=1.5)
    assert stats.phase == "stopped"
    assert stats.registered == len(fake.devices) == 2515
    assert stats.batches_sent == len(fake.stored) > 5
    assert stats.readings_accepted == stats.readings_sent == sum(fake.stored.values())
    assert stats.readings_rejected == stats.duplicate_batches == stats.resends == 0
    assert stats.unconfirmed_batches == stats.in_flight == 0
    assert set(stats.cursors) == {
        f"sim2020-{d}" for d in ("gouzhao", "fengyang", "wutong", "shifo", "shuangqiao", "detections")
    }
    assert stats.detections_accepted == stats.detections_sent == sum(map(len, fake.detections.values()))


async def test_registering_again_with_the_same_seed_is_identical(
    serve: Serve,
) -> None:
    fake = FakeCollection()
    port = free_port()
    await serve(fake, port)
    await run_simulation(f"127.0.0.1:{port}", rate=1, seconds=0)
    again = await run_simulation(f"127.0.0.1:{port}", rate=1, seconds=0)
    assert again.registered == 2515
    assert again.registration_conflicts == again.registration_failures == 0


async def test_a_batch_acked_unavailable_is_resent_with_the_same_id(
    serve: Serve,
) -> None:
    fake = FakeCollection(unavailable=lambda batch_id, attempt: attempt <= 2)
    port = free_port()
    await serve(fake, port)
    stats = await run_simulation(f"127.0.0.1:{port}", rate=120, seconds=1.0)
    assert stats.batches_sent == len(fake.stored) > 0
    assert all(n == 3 for n in fake.attempts.values())
    assert stats.resends == 2 * stats.batches_sent
    assert stats.readings_accepted == stats.readings_sent


async def test_a_batch_over_the_ingest_rate_is_resent_and_every_call_carries_the_token(
    serve: Serve,
) -> None:
    fake = FakeCollection(unavailable=lambda batch_id, attempt: attempt == 1, refusal=8)
    port = free_port()
    await serve(fake, port)
    stats = await run_simulation(f"127.0.0.1:{port}", rate=120, seconds=1.0, token="sim-token")
    assert stats.batches_sent == len(fake.stored) > 0
    assert all(n == 2 for n in fake.attempts.values())
    assert stats.readings_accepted == stats.readings_sent
    assert stats.batches_failed == 0
    assert fake.tokens == {"Bearer sim-token"}


async def test_a_broken_stream_resends_what_was_not_acked(
    serve: Serve,
) -> None:
    fake = FakeCollection(break_after=3)
    port = free_port()
    await serve(fake, port)
    stats = await run_simulation(f"127.0.0.1:{port}", rate=200, seconds=1.5, drain_s=20)
    assert stats.reconnects > 0
    assert fake.streams > 5
    assert stats.batches_sent == len(fake.stored) > 0
    assert stats.readings_accepted == stats.readings_sent == sum(fake.stored.values())
    assert stats.unconfirmed_batches == 0


async def test_a_collection_that_starts_late_is_waited_for(
    serve: Serve,
) -> None:
    fake = FakeCollection()
    port = free_port()
    stats = SimulationStats()
    run = asyncio.create_task(run_simulation(f"127.0.0.1:{port}", rate=60, seconds=1.0, stats=stats))
    await eventually(lambda: stats.phase, lambda p: p == "registering", 10, "registering")
    assert stats.registered == 0
    await serve(fake, port)
    await asyncio.wait_for(run, 30)
    assert stats.registered == 2515
    assert stats.readings_accepted == stats.readings_sent > 0


async def test_stop_ends_an_endless_run_and_drains_it(serve: Serve) -> None:
    fake = FakeCollection()
    port = free_port()
    await serve(fake, port)
    stats = SimulationStats()
    stop = asyncio.Event()
    run = asyncio.create_task(run_simulation(f"127.0.0.1:{port}", rate=100, stats=stats, stop=stop))
    await eventually(lambda: stats.readings_accepted, lambda n: n > 0, 30, "readings accepted")
    stop.set()
    await asyncio.wait_for(run, 15)
    assert stats.phase == "stopped"
    assert stats.readings_accepted == stats.readings_sent == sum(fake.stored.values())


async def test_a_resumed_run_continues_where_the_last_one_stopped(
    serve: Serve,
) -> None:
    fake = FakeCollection()
    port = free_port()
    await serve(fake, port)
    first = await run_simulation(f"127.0.0.1:{port}", rate=100, seconds=0.5, detections_per_camera_hour=0)
    ids_first = set(fake.stored)
    second = await run_simulation(
        f"127.0.0.1:{port}", rate=100, seconds=0.5, resume=first.checkpoint(), detections_per_camera_hour=0
    )
    assert second.duplicate_batches == 0
    starts: dict[str, int] = {}
    for batch_id in set(fake.stored) - ids_first:
        gateway, start, _end, _chunk = batch_id.rsplit("-", 3)
        starts[gateway] = min(int(start), starts.get(gateway, int(start)))
    # Each gateway goes on from its cursor: nothing before it is sent again. (Its first new batch
    # may start later than the cursor when no device reported in between.)
    assert set(starts) == set(first.cursors)
    assert all(starts[gateway] >= cursor for gateway, cursor in first.cursors.items())
    assert min(s - first.cursors[g] for g, s in starts.items()) < 1_000  # it did not skip ahead


async def test_batches_left_unconfirmed_are_sent_again_by_the_resumed_run(serve: Serve) -> None:
    down = {"gouzhao": True}
    fake = FakeCollection(unavailable=lambda batch_id, attempt: down["gouzhao"] and "gouzhao" in batch_id)
    port = free_port()
    await serve(fake, port)
    first = await run_simulation(f"127.0.0.1:{port}", rate=100, seconds=0.5, drain_s=0.5)
    checkpoint = first.checkpoint()
    left = checkpoint.pending["sim2020-gouzhao"]
    assert first.unconfirmed_batches == len(left) > 0
    assert not set(left) & set(fake.stored)
    assert all(not ids for name, ids in checkpoint.pending.items() if name != "sim2020-gouzhao")

    down["gouzhao"] = False
    second = await run_simulation(f"127.0.0.1:{port}", rate=100, seconds=0.5, resume=checkpoint)
    assert second.recovered_batches == len(left)
    assert set(left) <= set(fake.stored)
    assert second.unconfirmed_batches == 0


async def test_detections_are_reported_once_each_resent_with_the_same_id_while_refused(
    serve: Serve,
) -> None:
    fake = FakeCollection(unavailable=lambda batch_id, attempt: "detections" in batch_id and attempt == 1)
    port = free_port()
    await serve(fake, port)
    stats = await run_simulation(f"127.0.0.1:{port}", rate=120, seconds=1.5, detections_per_camera_hour=20)
    stored = [d for batch in fake.detections.values() for d in batch]
    assert stats.detections_sent == stats.detections_accepted == len(stored) > 20
    assert all(fake.detection_attempts[b] == 2 for b in fake.detections)  # refused once, then stored
    assert stats.detection_batches_failed == stats.detections_rejected == 0
    cameras = {d.device_id for d in fake.devices.values() if d.kind == common_pb2.DEVICE_KIND_CAMERA}
    assert {d.device_id for d in stored} <= cameras
    assert {d.label for d in stored} > {pb.DETECTION_LABEL_FIRE}
    assert all(0 <= d.confidence <= 1 for d in stored)
