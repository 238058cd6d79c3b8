"""The gRPC side of the simulator: register the fleet, and stream batches through StreamReadings.

A gateway owns some devices and one StreamReadings stream at a time. Every batch it generates
stays in `unacked` until an ack settles it: an ack with error_code 14 (UNAVAILABLE) or 8
(RESOURCE_EXHAUSTED, over an ingest rate) sends it again, with the same batch_id, and a broken stream sends every unacked batch again on the next
one. JetStream's dedup makes a batch stored twice impossible, and the ack says so (duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import grpc

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.convert import kind_to_proto
from citymesh.simulator.fleet import Device, Fleet
from citymesh.simulator.schedule import Batch, SimClock, batches
from citymesh.simulator.stats import SimulationStats

log = logging.getLogger("citymesh.simulator")

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
RETRIED_ACKS = {UNAVAILABLE, RESOURCE_EXHAUSTED}
"""Acks whose batch is sent again later: not stored (yet), or over the tenant's ingest rate."""
Metadata = tuple[tuple[str, str], ...]
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


class Backoff:
    """Exponential backoff with jitter, from `first` to `most` seconds."""

    def __init__(self, first: float = 0.2, most: float = 5.0) -> None:
        self.first, self.most, self.next = first, most, first

    def reset(self) -> None:
        self.next = self.first

    def delay(self) -> float:
        delay = self.next * random.uniform(0.75, 1.25)
        self.next = min(self.most, self.next * 2)
        return delay


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, or return early when `stop` is set; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def device_to_proto(device: Device) -> pb.Device:
    return pb.Device(
        device_id=device.device_id,
        kind=kind_to_proto(device.kind),
        position=common_pb2.GeoPoint(longitude=device.longitude, latitude=device.latitude),
        owner_tenant=device.owner_tenant,
    )


def batch_to_proto(batch: Batch) -> pb.StreamReadingsRequest:
    return pb.StreamReadingsRequest(
        batch=pb.ReadingBatch(
            batch_id=batch.batch_id,
            device_ids=batch.device_ids,
            device_index=batch.device_index,
            time_unix_ms=batch.time_unix_ms,
            values=batch.values,
        )
    )


async def register_fleet(
    stub: pb_grpc.CollectionServiceStub,
    fleet: Fleet,
    stats: SimulationStats,
    stop: asyncio.Event,
    concurrency: int = 32,
    metadata: Metadata = (),
) -> None:
    """Register every device, `concurrency` at a time, retrying while collection is unavailable.
    Registering a device again identically is a no-op on the server. `metadata` carries the
    simulator's token."""
    queue: asyncio.Queue[Device] = asyncio.Queue()
    for device in fleet.devices:
        queue.put_nowait(device)

    async def worker() -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                device = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            request = pb.RegisterDeviceRequest(device=device_to_proto(device))
            while not stop.is_set():
                try:
                    await stub.RegisterDevice(request, timeout=10.0, wait_for_ready=True, metadata=metadata)
                    stats.registered += 1
                    backoff.reset()
                    break
                except grpc.aio.AioRpcError as exc:
                    code = exc.code()
                    if code in RETRYABLE:
                        stats.last_error = f"RegisterDevice: {code.name}: {exc.details()}"
                        await sleep_unless(stop, backoff.delay())
                        continue
                    if code == grpc.StatusCode.ALREADY_EXISTS:
                        stats.registration_conflicts += 1
                        stats.registered += 1
                        log.warning("%s is registered differently: %s", device.device_id, exc.details())
                    else:
                        stats.registration_failures += 1
                        stats.last_error = f"RegisterDevice {device.device_id}: {code.name}: {exc.details()}"
                        log.error("%s", stats.last_error)
                    break

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(fleet)) or 1)))


