"""Perceive: the rules evaluated over the TELEMETRY stream and over camera detections on EVENTS.

Two durable pull consumers, each read by a Perceiver, resume where they left off after a restart
and read what was stored after they were first created:

- `governance-incidents` on TELEMETRY (`telemetry.>`): every sub-district's batches of readings
  (collection's ReadingBatch, as published). Each fetch (up to `fetch_batch` batches) is decoded
  into columns, the readings' devices looked up (kind, sub-district, position), and the rules over
  readings evaluated over all of it at once. The rules' windows live in memory: after a restart
  they fill again within a window.
- `governance-detections` on EVENTS (`events.detection.>`): the camera detections collection
  accepted (ReportDetections), JSON, each placed by collection (its camera's sub-district and
  position); the detection rules are matched against each.

The triggers are handed to the pipeline and only then are the messages acked, so a crash between
the two redelivers them (a trigger may then count twice in its incident; no trigger is lost).
Of the governance replicas, only the holder of the incident lease (lease.py) runs the Perceivers;
one that stops before it handled a fetch naks its messages, for the next leader to read at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import nats.errors
import numpy as np
from nats.js import api

from citymesh.api.collection.v1 import collection_pb2
from citymesh.city import DETECTION_LABELS, DISTRICTS
from citymesh.governance.incidents.devices import Devices
from citymesh.governance.incidents.evaluate import Detection, DetectionMatcher, Evaluator, Firings
from citymesh.governance.incidents.model import Trigger
from citymesh.runtime import errors
from citymesh.runtime.bus import DETECTION_SUBJECTS, EVENTS_STREAM, TELEMETRY_STREAM, TELEMETRY_SUBJECTS, Bus

log = logging.getLogger("citymesh.governance.incidents.perceive")

DURABLE = "governance-incidents"
DETECTIONS_DURABLE = "governance-detections"
ACK_WAIT_S = 60.0
FETCH_WAIT_S = 0.5

Sink = Callable[[list[Trigger]], Awaitable[None]]


class Reader(Protocol):
    """What a Perceiver reads and how it turns a fetch's messages into triggers."""

    stream: str
    subjects: str
    durable: str
    """Its consumer's default name."""
    description: str
    readings: int
    """Items read (readings, detections)."""
    batches: int
    """Messages read."""

    async def triggers(self, payloads: list[bytes]) -> list[Trigger]: ...


class RuleReader:
    """Batches of readings (collection's ReadingBatch payloads) → rule triggers, placed."""

    stream = TELEMETRY_STREAM
    subjects = TELEMETRY_SUBJECTS
    durable = DURABLE
    description = "governance: the incident rules over readings; resumes where it left off"

    def __init__(self, devices: Devices, evaluator: Evaluator) -> None:
        self.devices = devices
        self.evaluator = evaluator
        self.readings = 0
        self.batches = 0

    async def triggers(self, payloads: list[bytes]) -> list[Trigger]:
        return self.triggers_of(await self.evaluate(payloads))

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


class DetectionReader:
    """Collection's detection events (JSON, see collection/detections.py) → detection rule triggers.
    A malformed event or detection is logged and skipped."""

    stream = EVENTS_STREAM
    subjects = DETECTION_SUBJECTS
    durable = DETECTIONS_DURABLE
    description = "governance: the incident rules over camera detections; resumes where it left off"

    def __init__(self, matcher: DetectionMatcher) -> None:
        self.matcher = matcher
        self.readings = 0
        self.batches = 0

    async def triggers(self, payloads: list[bytes]) -> list[Trigger]:
        detections: list[Detection] = []
        for payload in payloads:
            detections += detections_of(payload)
        self.batches += len(payloads)
        self.readings += len(detections)
        return [
            Trigger(rule, d.device_id, d.district, d.lon, d.lat, d.time_ms, d.confidence)
            for rule, d in self.matcher.match(detections)
        ]


def detections_of(payload: bytes) -> list[Detection]:
    """The detections of one event of collection's, placed; malformed ones logged and left out."""
    try:
        event = json.loads(payload)
        district = event["district"]
        items = event["detections"]
        if district not in DISTRICTS or not isinstance(items, list):
            raise ValueError(f"district {district!r} or detections not a list")
    except (ValueError, KeyError, TypeError) as exc:
        log.error("skipping a malformed detection event", extra={"reason": repr(exc)})
        return []
    out = []
    for item in items:
        try:
            d = Detection(
                device_id=str(item["device_id"]),
                district=district,
                lon=float(item["longitude"]),
                lat=float(item["latitude"]),
                time_ms=int(item["time_ms"]),
                label=str(item["label"]),
                confidence=float(item["confidence"]),
                count=int(item.get("count") or 0),
            )
            if d.label not in DETECTION_LABELS or not math.isfinite(d.confidence):
                raise ValueError(f"label {d.label!r}, confidence {d.confidence}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error(
                "skipping a malformed detection",
                extra={"batch_id": event.get("batch_id"), "reason": repr(exc)},
            )
            continue
        out.append(d)
    return out


class Perceiver:
    """A durable pull consumer on the reader's stream and subjects, its triggers handed to `sink`."""

    def __init__(
        self,
        bus: Bus,
        reader: Reader,
        sink: Sink,
        fetch_batch: int = 64,
        fetch_wait_s: float = FETCH_WAIT_S,
        retry_s: float = 1.0,
        durable: str | None = None,
        deliver: api.DeliverPolicy = api.DeliverPolicy.NEW,
    ) -> None:
        self._bus = bus
        self.reader = reader
        self._sink = sink
        self._fetch_batch = fetch_batch
        self._fetch_wait_s = fetch_wait_s
        self._retry_s = retry_s
        self._durable = durable or reader.durable
        self._deliver = deliver
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.triggers = 0

    async def start(self) -> None:
        await self._bus.js.add_consumer(
            self.reader.stream,
            config=api.ConsumerConfig(
                durable_name=self._durable,
                description=self.reader.description,
                deliver_policy=self._deliver,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_S,
                max_ack_pending=4 * self._fetch_batch,
                filter_subject=self.reader.subjects,
            ),
        )
        self._task = asyncio.create_task(self._run(), name=f"incidents-perceive-{self._durable}")

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
        sub = await self._bus.js.pull_subscribe_bind(durable=self._durable, stream=self.reader.stream)
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
        """Evaluate the rules over a fetch's messages, hand over the triggers, then ack them."""
        triggers = await self.reader.triggers([m.data for m in msgs])
        while triggers:
            try:
                await self._sink(triggers[:1])
            except (errors.Unavailable, nats.errors.Error, TimeoutError) as exc:
                if self._stopping.is_set():
                    await self._give_back(msgs)
                    return
                log.warning("cannot store a trigger; retrying", extra={"reason": str(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._retry_s)
                continue
            triggers = triggers[1:]
            self.triggers += 1
        for msg in msgs:
            await msg.ack()

    async def _give_back(self, msgs: list[Any]) -> None:
        """Stopping before these were handled (this replica lost the incident lease, or stops):
        back to the consumer at once for whoever runs next, rather than after ACK_WAIT_S (a
        trigger already handed over may then count twice in its incident)."""
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.nak()
