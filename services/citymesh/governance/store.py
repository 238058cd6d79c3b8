"""Governance state on NATS.

- Peaks: one key, `registry`, of the `governance-peaks` bucket holds every peak, changed by
  compare-and-set. The guards span peaks (one active peak per sub-district, one peak per tenant),
  so one key makes each transition atomic over all of them; the zone has tens of peaks, not
  millions. The same value holds the outbox: the events of stored transitions not yet published,
  written in the same compare-and-set as the transition and cleared once published.
- Tenants: a projection of the peaks into the `tenants` bucket (tenant → status), which the
  runtime's token check reads in every service. Each record carries the registry revision it was
  projected from, and an older projection never overwrites a newer one.
- Platform figures for the digital-economy index, read-only: the `devices` bucket (protobuf
  Device), the TELEMETRY stream's message count per subject, the `compute-jobs` bucket and the
  `incidents` bucket (JSON); a bucket or stream that does not exist yet counts as empty.
- Award ledger: the `award-ledger` bucket. `claim.<peak>.<id>` (a peak's claim; the zone's own
  `claim.<id>`, as were every claim's before ids were per peak) holds a decision and is written
  with create only, so it is never overwritten (append-only, and a claim id is decided once);
  `technology.<digest>` (create only; the ledger key of the claim that took it) and
  `recognition.<peak>.<digest>` (compare-and-set; the zone's own and older ones
  `recognition.<digest>`) guard the once-per-technology (zone-wide) and highest-level-only
  (per peak's project) rules.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf.message import DecodeError
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.common.v1 import common_pb2
from citymesh.governance.domain import (
    TENANT_ENABLED,
    ZONE_TENANT,
    Decision,
    Peak,
    PeakState,
    Pending,
    Recognised,
    RecognitionLevel,
)
from citymesh.governance.index import DeviceRecord, IncidentRecord, JobRecord
from citymesh.runtime import errors
from citymesh.runtime.bus import (
    AWARDS_BUCKET,
    DEVICES_BUCKET,
    INCIDENTS_BUCKET,
    JOBS_BUCKET,
    PEAKS_BUCKET,
    TELEMETRY_STREAM,
    TELEMETRY_SUBJECTS,
    TENANTS_BUCKET,
    Bus,
    kv_items,
)

log = logging.getLogger("citymesh.governance.store")

REGISTRY = "registry"
CAS_TRIES = 50
T = TypeVar("T")


class Conflict(Exception):
    """Another writer changed the key first."""


async def _get(kv: KeyValue, key: str) -> tuple[bytes, int] | None:
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, NotFoundError):
        return None
    if entry.value is None or entry.revision is None:
        return None
    return entry.value, entry.revision


async def _put(kv: KeyValue, key: str, value: bytes, revision: int | None) -> None:
    """Create (revision None) or compare-and-set; Conflict if another writer was first."""
    try:
        if revision is None:
            await kv.create(key, value)
        else:
            await kv.update(key, value, last=revision)
    except KeyWrongLastSequenceError as exc:
        raise Conflict(key) from exc


@dataclass(frozen=True)
class Registry:
    """The peaks, the outbox of their unpublished events, and the revision they were read at."""

    peaks: dict[str, Peak] = field(default_factory=dict)
    outbox: tuple[Pending, ...] = ()
    revision: int | None = None


class PeakStore:
    def __init__(self, peaks: KeyValue, tenants: KeyValue) -> None:
        self.peaks = peaks
        self.tenants = tenants

    @classmethod
    async def open(cls, bus: Bus) -> PeakStore:
        return cls(await bus.kv(PEAKS_BUCKET), await bus.kv(TENANTS_BUCKET))

    async def load(self) -> Registry:
        got = await _get(self.peaks, REGISTRY)
        if got is None:
            return Registry()
        raw, revision = got
        doc = json.loads(raw)
        if isinstance(doc, list):  # written before the outbox: the peaks alone
            doc = {"peaks": doc, "outbox": []}
        peaks = {p["peak_id"]: Peak.from_dict(p) for p in doc["peaks"]}
        return Registry(peaks, tuple(Pending.from_dict(e) for e in doc.get("outbox", [])), revision)

    async def seed(self, peaks: dict[str, Peak]) -> bool:
        """Store the seed's peaks unless some are stored already; True if this call stored them.
        (Their tenants are projected by the relay at start.)"""
        try:
            await _put(self.peaks, REGISTRY, _encode(peaks, ()), None)
        except Conflict:
            return False
        return True

    async def change(self, fn: Callable[[dict[str, Peak]], tuple[Peak, Pending, T]]) -> T:
        """Apply `fn` to the latest peaks (it returns the changed peak and its event) by
        compare-and-set, the event added to the outbox in the same write, retrying on the latest
        state when another writer won (so a guard that no longer holds fails then)."""
        for _ in range(CAS_TRIES):
            registry = await self.load()
            changed, pending, result = fn(registry.peaks)
            value = _encode({**registry.peaks, changed.peak_id: changed}, (*registry.outbox, pending))
            try:
                await _put(self.peaks, REGISTRY, value, registry.revision)
            except Conflict:
                continue
            return result
        raise errors.Unavailable(f"the peaks changed {CAS_TRIES} times while being updated; retry")

    async def clear(self, msg_ids: Iterable[str]) -> None:
        """Take published events out of the outbox (compare-and-set, retried)."""
        done = set(msg_ids)
        for _ in range(CAS_TRIES):
            registry = await self.load()
            left = tuple(p for p in registry.outbox if p.msg_id not in done)
            if len(left) == len(registry.outbox):
                return
            try:
                await _put(self.peaks, REGISTRY, _encode(registry.peaks, left), registry.revision)
            except Conflict:
                continue
            return
        raise errors.Unavailable(f"the peaks changed {CAS_TRIES} times while clearing the outbox; retry")

    async def project(self, registry: Registry, tenants: Iterable[str] | None = None) -> None:
        """Write the status of `tenants` (None: every tenant of a peak) as the registry says, for
        the token check of every service. A record projected from a later revision is kept."""
        assert registry.revision is not None
        held: dict[str, Peak] = {}
        for peak in sorted(registry.peaks.values(), key=lambda p: p.state is not PeakState.RETIRED):
            if peak.tenant:
                held[peak.tenant] = peak  # a tenant's live peak wins over the ones it retired
        for tenant in held if tenants is None else tenants:
            if tenant in held:
                await self._project_one(held[tenant], registry.revision)

    async def _project_one(self, peak: Peak, revision: int) -> None:
        record = {
            "tenant": peak.tenant,
            "district": peak.district,
            "status": peak.state.value,
            "peak_id": peak.peak_id,
            "revision": revision,
        }
        for _ in range(CAS_TRIES):
            got = await _get(self.tenants, peak.tenant)
            if got is not None and int(json.loads(got[0]).get("revision", 0)) >= revision:
                return
            try:
                await _put(self.tenants, peak.tenant, json.dumps(record).encode(), got[1] if got else None)
            except Conflict:
                continue
            return
        raise errors.Unavailable(f"tenant {peak.tenant}'s status changed {CAS_TRIES} times; retry")

    async def tenant_status(self, tenant: str) -> tuple[str, str]:
        """(status, district) of a tenant; status `unknown` if governance never heard of it."""
        if tenant == ZONE_TENANT:
            return "active", ""
        got = await _get(self.tenants, tenant)
        if got is None:
            return "unknown", ""
        record = json.loads(got[0])
        return str(record.get("status", "unknown")), str(record.get("district", ""))


def tenant_enabled(status: str) -> bool:
    return status in {s.value for s in TENANT_ENABLED}


def _encode(peaks: dict[str, Peak], outbox: Iterable[Pending]) -> bytes:
    doc = {"peaks": [p.to_dict() for p in peaks.values()], "outbox": [e.to_dict() for e in outbox]}
    return json.dumps(doc, sort_keys=True).encode()


class AwardLedger:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, bus: Bus) -> AwardLedger:
        return cls(await bus.kv(AWARDS_BUCKET))

    async def decision(self, key: str) -> Decision | None:
        got = await _get(self.kv, key)
        return None if got is None else Decision.from_json(got[0])

    async def append(self, key: str, decision: Decision) -> Decision:
        """Write a decision once; if the claim was decided meanwhile, the stored one wins."""
        try:
            await _put(self.kv, key, decision.to_json(), None)
        except Conflict:
            stored = await self.decision(key)
            if stored is None:  # pragma: no cover - a ledger key is never deleted
                raise errors.Unavailable(f"ledger entry {key} vanished; retry") from None
            return stored
        return decision

    async def claim_technology(self, key: str, claim_id: str) -> str:
        """Take a technology's first application for `claim_id`; returns the claim that holds it."""
        try:
            await _put(self.kv, key, claim_id.encode(), None)
        except Conflict:
            got = await _get(self.kv, key)
            return claim_id if got is None else got[0].decode()
        return claim_id

    async def recognised(self, key: str) -> tuple[Recognised | None, int | None]:
        got = await _get(self.kv, key)
        if got is None:
            return None, None
        d = json.loads(got[0])
        claims = {k: (int(v[0]), str(v[1])) for k, v in d["claims"].items()}
        return Recognised(RecognitionLevel(d["level"]), d["paid_fen"], claims), got[1]

    async def set_recognised(self, key: str, value: Recognised, revision: int | None) -> None:
        record = {"level": int(value.level), "paid_fen": value.paid_fen, "claims": value.claims}
        await _put(self.kv, key, json.dumps(record).encode(), revision)

    async def decisions(self) -> list[Decision]:
        stored = await kv_items(self.kv)
        found = [Decision.from_json(value) for key, value in stored.items() if key.startswith("claim.")]
        return sorted(found, key=lambda d: (d.decided_at_ms, d.claim.claim_id))


