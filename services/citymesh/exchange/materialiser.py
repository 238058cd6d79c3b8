"""The materialiser: TELEMETRY stream → DuckDB, exactly once, then → live subscribers.

Why this consumer. The position that matters is the one in DuckDB, committed in the same
transaction as the rows it produced; any position the server keeps beside it can only disagree with
it (a durable consumer's ack floor lags it after a crash, and after a store is restored from a
backup it is ahead of it). So the store's position is the only one: at each start, and after any
failure, the materialiser creates a fresh ephemeral pull consumer starting at committed + 1, with
no acks (AckNone: nothing for the server to redeliver behind our back, no ack traffic) and an
inactivity threshold that lets the server drop it after a crash. Pull, not push, so that the
materialiser asks for the next messages only when it is ready: a backlog (a restart after hours)
is read at the speed of the store, never buffered without bound. Because the consumer does not
redeliver, a message lost between server and client (a reconnect) shows as a gap in the consumer
sequence: on any gap or error the consumer is dropped and a new one starts after the committed
sequence. Messages at or below the committed sequence are skipped, never stored twice.

Each fetch (up to `fetch_batch` messages) becomes one transaction, decoded with numpy and inserted
as one Arrow table; while it commits on the store's writer thread the next fetch is read and
decoded. Subscribers are offered the batches only after their commit. One OpenTelemetry span per
fetch, linked to the trace context of each message (the traces of the collection requests that
published them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.js import api
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from citymesh.exchange import convert
from citymesh.exchange.devices import DeviceDirectory
from citymesh.exchange.domain import Stats, StoredBatch
from citymesh.exchange.store import Store
from citymesh.exchange.subscriptions import SubscriptionHub
from citymesh.runtime import errors
from citymesh.runtime.bus import TELEMETRY_STREAM, TELEMETRY_SUBJECTS, Bus
from citymesh.runtime.telemetry import extract

log = logging.getLogger("citymesh.exchange.materialiser")

MAX_LINKS = 128
"""OpenTelemetry's default limit of links per span."""
PROGRESS_EVERY_S = 10.0


class ConsumerGap(Exception):
    """A message of the consumer was not received: start again after the committed sequence."""


@dataclass
class Fetched:
    """The messages of one fetch, decoded: what one transaction stores."""

    batches: list[StoredBatch]
    sequence: int
    links: list[Link] = field(default_factory=list)
    malformed: int = 0

    @property
    def readings(self) -> int:
        return sum(len(b) for b in self.batches)


