"""Perceive: the rules evaluated over the TELEMETRY stream.

A durable pull consumer, `governance-incidents`, reads every sub-district's batches of readings
(collection's ReadingBatch, as published) from the first batch stored after it was created, and
resumes where it left off after a restart. Each fetch (up to `fetch_batch` batches) is decoded into
columns, the readings' devices looked up (kind, sub-district, position), the rules evaluated over
all of it at once, and the triggers handed to the pipeline; only then are the batches acked, so a
crash between the two redelivers them (a trigger may then count twice in its incident; no trigger
is lost). The rules' windows live in memory: after a restart they fill again within a window.

Camera detections arrive as camera readings (objects counted in frame) on TELEMETRY; collection
publishes no detection events on EVENTS today, so there is nothing else to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
import numpy as np
from nats.js import api

from citymesh.api.collection.v1 import collection_pb2
from citymesh.governance.incidents.devices import Devices
from citymesh.governance.incidents.evaluate import Evaluator, Firings
from citymesh.governance.incidents.model import Trigger
from citymesh.runtime import errors
from citymesh.runtime.bus import TELEMETRY_STREAM, TELEMETRY_SUBJECTS, Bus

log = logging.getLogger("citymesh.governance.incidents.perceive")

DURABLE = "governance-incidents"
ACK_WAIT_S = 60.0
FETCH_WAIT_S = 0.5

Sink = Callable[[list[Trigger]], Awaitable[None]]


class RuleReader:
    """Batches of readings (collection's ReadingBatch payloads) → rule triggers, placed."""

    def __init__(self, devices: Devices, evaluator: Evaluator) -> None:
        self.devices = devices
        self.evaluator = evaluator
        self.readings = 0
        self.batches = 0

    async def evaluate(self, payloads: list[bytes]) -> Firings:
        """Decode batches of readings (collection's ReadingBatch) and evaluate the rules over them."""
        slots, times, values = [], [], []
        for payload in payloads:
            batch = collection_pb2.ReadingBatch()
            try:
                batch.ParseFromString(payload)
            except Exception as exc:  # upb raises DecodeError as a plain Exception
                log.error("skipping a malformed batch", extra={"reason": str(exc)})
                continue
            index = np.array(batch.device_index, dtype=np.int64)
            if not len(index):
                continue
            if (
                index.max() >= len(batch.device_ids)
                or len(batch.time_unix_ms) != len(index)
                or len(batch.values) != len(index)
            ):
                log.error("skipping a malformed batch", extra={"batch_id": batch.batch_id})
                continue
            device_slots = await self.devices.slots(list(batch.device_ids))
            slots.append(device_slots[index])
            times.append(np.array(batch.time_unix_ms, dtype=np.int64))
            values.append(np.array(batch.values, dtype=np.float64))
        self.batches += len(payloads)
        if not slots:
            return Firings.empty()
        slot = np.concatenate(slots)
        self.readings += len(slot)
        kinds = self.devices.kind[slot]
        return self.evaluator.evaluate(slot, kinds, np.concatenate(times), np.concatenate(values))

    def triggers_of(self, firings: Firings) -> list[Trigger]:
        """Place each firing: its rule, device, sub-district and position."""
        out = []
        devices = self.devices
        rules = self.evaluator.rules
        for r, s, t, v in zip(
            firings.rule.tolist(),
            firings.slot.tolist(),
            firings.time_ms.tolist(),
            firings.value.tolist(),
            strict=True,
        ):
            district = devices.district_name(s)
            if not district:
                log.warning("a rule triggered on a device outside every sub-district; ignored")
                continue
            trigger = Trigger(
                rules[r], devices.device_id(s), district, float(devices.lon[s]), float(devices.lat[s]), t, v
            )
            out.append(trigger)
        return out


class Perceiver:
    def __init__(
        self,
        bus: Bus,
        reader: RuleReader,
        sink: Sink,
        fetch_batch: int = 64,
        fetch_wait_s: float = FETCH_WAIT_S,
        retry_s: float = 1.0,
        durable: str = DURABLE,
        deliver: api.DeliverPolicy = api.DeliverPolicy.NEW,
    ) -> None:
        self._bus = bus
        self.reader = reader
        self._sink = sink
        self._fetch_batch = fetch_batch
        self._fetch_wait_s = fetch_wait_s
        self._retry_s = retry_s
        self._durable = durable
        self._deliver = deliver
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.triggers = 0

    async def start(self) -> None:
        await self._bus.js.add_consumer(
            TELEMETRY_STREAM,
            config=api.ConsumerConfig(
                durable_name=self._durable,
                description="governance: the incident rules; resumes where it left off",
                deliver_policy=self._deliver,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_S,
                max_ack_pending=4 * self._fetch_batch,
                filter_subject=TELEMETRY_SUBJECTS,
            ),
        )
        self._task = asyncio.create_task(self._run(), name="incidents-perceive")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._consume()
            except Exception:
                log.exception("incident rules interrupted; resuming from the durable consumer")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._retry_s)

    async def _consume(self) -> None:
        sub = await self._bus.js.pull_subscribe_bind(durable=self._durable, stream=TELEMETRY_STREAM)
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await sub.fetch(self._fetch_batch, timeout=self._fetch_wait_s)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                await self.handle(msgs)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle(self, msgs: list[Any]) -> None:
        """Evaluate the rules over a fetch's batches, hand over the triggers, then ack them."""
        triggers = self.reader.triggers_of(await self.reader.evaluate([m.data for m in msgs]))
        while triggers:
            try:
                await self._sink(triggers[:1])
            except (errors.Unavailable, nats.errors.Error, TimeoutError) as exc:
                if self._stopping.is_set():
                    return  # unacked: redelivered to whoever runs next
                log.warning("cannot store a trigger; retrying", extra={"reason": str(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._retry_s)
                continue
            triggers = triggers[1:]
            self.triggers += 1
        for msg in msgs:
            await msg.ack()
