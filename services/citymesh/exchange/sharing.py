"""Who may read what, checked on every exchange RPC, and the catalog's RPCs behind the servicer.

The caller is `auth.caller(...)`: the verified token's identity, or in development the identity
headers. The rules are catalog.py's; this module fetches what they need (the dataset, the caller's
grant), audits the outcome through runtime.access (each denial, each read of another tenant's
data, each change to the catalog) and turns a read into the ReadingFilter the store answers.

A grant is read from its bucket on every read that goes through it, so a revocation or an expiry
holds at once on every replica. A Subscribe stream through a grant checks the expiry before each
batch it sends, and re-reads the grant when this replica changed a grant since it last did, or
every `recheck_s`: a stream ends at its grant's expiry, at once after a revocation made on its
own replica, and within `recheck_s` of one made on another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from citymesh.city import DISTRICTS
from citymesh.exchange import catalog
from citymesh.exchange.catalog import Caller, Dataset, Grant, Listed, ReadDecision
from citymesh.exchange.catalog_store import CatalogStore
from citymesh.exchange.domain import ReadingFilter, format_ms
from citymesh.runtime import errors
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity
from citymesh.runtime.ratelimit import TenantLimits

FOREVER_MS = 2**62
"""The end of a lease no longer bound to a grant."""


def caller_of(who: Identity) -> Caller:
    return Caller(tenant=who.tenant, district=who.district, platform=who.is_platform)


@dataclass
class Lease:
    """A grant a live read goes through: when it ends, and when it was last read from its bucket."""

    dataset_id: str
    expires_ms: int
    checked: float
    generation: int


@dataclass(frozen=True)
class ReadScope:
    """What one read may see: `filter` (None: nothing can match both the request and what the
    caller may read), and the grants it goes through."""

    filter: ReadingFilter | None
    leases: tuple[Lease, ...] = ()


class Sharing:
    def __init__(
        self,
        store: CatalogStore,
        access: Access,
        query_limits: TenantLimits,
        clock: Callable[[], float] = time.time,
        recheck_s: float = 1.0,
    ) -> None:
        self._store = store
        self._access = access
        self._limits = query_limits
        self._clock = clock
        self._recheck_s = recheck_s
        self._generation = 0
        """Grant changes this replica made; a live read re-reads its grants when it moved."""

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # Reads: Query and Subscribe.

    async def admit_query(self, who: Identity) -> None:
        """Count one query against the caller's rate (the platform's own callers are not limited)."""
        if not who.is_platform:
            await self._limits.take(who.tenant or "(anonymous)")

    async def caller(self, who: Identity, action: str, resource: str) -> Caller:
        """The caller, if it names a tenant the catalog can key by: UNAUTHENTICATED when it names
        none, an audited denial when it is no tenant name (both audited)."""
        if not who.tenant:
            reason = "no caller: send a token (in development, the x-citymesh-tenant header)"
            await self._access.record(who, action, resource, False, reason)
            raise errors.Unauthenticated(reason)
        if not catalog.TENANT.match(who.tenant):
            await self._access.deny(
                who, action, resource, f"{who.tenant!r} is not a tenant: lowercase letters, digits and dashes"
            )
        return caller_of(who)

    async def read_scope(
        self, who: Identity, dataset_id: str, wanted: ReadingFilter, action: str
    ) -> ReadScope:
        """The readings `who` may read of what it asked for, or a denial (audited)."""
        caller = await self.caller(who, action, f"dataset {dataset_id}" if dataset_id else "telemetry")
        if dataset_id:
            dataset = await self._dataset(dataset_id, owner_known=False)
            decision = await self._read_decision(who, caller, dataset, action)
            through = () if decision.expires_ms is None else (self._lease(dataset, decision),)
            return ReadScope(dataset.selection.within(wanted), through)
        if caller.platform:
            return ReadScope(wanted)
        districts = wanted.districts or frozenset({caller.district} - {""})
        if not districts:
            await self._access.deny(
                who,
                action,
                "telemetry",
                f"tenant {caller.tenant} is bound to no sub-district: name a dataset (dataset_id) or "
                "the filter.districts it holds grants on",
            )
        leases: list[Lease] = []
        for district in sorted(districts - {caller.district}):
            dataset = catalog.telemetry_dataset(district, owner="")
            decision = await self._read_decision(who, caller, dataset, action)
            if decision.expires_ms is not None:
                leases.append(self._lease(dataset, decision))
        return ReadScope(replace(wanted, districts=districts), tuple(leases))

    async def still_readable(self, who: Identity, scope: ReadScope, action: str) -> None:
        """Before a live stream sends more: each grant it goes through is still in force (its expiry
        checked now, its record re-read every `recheck_s` or once it seems expired)."""
        if not scope.leases:
            return
        now_ms = self.now_ms()
        for lease in scope.leases:
            fresh = (
                time.monotonic() - lease.checked < self._recheck_s and lease.generation == self._generation
            )
            if now_ms < lease.expires_ms and fresh:
                continue
            lease.checked, lease.generation = time.monotonic(), self._generation
            grant = await self._store.grant(lease.dataset_id, who.tenant)
            if grant is not None and grant.live(now_ms):
                lease.expires_ms = grant.expires_ms or 0
                continue
            dataset = await self._dataset(lease.dataset_id, owner_known=False)
            decision = catalog.may_read(caller_of(who), dataset, grant, now_ms)
            if not decision.allowed:
                await self._access.deny(who, action, f"dataset {lease.dataset_id}", decision.reason)
            lease.expires_ms = FOREVER_MS  # readable without the grant now (made public)

    async def _read_decision(
        self, who: Identity, caller: Caller, dataset: Dataset, action: str
    ) -> ReadDecision:
        grant = None
        if not (caller.platform or catalog.owns(caller, dataset)):
            grant = await self._store.grant(dataset.dataset_id, caller.tenant)
        decision = catalog.may_read(caller, dataset, grant, self.now_ms())
        resource = f"dataset {dataset.dataset_id}"
        if not decision.allowed:
            await self._access.deny(who, action, resource, decision.reason, hide=decision.hide)
        if decision.audited:
            await self._access.record(who, action, resource, True, decision.reason)
        return decision

    def _lease(self, dataset: Dataset, decision: ReadDecision) -> Lease:
        assert decision.expires_ms is not None
        return Lease(dataset.dataset_id, decision.expires_ms, time.monotonic(), self._generation)

    async def require_platform(self, who: Identity, action: str, resource: str) -> None:
        """Only the zone administrator or a platform service may do this."""
        await self.caller(who, action, resource)
        await self._access.require_platform(who, action, resource)

    # The catalog.

    async def _dataset(self, dataset_id: str, *, owner_known: bool = True) -> Dataset:
        """The dataset of an id, the sub-districts' telemetry included; NotFound if there is none.
        A read needs no telemetry owner (`owner_known=False` spares looking it up)."""
        owner, name = catalog.parse_dataset_id(dataset_id)
        if owner == catalog.TELEMETRY:
            owners = await self._store.district_owners() if owner_known else {}
            return catalog.telemetry_dataset(name, owners.get(name, catalog.ZONE))
        dataset = await self._store.dataset(dataset_id)
        if dataset is None:
            raise errors.NotFound(f"dataset {dataset_id} does not exist")
        return dataset

    async def _visible(self, who: Identity, dataset_id: str, action: str) -> tuple[Caller, Dataset]:
        """The dataset, if the caller may know it exists (a private one it was never granted is
        answered as not found, and the denial audited)."""
        caller = await self.caller(who, action, f"dataset {dataset_id}")
        dataset = await self._dataset(dataset_id)
        if dataset.visibility is catalog.Visibility.PRIVATE and not (
            caller.platform or catalog.may_decide(caller, dataset)
        ):
            grant = await self._store.grant(dataset_id, caller.tenant)
            if grant is None:
                await self._access.deny(
                    who,
                    action,
                    f"dataset {dataset_id}",
                    "a private dataset never granted to the caller",
                    hide=True,
                )
        return caller, dataset

    async def publish(
        self,
        who: Identity,
        name: str,
        description: str,
        visibility: catalog.Visibility | None,
        selection: ReadingFilter,
    ) -> tuple[Dataset, bool]:
        caller = await self.caller(who, "PublishDataset", "catalog")
        try:
            dataset = catalog.publication(caller, name, description, visibility, selection, self.now_ms())
        except errors.PermissionDenied as exc:
            await self._access.deny(who, "PublishDataset", f"dataset {caller.tenant}.{name}", str(exc))
        stored, created = await self._store.publish(dataset, lambda _: dataset)
        await self._access.record(
            who,
            "PublishDataset",
            f"dataset {stored.dataset_id}",
            True,
            f"{'published' if created else 'changed'} as {stored.visibility.value}",
        )
        return stored, created

    async def list_datasets(self, who: Identity, owner: str) -> list[Listed]:
        caller = await self.caller(who, "ListDatasets", "catalog")
        if owner:
            catalog.check_tenant("owner_tenant", owner)
        owners = await self._store.district_owners()
        datasets = [catalog.telemetry_dataset(d, owners.get(d, catalog.ZONE)) for d in DISTRICTS]
        datasets += await self._store.datasets()
        held = {}
        if not caller.platform:
            held = {g.dataset_id: g for g in await self._store.grants() if g.tenant == caller.tenant}
        now_ms = self.now_ms()
        listed: list[Listed] = []
        for dataset in sorted(datasets, key=lambda d: d.dataset_id):
            if owner and dataset.owner != owner:
                continue
            grant = held.get(dataset.dataset_id)
            if not catalog.may_see(caller, dataset, grant, now_ms):
                continue
            decision = catalog.may_read(caller, dataset, grant, now_ms)
            listed.append(Listed(dataset, decision.allowed, decision.expires_ms))
        return listed

    async def request_access(self, who: Identity, dataset_id: str, purpose: str) -> Grant:
        caller, dataset = await self._visible(who, dataset_id, "RequestAccess")
        now_ms = self.now_ms()
        after = await self._change_grant(
            dataset.dataset_id, caller.tenant, lambda g: catalog.request(g, dataset, caller, purpose, now_ms)
        )
        await self._access.record(
            who, "RequestAccess", f"grant {after.key}", True, f"{after.state.value}: {after.purpose}"
        )
        return after

    async def _change_grant(
        self, dataset_id: str, tenant: str, change: Callable[[Grant | None], Grant]
    ) -> Grant:
        try:
            _, after = await self._store.change_grant(dataset_id, tenant, change)
        finally:
            self._generation += 1
        return after

    async def _decider(
        self, who: Identity, dataset_id: str, tenant: str, action: str
    ) -> tuple[Caller, Dataset]:
        """The dataset, if the caller decides on it (its owner or the platform); audited denial else."""
        catalog.check_tenant("tenant", tenant)
        caller, dataset = await self._visible(who, dataset_id, action)
        if not catalog.may_decide(caller, dataset):
            await self._access.deny(
                who,
                action,
                f"grant {catalog.grant_key(dataset.dataset_id, tenant)}",
                f"only {dataset.dataset_id}'s owner ({dataset.owner}) or the zone decides who reads it",
            )
        return caller, dataset

    async def grant_access(
        self,
        who: Identity,
        dataset_id: str,
        tenant: str,
        expires_ms: int | None,
        ttl_ms: int | None,
        note: str,
    ) -> Grant:
        caller, dataset = await self._decider(who, dataset_id, tenant, "GrantAccess")
        now_ms = self.now_ms()
        end = catalog.expiry(now_ms, expires_ms, ttl_ms)
        after = await self._change_grant(
            dataset.dataset_id,
            tenant,
            lambda g: catalog.grant(g, dataset, tenant, end, note, caller.tenant, now_ms),
        )
        await self._access.record(who, "GrantAccess", f"grant {after.key}", True, f"until {format_ms(end)}")
        return after

    async def deny_access(self, who: Identity, dataset_id: str, tenant: str, reason: str) -> Grant:
        return await self._end(who, "DenyAccess", catalog.deny, dataset_id, tenant, reason)

    async def revoke_grant(self, who: Identity, dataset_id: str, tenant: str, reason: str) -> Grant:
        return await self._end(who, "RevokeGrant", catalog.revoke, dataset_id, tenant, reason)

    async def _end(
        self,
        who: Identity,
        action: str,
        transition: Callable[[Grant | None, str, str, str, str, int], Grant],
        dataset_id: str,
        tenant: str,
        reason: str,
    ) -> Grant:
        """A request denied or a grant revoked (`transition`), by the owner or the platform."""
        caller, dataset = await self._decider(who, dataset_id, tenant, action)
        now_ms = self.now_ms()
        after = await self._change_grant(
            dataset.dataset_id,
            tenant,
            lambda g: transition(g, dataset.dataset_id, tenant, reason, caller.tenant, now_ms),
        )
        await self._access.record(who, action, f"grant {after.key}", True, reason)
        return after

    async def list_grants(self, who: Identity, dataset_id: str) -> list[Grant]:
        caller = await self.caller(who, "ListGrants", "grants")
        if dataset_id:
            await self._party_to(who, dataset_id)
        grants = [g for g in await self._store.grants() if not dataset_id or g.dataset_id == dataset_id]
        if not caller.platform:
            owners = await self._store.district_owners()

            def owner_of(grant: Grant) -> str:
                owner, name = catalog.parse_dataset_id(grant.dataset_id)
                return owners.get(name, catalog.ZONE) if owner == catalog.TELEMETRY else owner

            grants = [g for g in grants if caller.tenant in (g.tenant, owner_of(g))]
        return sorted(grants, key=lambda g: (g.dataset_id, g.tenant))

    async def _party_to(self, who: Identity, dataset_id: str) -> None:
        """A tenant naming a dataset in ListGrants must decide on it or have asked for it: a
        private one it was never granted is NOT_FOUND, as a missing one; another it holds no
        record on is PERMISSION_DENIED (both audited), not an empty list that says nothing."""
        caller, dataset = await self._visible(who, dataset_id, "ListGrants")
        if catalog.may_decide(caller, dataset) or await self._store.grant(dataset_id, caller.tenant):
            return
        await self._access.deny(
            who,
            "ListGrants",
            f"dataset {dataset_id}",
            f"only {dataset_id}'s owner ({dataset.owner}) or the zone lists its grants; tenant "
            f"{caller.tenant} has asked for none on it",
        )
