"""The simulator's camera AI: reports the fleet's detections (detections.py) to collection's
ReportDetections as simulated time passes, one batch per step.

A batch is sent again, with the same id, while collection is unavailable or the batch is over a
rate (collection's dedup stores it once); the cursor moves past a step only once its batches are
answered, so a resumed run (the checkpoint holds the cursor like a gateway's) sends an unanswered
step again. A collection without ReportDetections (UNIMPLEMENTED) turns the reporter off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import grpc

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.simulator.detections import DETECTIONS_PER_CAMERA_HOUR, DetectionBatch, detection_batches
from citymesh.simulator.fleet import Fleet
from citymesh.simulator.gateway import RETRYABLE, Backoff, Metadata, describe, sleep_unless
from citymesh.simulator.schedule import SimClock
from citymesh.simulator.stats import SimulationStats

log = logging.getLogger("citymesh.simulator.detections")

STEP_MS = 15 * 60_000
"""At most this much simulated time per batch, so a run far in the past catches up step by step."""


def label_to_proto(label: str) -> pb.DetectionLabel:
    return cast(pb.DetectionLabel, pb.DetectionLabel.Value(f"DETECTION_LABEL_{label.upper()}"))


def detections_to_proto(batch: DetectionBatch) -> pb.ReportDetectionsRequest:
    return pb.ReportDetectionsRequest(
        batch=pb.DetectionBatch(
            batch_id=batch.batch_id,
            detections=[
                pb.Detection(
                    device_id=d.device_id,
                    time_unix_ms=d.time_ms,
                    label=label_to_proto(d.label),
                    confidence=d.confidence,
                    count=d.count,
                    box=pb.BoundingBox(x=d.box[0], y=d.box[1], width=d.box[2], height=d.box[3]),
                )
                for d in batch.detections
            ],
        )
    )


class DetectionReporter:
    def __init__(
        self,
        name: str,
        fleet: Fleet,
        clock: SimClock,
        start_ms: int,
        stats: SimulationStats,
        stop: asyncio.Event,
        *,
        per_camera_hour: float = DETECTIONS_PER_CAMERA_HOUR,
        tick_s: float = 1.0,
        drain_s: float = 10.0,
        metadata: Metadata = (),
    ) -> None:
        self.name = name
        self.fleet = fleet
        self.clock = clock
        self.cursor = start_ms
        self.stats = stats
        self.stop = stop
        self.per_camera_hour = per_camera_hour
        self.tick_s = tick_s
        self.drain_s = drain_s
        self.metadata = metadata
        stats.cursors[name] = start_ms

    async def run(self, stub: pb_grpc.CollectionServiceStub, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            last = self.stop.is_set() or (deadline is not None and loop.time() >= deadline)
            end = min(self.clock.now_ms(), self.cursor + STEP_MS)
            if end > self.cursor:
                for batch in detection_batches(self.name, self.fleet, self.cursor, end, self.per_camera_hour):
                    if not await self._send(stub, batch):
                        return
                self.cursor = end
                self.stats.cursors[self.name] = end
            if last:
                return
            if end < self.clock.now_ms():
                await asyncio.sleep(0)
                continue  # behind: the next step at once
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            await sleep_unless(self.stop, self.tick_s if remaining is None else min(self.tick_s, remaining))

    async def _send(self, stub: pb_grpc.CollectionServiceStub, batch: DetectionBatch) -> bool:
        """Send one batch until it is answered; False when the reporter must stop (collection
        has no ReportDetections, or it stayed away past the drain after a stop)."""
        request = detections_to_proto(batch)
        s = self.stats
        s.detections_sent += len(batch.detections)
        backoff = Backoff()
        loop = asyncio.get_running_loop()
        give_up: float | None = None
        while True:
            try:
                response = await stub.ReportDetections(
                    request, timeout=10.0, wait_for_ready=True, metadata=self.metadata
                )
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    log.warning("collection does not take detections (%s); not reporting any", describe(exc))
                    s.last_error = f"{self.name}: ReportDetections: {describe(exc)}"
                    return False
                if code in RETRYABLE:
                    s.last_error = f"{self.name}: batch {batch.batch_id} not stored: {describe(exc)}"
                    if self.stop.is_set():
                        give_up = give_up or loop.time() + self.drain_s
                        if loop.time() >= give_up:
                            return False
                    await asyncio.sleep(backoff.delay())
                    continue
                s.detection_batches_failed += 1
                s.last_error = f"{self.name}: batch {batch.batch_id} failed: {describe(exc)}"
                log.error("%s", s.last_error)
                return True
            s.detections_accepted += response.accepted
            s.detections_rejected += response.rejected
            for rejection in response.rejections:
                s.rejections[pb.DetectionRejectionReason.Name(rejection.reason)] += 1
            return True