class Gateway:
    """Streams one part of the fleet: generates its readings as simulated time passes, and keeps
    each batch until it is settled by an ack."""

    def __init__(
        self,
        name: str,
        fleet: Fleet,
        clock: SimClock,
        start_ms: int,
        stats: SimulationStats,
        stop: asyncio.Event,
        *,
        pending: list[str] | None = None,
        batch_size: int = 1000,
        window: int = 32,
        drain_s: float = 10.0,
        retry_s: float = 0.5,
        metadata: Metadata = (),
    ) -> None:
        self.name = name
        self.metadata = metadata
        """Sent with every stream: the simulator's token."""
        self.fleet = fleet
        self.clock = clock
        self.cursor = start_ms
        self.stats = stats
        self.stop = stop
        self.batch_size = batch_size
        self.window = window
        self.drain_s = drain_s
        self.retry_s = retry_s
        self.pending = pending or []
        """Ids of batches a previous run left without an ack: sent again first."""
        self.unacked: dict[str, Batch] = {}
        self.to_send: dict[str, None] = {}
        """Batch ids to write on the current stream, oldest first (an ordered set)."""
        self.wake = asyncio.Event()
        """Set on anything the writer acts on: a new batch, an ack, a broken stream, the end."""
        self.space = asyncio.Event()
        """Set when an ack makes room in the window."""
        self.producing = True
        self.drain_expired = asyncio.Event()
        self.written: set[str] = set()
        """Batches written on some stream at least once: writing one again is a resend."""
        self.stream_error: BaseException | None = None
        readings_per_s = max(fleet.readings_per_second(), 1e-9)
        # Generate about a batch at a time, at least every second of real time.
        self.tick_s = min(1.0, max(0.05, batch_size / (readings_per_s * clock.rate)))
        # At most a few batches' worth of simulated time per step, so a gateway that fell behind
        # (collection down) catches up step by step instead of building one huge backlog.
        self.max_step_ms = max(1, int(4 * batch_size / readings_per_s * 1000))
        stats.cursors[name] = start_ms
        stats.unacked[name] = self.unacked

    def finished(self) -> bool:
        return not self.producing and (not self.unacked or self.drain_expired.is_set())

    async def run(self, stub: pb_grpc.CollectionServiceStub, deadline: float | None) -> None:
        producer = asyncio.create_task(self._produce(deadline))
        try:
            backoff = Backoff()
            while not self.finished():
                acked_before = self.stats.batches_acked
                session = asyncio.create_task(self._session(stub))
                expired = asyncio.create_task(self.drain_expired.wait())
                await asyncio.wait({session, expired}, return_when=asyncio.FIRST_COMPLETED)
                expired.cancel()
                if not session.done():
                    # Past the drain deadline with a stream stuck (collection gone): give up.
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await session
                    break
                try:
                    session.result()
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError, StreamBroken) as exc:
                    self.stats.reconnects += 1
                    self.stats.last_error = f"{self.name}: stream broke: {describe(exc)}"
                    log.warning("%s", self.stats.last_error)
                    if self.stats.batches_acked > acked_before:
                        backoff.reset()
                    await asyncio.sleep(backoff.delay())
            await producer
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            self.stats.unconfirmed_batches += len(self.unacked)

    async def _produce(self, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._recover()
            while True:
                # The last step, on stop or at the deadline, still covers the time up to then.
                last = self.stop.is_set() or (deadline is not None and loop.time() >= deadline)
                if not last and len(self.unacked) >= self.window:
                    self.space.clear()
                    await self._wait_either(self.space, self.tick_s)
                    continue
                now = self.clock.now_ms()
                end = min(now, self.cursor + self.max_step_ms)
                if end > self.cursor:
                    self._generate(end)
                if last:
                    return
                if end == now:
                    remaining = None if deadline is None else max(0.0, deadline - loop.time())
                    await sleep_unless(
                        self.stop, self.tick_s if remaining is None else min(self.tick_s, remaining)
                    )
                else:
                    await asyncio.sleep(0)
        finally:
            self.producing = False
            loop.call_later(self.drain_s, self._expire_drain)
            self.wake.set()

    def _recover(self) -> None:
        """Regenerate the batches a previous run left unconfirmed: same window, same batch."""
        wanted = set(self.pending)
        windows: dict[tuple[int, int], None] = {}
        for batch_id in self.pending:
            gateway, start, end, _chunk = [*batch_id.rsplit("-", 3), "", "", ""][:4]
            if gateway == self.name and start.isdigit() and end.isdigit():
                windows[(int(start), int(end))] = None
        for window_start, window_end in windows:
            for batch in batches(self.name, self.fleet, window_start, window_end, self.batch_size):
                if batch.batch_id in wanted:
                    self.unacked[batch.batch_id] = batch
                    self.to_send[batch.batch_id] = None
                    self.stats.batches_sent += 1
                    self.stats.readings_sent += len(batch)
                    self.stats.recovered_batches += 1
        self.wake.set()

    def _generate(self, end: int) -> None:
        for batch in batches(self.name, self.fleet, self.cursor, end, self.batch_size):
            self.unacked[batch.batch_id] = batch
            self.to_send[batch.batch_id] = None
            self.stats.batches_sent += 1
            self.stats.readings_sent += len(batch)
        self.cursor = end
        self.stats.cursors[self.name] = end
        self.stats.sim_time_ms = max(self.stats.sim_time_ms, end)
        self.stats.live = self.clock.live()
        self.wake.set()

    async def _wait_either(self, event: asyncio.Event, timeout: float) -> None:
        waiter = asyncio.ensure_future(event.wait())
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    def _expire_drain(self) -> None:
        self.drain_expired.set()
        self.wake.set()

    async def _session(self, stub: pb_grpc.CollectionServiceStub) -> None:
        """One StreamReadings stream: send every unacked batch, then new ones as they come."""
        call = stub.StreamReadings(wait_for_ready=True, metadata=self.metadata)
        self.stream_error = None
        self.to_send = dict.fromkeys(self.unacked)
        reader = asyncio.create_task(self._read_acks(call))
        try:
            while not self.finished():
                if self.stream_error is not None:
                    raise self.stream_error
                if not self.to_send:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                batch_id = next(iter(self.to_send))
                del self.to_send[batch_id]
                batch = self.unacked.get(batch_id)
                if batch is not None:
                    if batch_id in self.written:
                        self.stats.resends += 1
                    self.written.add(batch_id)
                    await call.write(batch_to_proto(batch))
            if not self.unacked:
                await call.done_writing()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader, 5.0)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, StreamBroken):
                await reader
            call.cancel()

    async def _read_acks(self, call: grpc.aio.StreamStreamCall) -> None:
        try:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    if self.unacked:
                        raise StreamBroken(f"collection ended the stream with {len(self.unacked)} unacked")
                    return
                self._settle(response.ack)
        except (grpc.aio.AioRpcError, StreamBroken) as exc:
            self.stream_error = exc
            self.wake.set()

    def _settle(self, ack: pb.BatchAck) -> None:
        batch = self.unacked.get(ack.batch_id)
        if batch is None:
            return  # a late ack of a batch already settled through a resend
        s = self.stats
        if ack.error_code in RETRIED_ACKS:
            s.last_error = f"{self.name}: batch {ack.batch_id} not stored: {ack.error_message}"
            asyncio.get_running_loop().call_later(self.retry_s, self._resend, ack.batch_id)
            return
        del self.unacked[ack.batch_id]
        self.written.discard(ack.batch_id)
        if ack.error_code:
            s.batches_failed += 1
            s.readings_failed += len(batch)
            s.last_error = f"{self.name}: batch {ack.batch_id} failed ({ack.error_code}): {ack.error_message}"
            log.error("%s", s.last_error)
        else:
            s.batches_acked += 1
            s.readings_accepted += ack.accepted
            s.readings_rejected += ack.rejected
            s.duplicate_batches += ack.duplicate
            for rejection in ack.rejections:
                s.rejections[common_pb2.RejectionReason.Name(rejection.reason)] += 1
        self.space.set()
        self.wake.set()

    def _resend(self, batch_id: str) -> None:
        if batch_id in self.unacked and batch_id not in self.to_send:
            self.to_send[batch_id] = None
            self.wake.set()


class StreamBroken(Exception):
    """The stream ended while batches were still waiting for their acks."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc) or type(exc).__name__