class Materialiser:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        devices: DeviceDirectory,
        hub: SubscriptionHub,
        *,
        fetch_batch: int,
        fetch_wait_s: float,
        retry_s: float = 1.0,
    ) -> None:
        self._bus = bus
        self._store = store
        self._devices = devices
        self._hub = hub
        self._fetch_batch = fetch_batch
        self._fetch_wait_s = fetch_wait_s
        self._retry_s = retry_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tracer = trace.get_tracer("citymesh.exchange")
        self._progress_at = time.monotonic()
        self._progress_readings = 0

    async def start(self) -> None:
        committed = self._store.position.committed_sequence
        info = await self._bus.js.stream_info(TELEMETRY_STREAM)
        if info.state.first_seq > committed + 1 and info.state.messages:
            log.warning(
                "batches left the TELEMETRY stream (max age) before they were stored",
                extra={"committed_sequence": committed, "stream_first_sequence": info.state.first_seq},
            )
        log.info(
            "materialiser starting",
            extra={"committed_sequence": committed, "stream_sequence": info.state.last_seq},
        )
        self._task = asyncio.create_task(self._run(), name="exchange-materialiser")

    async def stop(self) -> None:
        """Stop fetching, let the transaction in flight finish."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        log.info(
            "materialiser stopped", extra={"committed_sequence": self._store.position.committed_sequence}
        )

    async def stats(self) -> Stats:
        try:
            info = await self._bus.js.stream_info(TELEMETRY_STREAM)
        except Exception as exc:
            raise errors.Unavailable(f"cannot read the TELEMETRY stream's state from NATS: {exc}") from exc
        position = self._store.position
        return Stats(
            rows=position.readings,
            devices=len(self._devices),
            committed_sequence=position.committed_sequence,
            stream_sequence=int(info.state.last_seq),
            newest_ms=position.newest_ms,
        )

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._consume()
            except Exception as exc:
                log.warning(
                    "materialiser interrupted; resuming after the committed sequence",
                    exc_info=not isinstance(exc, ConsumerGap),
                    extra={"committed_sequence": self._store.position.committed_sequence, "reason": str(exc)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._retry_s)

    async def _consume(self) -> None:
        start = self._store.position.committed_sequence + 1
        name = f"exchange-{uuid.uuid4().hex[:12]}"
        js = self._bus.js
        await js.add_consumer(
            TELEMETRY_STREAM,
            config=api.ConsumerConfig(
                name=name,
                description="exchange materialiser; its position is kept in the exchange's DuckDB file",
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_policy=api.AckPolicy.NONE,
                filter_subject=TELEMETRY_SUBJECTS,
                inactive_threshold=60.0,
                mem_storage=True,
                num_replicas=1,
            ),
        )
        sub = await js.pull_subscribe_bind(durable=None, stream=TELEMETRY_STREAM, name=name)
        log.info("consumer created", extra={"consumer": name, "from_sequence": start})
        commit: asyncio.Task[None] | None = None
        consumer_sequence = 0
        handed = start - 1
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await sub.fetch(self._fetch_batch, timeout=self._fetch_wait_s)
                except (nats.errors.TimeoutError, TimeoutError):  # nothing new within fetch_wait_s
                    continue
                fresh = []
                for msg in msgs:
                    meta = msg.metadata
                    if meta.sequence.consumer != consumer_sequence + 1:
                        raise ConsumerGap(
                            f"consumer sequence {meta.sequence.consumer} after {consumer_sequence}"
                        )
                    consumer_sequence = meta.sequence.consumer
                    if meta.sequence.stream > handed:
                        handed = meta.sequence.stream
                        fresh.append(msg)
                if not fresh:
                    continue
                fetched = await self._decode(fresh)
                if commit is not None:
                    await commit
                commit = asyncio.create_task(self._commit(fetched))
        finally:
            try:
                if commit is not None:
                    await commit
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
                with contextlib.suppress(Exception):
                    await js.delete_consumer(TELEMETRY_STREAM, name)

    async def _decode(self, msgs: list[Any]) -> Fetched:
        fetched = Fetched([], msgs[-1].metadata.sequence.stream)
        for msg in msgs:
            sequence = msg.metadata.sequence.stream
            if len(fetched.links) < MAX_LINKS:
                context = trace.get_current_span(extract(msg.headers)).get_span_context()
                if context.is_valid:
                    fetched.links.append(Link(context, {"messaging.message.id": sequence}))
            try:
                columns = convert.reading_columns(msg.data)
            except ValueError as exc:
                fetched.malformed += 1
                log.error(
                    "skipping a malformed batch",
                    extra={"sequence": sequence, "subject": msg.subject, "reason": str(exc)},
                )
                continue
            kinds, districts = await self._devices.resolve(columns.device_ids)
            index = columns.device_index
            fetched.batches.append(
                StoredBatch(
                    sequence,
                    columns.device_ids,
                    index,
                    columns.time_ms,
                    columns.value,
                    kinds[index],
                    districts[index],
                )
            )
        return fetched

    async def _commit(self, fetched: Fetched) -> None:
        readings = fetched.readings
        with self._tracer.start_as_current_span(
            "exchange.materialise",
            kind=SpanKind.CONSUMER,
            links=fetched.links,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": TELEMETRY_STREAM,
                "messaging.batch.message_count": len(fetched.batches) + fetched.malformed,
                "citymesh.readings": readings,
                "citymesh.sequence": fetched.sequence,
            },
        ):
            position = await self._store.commit(fetched.batches, fetched.sequence)
        self._hub.publish(fetched.batches)
        self._progress_readings += readings
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_EVERY_S:
            log.info(
                "materialised",
                extra={
                    "committed_sequence": position.committed_sequence,
                    "readings": position.readings,
                    "readings_per_s": round(self._progress_readings / (now - self._progress_at)),
                },
            )
            self._progress_at, self._progress_readings = now, 0
