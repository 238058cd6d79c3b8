"""Ingest: decode a batch, validate it, and make its accepted readings durable in TELEMETRY.

A batch whose readings all pass and share one sub-district is forwarded as the bytes the client
sent (no re-encoding); otherwise the accepted readings are re-encoded, one message per district.
Each message's Nats-Msg-Id is "<batch_id>/<district>", so a retried batch is stored once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from opentelemetry import metrics

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.city import DISTRICTS
from citymesh.collection import convert
from citymesh.collection.domain import Columns, Limits, Verdict, Writer, select, validate
from citymesh.collection.registry import Registry, now_ms
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import Bus, telemetry_subject
from citymesh.runtime.errors import InvalidArgument, Unavailable
from citymesh.runtime.ratelimit import TenantLimits

log = logging.getLogger("citymesh.collection.ingest")


@dataclass
class IngestStats:
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    failed: int = 0


def split_request(raw: bytes) -> tuple[pb.ReadingBatch, bytes | None]:
    """Parse an IngestRequest or StreamReadingsRequest (both hold the batch in field 1) and return
    the batch with its own bytes, sliced out of the request when it is the request's only field."""
    try:
        batch = pb.StreamReadingsRequest.FromString(raw).batch
    except DecodeError as exc:
        raise InvalidArgument(f"the request is not a valid protobuf message: {exc}") from exc
    if raw[:1] != b"\x0a":
        return batch, None
    length, shift, pos = 0, 0, 1
    while pos < len(raw) and pos < 6:
        byte = raw[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return batch, (raw[pos:] if pos + length == len(raw) else None)
        shift += 7
    return batch, None


def writer_of(who: Identity) -> Writer | None:
    """The device checks' view of a caller: None (every device) for the platform."""
    return None if who.is_platform else Writer(who.tenant, who.district)


class Ingestor:
    def __init__(
        self,
        bus: Bus,
        registry: Registry,
        limits: Limits,
        access: Access | None = None,
        rate: TenantLimits | None = None,
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.limits = limits
        self.access = access or Access(bus, "collection")
        self.rate = rate or TenantLimits(0, "readings")
        self.stats = IngestStats()
        meter = metrics.get_meter("citymesh.collection")
        self._accepted = meter.create_counter("citymesh.readings.accepted", unit="{reading}")
        self._rejected = meter.create_counter("citymesh.readings.rejected", unit="{reading}")

    async def ingest(self, raw: bytes, who: Identity) -> pb.BatchAck:
        """Validate and store one batch; InvalidArgument, ResourceExhausted or Unavailable for the
        batch as a whole."""
        return await (await self.submit(raw, who))

    async def submit(self, raw: bytes, who: Identity) -> asyncio.Future[pb.BatchAck]:
        """Validate one batch of `who` and send its accepted readings to JetStream. The returned
        future gives the batch's ack once JetStream stored every part (or fails with Unavailable);
        a malformed batch raises InvalidArgument at once, one over the tenant's rate
        ResourceExhausted. Readings of devices `who` may not write are rejected one by one (and
        the attempt audited)."""
        try:
            batch, own_bytes = split_request(raw)
            if not who.is_platform:  # the simulator's gateways feed every district
                await self.rate.take(who.tenant, len(batch.values))
            batch_id = batch.batch_id or f"auto-{uuid.uuid4()}"
            if not batch.batch_id:
                own_bytes = None
            columns = convert.columns_from_proto(batch, batch_id)
            verdict = validate(columns, self.registry.index, now_ms(), self.limits, writer_of(who))
            if verdict.others:
                await self._audit(who, batch_id, verdict)
            stored = [
                await self.bus.publish_started(subject, payload, msg_id)
                for subject, payload, msg_id in self._parts(columns, verdict, own_bytes)
            ]
        except Exception:
            self.stats.failed += 1
            raise
        result: asyncio.Future[pb.BatchAck] = asyncio.get_running_loop().create_future()
        waiting = len(stored)

        def settle(_: object = None) -> None:
            nonlocal waiting
            waiting -= 1
            if waiting > 0 or result.done():
                return
            failed = [f for f in stored if f.cancelled() or f.exception() is not None]
            if failed:
                self.stats.failed += 1
                reason = "cancelled" if failed[0].cancelled() else repr(failed[0].exception())
                result.set_exception(Unavailable(f"JetStream did not store batch {batch_id}: {reason}"))
                return
            duplicate = bool(stored) and all(f.result().duplicate for f in stored)
            result.set_result(self._record(batch_id, verdict, duplicate))

        if stored:
            for future in stored:
                future.add_done_callback(settle)
        else:
            waiting = 1
            settle()
        return result

    async def _audit(self, who: Identity, batch_id: str, verdict: Verdict) -> None:
        named = ", ".join(verdict.others[:5]) + (
            f" and {len(verdict.others) - 5} more" if len(verdict.others) > 5 else ""
        )
        denied = sum(r.device_id in set(verdict.others) for r in verdict.rejected)
        await self.access.record(
            who,
            "Ingest",
            f"devices {named}",
            False,
            f"batch {batch_id}: {denied} readings for devices of another district or tenant rejected",
        )

    def _record(self, batch_id: str, verdict: Verdict, duplicate: bool) -> pb.BatchAck:
        accepted = int(verdict.accepted.sum())
        self.stats.batches += 1
        self.stats.accepted += accepted
        self.stats.rejected += len(verdict.rejected)
        self.stats.duplicates += duplicate
        self._accepted.add(accepted)
        if verdict.rejected:
            self._rejected.add(len(verdict.rejected))
            log.info(
                "readings rejected",
                extra={"batch_id": batch_id, "rejected": len(verdict.rejected), "accepted": accepted},
            )
        return convert.ack_to_proto(batch_id, verdict, duplicate)

    @staticmethod
    def _parts(columns: Columns, verdict: Verdict, own_bytes: bytes | None) -> list[tuple[str, bytes, str]]:
        """(subject, payload, msg id) of each message that stores the accepted readings."""
        districts = verdict.districts()
        if own_bytes is not None and verdict.all_accepted and len(districts) == 1:
            payloads = [(districts[0], own_bytes)]
        else:
            payloads = [
                (d, convert.columns_to_proto(select(columns, verdict.district == d)).SerializeToString())
                for d in districts
            ]
        return [
            (telemetry_subject(DISTRICTS[d]), payload, f"{columns.batch_id}/{DISTRICTS[d]}")
            for d, payload in payloads
        ]
