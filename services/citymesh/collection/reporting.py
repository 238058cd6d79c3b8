"""ReportDetections: validate a batch of camera detections and make the accepted ones durable on
EVENTS, one JSON event per sub-district (see detections.py for its shape)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass

from opentelemetry import metrics

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.collection import convert
from citymesh.collection.detections import (
    DetectionVerdict,
    detection_msg_id,
    event_of,
    validate_detections,
)
from citymesh.collection.domain import Limits
from citymesh.collection.ingest import writer_of
from citymesh.collection.registry import Registry, now_ms
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import Bus, detection_subject
from citymesh.runtime.errors import Unavailable
from citymesh.runtime.ratelimit import TenantLimits

log = logging.getLogger("citymesh.collection.detections")


@dataclass
class DetectionStats:
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0


class DetectionReporter:
    def __init__(
        self, bus: Bus, registry: Registry, limits: Limits, access: Access, rate: TenantLimits
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.limits = limits
        self.access = access
        self.rate = rate
        self.stats = DetectionStats()
        meter = metrics.get_meter("citymesh.collection")
        self._accepted = meter.create_counter("citymesh.detections.accepted", unit="{detection}")
        self._rejected = meter.create_counter("citymesh.detections.rejected", unit="{detection}")

    async def report(self, request: pb.ReportDetectionsRequest, who: Identity) -> pb.ReportDetectionsResponse:
        """Validate the batch of `who` and store its accepted detections; InvalidArgument for a
        malformed batch, ResourceExhausted over the tenant's rate, Unavailable when EVENTS did not
        store them (retry with the same batch id)."""
        batch = request.batch
        if not who.is_platform:  # the simulator reports for every district
            await self.rate.take(who.tenant, len(batch.detections))
        batch_id = batch.batch_id or f"auto-{uuid.uuid4()}"
        detections = [convert.detection_from_proto(d) for d in batch.detections]
        verdict = validate_detections(
            batch_id, detections, self.registry.devices, now_ms(), self.limits, writer_of(who)
        )
        if verdict.others:
            await self._audit(who, batch_id, verdict)
        parts = [
            (
                detection_subject(district),
                json.dumps(event_of(batch_id, district, placed, who.tenant), sort_keys=True).encode(),
                detection_msg_id(batch_id, district),
            )
            for district, placed in verdict.by_district().items()
        ]
        stored = [await self.bus.publish_started(s, payload, msg_id) for s, payload, msg_id in parts]
        acks = await asyncio.gather(*stored, return_exceptions=True)
        failed = [a for a in acks if isinstance(a, BaseException)]
        if failed:
            raise Unavailable(
                f"EVENTS did not store the detections of batch {batch_id}: {failed[0]!r}; retry"
            )
        duplicate = bool(acks) and all(not isinstance(a, BaseException) and a.duplicate for a in acks)
        self._count(batch_id, verdict, duplicate)
        return convert.detections_response(batch_id, verdict, duplicate)

    async def _audit(self, who: Identity, batch_id: str, verdict: DetectionVerdict) -> None:
        named = ", ".join(verdict.others[:5]) + (
            f" and {len(verdict.others) - 5} more" if len(verdict.others) > 5 else ""
        )
        others = set(verdict.others)
        denied = sum(r.device_id in others for r in verdict.rejected)
        await self.access.record(
            who,
            "ReportDetections",
            f"devices {named}",
            False,
            f"batch {batch_id}: {denied} detections for devices of another district or tenant rejected",
        )

    def _count(self, batch_id: str, verdict: DetectionVerdict, duplicate: bool) -> None:
        s = self.stats
        s.batches += 1
        s.accepted += len(verdict.accepted)
        s.rejected += len(verdict.rejected)
        s.duplicates += duplicate
        self._accepted.add(len(verdict.accepted))
        if verdict.rejected:
            self._rejected.add(len(verdict.rejected))
            log.info(
                "detections rejected",
                extra={
                    "batch_id": batch_id,
                    "rejected": len(verdict.rejected),
                    "accepted": len(verdict.accepted),
                },
            )
