"""Governance state on NATS.

- Peaks: one key, `registry`, of the `governance-peaks` bucket holds every peak, changed by
  compare-and-set. The guards span peaks (one active peak per sub-district, one peak per tenant),
  so one key makes each transition atomic over all of them; the zone has tens of peaks, not
  millions.
- Tenants: a projection of the peaks into the `tenants` bucket (tenant → status), which the
  runtime's token check reads in every service.
- Award ledger: the `award-ledger` bucket. `claim.<id>` holds a decision and is written with
  create only, so it is never overwritten (append-only, and a claim id is decided once);
  `technology.<digest>` (create only) and `recognition.<digest>` (compare-and-set) guard the
  once-per-technology and highest-level-only rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from citymesh.governance.domain import (
    TENANT_ENABLED,
    ZONE_TENANT,
    Decision,
    Peak,
    Recognised,
    RecognitionLevel,
)
from citymesh.runtime import errors
from citymesh.runtime.bus import AWARDS_BUCKET, PEAKS_BUCKET, TENANTS_BUCKET, Bus

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


class PeakStore:
    def __init__(self, peaks: KeyValue, tenants: KeyValue) -> None:
        self.peaks = peaks
        self.tenants = tenants

    @classmethod
    async def open(cls, bus: Bus) -> PeakStore:
        return cls(await bus.kv(PEAKS_BUCKET), await bus.kv(TENANTS_BUCKET))

    async def load(self) -> tuple[dict[str, Peak], int | None]:
        got = await _get(self.peaks, REGISTRY)
        if got is None:
            return {}, None
        raw, revision = got
        return {p["peak_id"]: Peak.from_dict(p) for p in json.loads(raw)}, revision

    async def seed(self, peaks: dict[str, Peak]) -> bool:
        """Store the seed's peaks unless some are stored already; True if this call stored them."""
        try:
            await _put(self.peaks, REGISTRY, _encode(peaks), None)
        except Conflict:
            return False
        await self.project(list(peaks.values()))
        return True

    async def change(self, fn: Callable[[dict[str, Peak]], tuple[Peak, T]]) -> T:
        """Apply `fn` to the latest peaks (it returns the changed peak) by compare-and-set, retrying
        on the latest state when another writer won (so a guard that no longer holds fails then)."""
        for _ in range(CAS_TRIES):
            peaks, revision = await self.load()
            changed, result = fn(peaks)
            try:
                await _put(self.peaks, REGISTRY, _encode({**peaks, changed.peak_id: changed}), revision)
            except Conflict:
                continue
            await self.project([changed])
            return result
        raise errors.Unavailable(f"the peaks changed {CAS_TRIES} times while being updated; retry")

    async def project(self, peaks: list[Peak]) -> None:
        """Write the tenants' status for the token check of every service."""
        for peak in peaks:
            if peak.tenant:
                record = {"tenant": peak.tenant, "district": peak.district, "status": peak.state.value}
                await self.tenants.put(peak.tenant, json.dumps(record).encode())

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


def _encode(peaks: dict[str, Peak]) -> bytes:
    return json.dumps([p.to_dict() for p in peaks.values()], sort_keys=True).encode()


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
        try:
            keys = await self.kv.keys()
        except (NoKeysError, NotFoundError):
            return []
        found = [await self.decision(k) for k in keys if k.startswith("claim.")]
        return sorted((d for d in found if d is not None), key=lambda d: (d.decided_at_ms, d.claim.claim_id))
