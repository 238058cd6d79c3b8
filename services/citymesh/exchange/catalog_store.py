"""The catalog on NATS: published datasets and grants in their KV buckets, changed by compare-and-set.

- `exchange-datasets`: `<owner>.<name>` → Dataset (JSON). The sub-districts' telemetry datasets
  are not stored: they follow from the districts and their peaks.
- `exchange-grants`: `<owner>.<name>.<tenant>` → Grant (JSON), one record per dataset and tenant;
  read directly on every read that goes through a grant, so a revocation or expiry holds on every
  exchange replica at once.
- `tenants` (written by governance): which tenant's peak is signed or active in a sub-district,
  the owner of that district's telemetry.

Every change reads the key, applies a pure function (catalog.py) and writes it back only if the
key is still at the revision read; when another writer came first it starts over on the new value.
The catalog holds tens to hundreds of datasets and grants, so listing reads a bucket whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from citymesh.exchange.catalog import Dataset, Grant, grant_key
from citymesh.runtime import errors
from citymesh.runtime.bus import DATASETS_BUCKET, GRANTS_BUCKET, TENANTS_BUCKET, Bus, kv_items

log = logging.getLogger("citymesh.exchange.catalog")

CAS_TRIES = 20
LIVE_PEAK = ("active", "signed")
"""Tenant statuses of a peak that owns its district's telemetry, the first preferred."""


async def _get(kv: KeyValue, key: str) -> tuple[bytes, int] | None:
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, NotFoundError):
        return None
    except nats.errors.Error as exc:
        raise errors.Unavailable(f"cannot read {key} from NATS: {exc!r}") from exc
    if entry.value is None or entry.revision is None:
        return None
    return entry.value, entry.revision


async def _entries(kv: KeyValue) -> dict[str, bytes]:
    """Every key of a bucket and its latest value."""
    return await kv_items(kv)


class CatalogStore:
    def __init__(self, datasets: KeyValue, grants: KeyValue, tenants: KeyValue) -> None:
        self._datasets = datasets
        self._grants = grants
        self._tenants = tenants

    @classmethod
    async def open(cls, bus: Bus) -> CatalogStore:
        return cls(await bus.kv(DATASETS_BUCKET), await bus.kv(GRANTS_BUCKET), await bus.kv(TENANTS_BUCKET))

    async def dataset(self, dataset_id: str) -> Dataset | None:
        got = await _get(self._datasets, dataset_id)
        return None if got is None else Dataset.from_json(got[0])

    async def datasets(self) -> list[Dataset]:
        return [Dataset.from_json(raw) for raw in (await _entries(self._datasets)).values()]

    async def publish(self, dataset: Dataset, update: Callable[[Dataset], Dataset]) -> tuple[Dataset, bool]:
        """Store `dataset` if its id is new, else `update(stored)`; (stored dataset, created)."""
        for _ in range(CAS_TRIES):
            got = await _get(self._datasets, dataset.dataset_id)
            value = dataset if got is None else update(Dataset.from_json(got[0]))
            if await self._put(
                self._datasets, value.dataset_id, value.to_json(), None if got is None else got[1]
            ):
                return value, got is None
        raise errors.Unavailable(
            f"{dataset.dataset_id} changed {CAS_TRIES} times while being published; retry"
        )

    async def grant(self, dataset_id: str, tenant: str) -> Grant | None:
        got = await _get(self._grants, grant_key(dataset_id, tenant))
        return None if got is None else Grant.from_json(got[0])

    async def grants(self) -> list[Grant]:
        return [Grant.from_json(raw) for raw in (await _entries(self._grants)).values()]

    async def change_grant(
        self, dataset_id: str, tenant: str, change: Callable[[Grant | None], Grant]
    ) -> tuple[Grant | None, Grant]:
        """Apply `change` to the stored record by compare-and-set; (before, after)."""
        key = grant_key(dataset_id, tenant)
        for _ in range(CAS_TRIES):
            got = await _get(self._grants, key)
            before = None if got is None else Grant.from_json(got[0])
            after = change(before)
            if after == before:
                return before, after
            if await self._put(self._grants, key, after.to_json(), None if got is None else got[1]):
                return before, after
        raise errors.Unavailable(f"the grant {key} changed {CAS_TRIES} times while being updated; retry")

    async def district_owners(self) -> dict[str, str]:
        """Sub-district → the tenant of its active (else signed) peak, from governance's tenants."""
        best: dict[str, tuple[int, str]] = {}
        for tenant, raw in (await _entries(self._tenants)).items():
            try:
                record = json.loads(raw)
                status, district = str(record.get("status", "")), str(record.get("district", ""))
            except (ValueError, AttributeError):
                log.warning("ignoring a malformed tenant record", extra={"tenant": tenant})
                continue
            if status in LIVE_PEAK and district:
                rank = LIVE_PEAK.index(status)
                if district not in best or rank < best[district][0]:
                    best[district] = (rank, tenant)
        return {district: tenant for district, (_, tenant) in best.items()}

    @staticmethod
    async def _put(kv: KeyValue, key: str, value: bytes, revision: int | None) -> bool:
        """Create (revision None) or compare-and-set; False when another writer came first."""
        try:
            if revision is None:
                await kv.create(key, value)
            else:
                await kv.update(key, value, last=revision)
        except KeyWrongLastSequenceError:
            return False
        except nats.errors.Error as exc:
            raise errors.Unavailable(f"cannot write {key} to NATS: {exc!r}") from exc
        return True