# --- the platform's figures, for the digital-economy index ----------------------------------------


def _enum_name(descriptor: Any, value: int, prefix: str) -> str:
    try:
        return str(descriptor.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return ""


class PlatformFigures:
    """Reads what the other parts of the platform recorded; never writes."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def _bucket(self, name: str) -> KeyValue | None:
        try:
            return await self.bus.js.key_value(name)
        except (BucketNotFoundError, NotFoundError):
            return None

    async def _records(self, bucket: str, parse: Callable[[bytes], T | None]) -> list[T]:
        kv = await self._bucket(bucket)
        if kv is None:
            return []
        found: list[T] = []
        skipped = 0
        for value in (await kv_items(kv)).values():
            record = parse(value)
            if record is None:
                skipped += 1
            else:
                found.append(record)
        if skipped:
            log.warning("records not understood", extra={"bucket": bucket, "skipped": skipped})
        return found

    async def devices(self) -> list[DeviceRecord]:
        return await self._records(DEVICES_BUCKET, parse_device)

    async def jobs(self) -> list[JobRecord]:
        return await self._records(JOBS_BUCKET, parse_job)

    async def incidents(self) -> list[IncidentRecord]:
        """The incident pipeline's records: JSON with district, opened_ms, acknowledged_ms and
        resolved_ms (0 or absent: not yet)."""
        return await self._records(INCIDENTS_BUCKET, parse_incident)

    async def telemetry_batches(self) -> dict[str, int]:
        """Batches stored per sub-district: the TELEMETRY stream's message count per subject."""
        try:
            info = await self.bus.js.stream_info(TELEMETRY_STREAM, subjects_filter=TELEMETRY_SUBJECTS)
        except NotFoundError:
            return {}
        subjects: dict[str, int] = info.state.subjects or {}
        return {s.removeprefix("telemetry."): int(n) for s, n in subjects.items()}


def parse_device(raw: bytes) -> DeviceRecord | None:
    try:
        device = collection_pb2.Device.FromString(raw)
    except DecodeError:
        return None
    return DeviceRecord(
        _enum_name(common_pb2.District, device.district, "DISTRICT_"),
        _enum_name(common_pb2.DeviceKind, device.kind, "DEVICE_KIND_"),
    )


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def parse_job(raw: bytes) -> JobRecord | None:
    doc = _json(raw)
    if doc is None or not isinstance(doc.get("tenant"), str):
        return None
    seconds = doc.get("core_seconds", 0.0)
    return JobRecord(
        doc["tenant"],
        str(doc.get("state", "")),
        float(seconds) if isinstance(seconds, int | float) else 0.0,
    )


def parse_incident(raw: bytes) -> IncidentRecord | None:
    doc = _json(raw)
    if doc is None or not isinstance(doc.get("district"), str):
        return None
    return IncidentRecord(
        doc["district"].lower(),
        _int(doc.get("opened_ms")),
        _int(doc.get("acknowledged_ms")),
        _int(doc.get("resolved_ms")),
    )
