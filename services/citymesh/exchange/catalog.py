"""The catalog of datasets and the grants that share them: what exists, who sees it, who reads it.

No transport and no storage here (store: catalog_store.py; checks and audit: sharing.py).

- A **dataset** is a named selection of telemetry (a ReadingFilter). The platform's telemetry is
  one dataset per sub-district, `telemetry.<district>`, shared, owned by the tenant of the
  district's peak (or the zone). A tenant publishes its own as `<tenant>.<name>`, selecting within
  its own sub-district, private, shared or public.
- A **grant** is one tenant's access to one dataset: requested (with a purpose), granted by the
  owner (or the platform) until an expiry, denied, or revoked. One record per (dataset, tenant);
  asking again after a denial, revocation or expiry starts it over.
- **Reading**: the platform reads everything; a tenant reads its own datasets and its own
  sub-district's telemetry, public datasets, and anything else only through a live grant, which
  `expires_ms` ends at once. A read of another tenant's data through a grant or a public dataset
  leaves an audit record. A private dataset is invisible (answered as not found) to a tenant that
  was never granted it.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from citymesh.city import DISTRICTS
from citymesh.exchange.domain import ReadingFilter, format_ms
from citymesh.runtime import errors

ZONE = "zone"
"""Owner of a sub-district's telemetry when the district has no signed or active peak."""
TELEMETRY = "telemetry"
"""The `owner` part of the platform's telemetry datasets' ids; no tenant may publish under it."""
NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_TEXT = 2000
"""Most characters of a description, purpose, note or reason."""
MAX_GRANT_MS = 366 * 86_400_000
"""The longest grant: a year (and a day); sharing for longer is granted again."""


class Visibility(enum.Enum):
    PRIVATE = "private"
    SHARED = "shared"
    PUBLIC = "public"


class GrantState(enum.Enum):
    REQUESTED = "requested"
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"
    """Never stored: a GRANTED record past its expiry is shown as EXPIRED."""


@dataclass(frozen=True)
class Caller:
    """Who calls, as far as the catalog cares: a tenant, the sub-district it is bound to ("" if
    none), and whether it is the platform (the zone administrator or a platform service)."""

    tenant: str
    district: str = ""
    platform: bool = False


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise errors.InvalidArgument(
            f"name {name!r}: 1 to 63 lowercase letters, digits and dashes, starting with a letter"
        )
    return name


def check_tenant(field: str, tenant: str) -> str:
    if not TENANT.match(tenant):
        raise errors.InvalidArgument(
            f"{field} {tenant!r} is not a tenant: 1 to 63 lowercase letters, digits and dashes"
        )
    return tenant


def check_text(field: str, text: str, *, required: bool = False) -> str:
    if required and not text.strip():
        raise errors.InvalidArgument(f"{field} is required: say it in a sentence or two")
    if len(text) > MAX_TEXT:
        raise errors.InvalidArgument(f"{field} has {len(text)} characters; at most {MAX_TEXT}")
    return text


def telemetry_id(district: str) -> str:
    return f"{TELEMETRY}.{district}"


def parse_dataset_id(dataset_id: str) -> tuple[str, str]:
    """(owner, name) of a dataset id; InvalidArgument when it is not one."""
    owner, dot, name = dataset_id.partition(".")
    if not dataset_id:
        raise errors.InvalidArgument(
            "dataset_id is required: `telemetry.<district>` or `<owner>.<name>` (see ListDatasets)"
        )
    if not dot or not TENANT.match(owner) or not NAME.match(name):
        raise errors.InvalidArgument(
            f"dataset_id {dataset_id!r} is not `<owner>.<name>` or `telemetry.<district>` (see ListDatasets)"
        )
    if owner == TELEMETRY and name not in DISTRICTS:
        raise errors.InvalidArgument(
            f"dataset_id {dataset_id!r}: telemetry datasets are telemetry.<district>, one of {list(DISTRICTS)}"
        )
    return owner, name


def selection_dict(selection: ReadingFilter) -> dict[str, list[str]]:
    return {
        "districts": sorted(selection.districts),
        "kinds": sorted(selection.kinds),
        "device_ids": sorted(selection.device_ids),
    }


def selection_from(raw: dict[str, Any]) -> ReadingFilter:
    return ReadingFilter(
        districts=frozenset(raw.get("districts", ())),
        kinds=frozenset(raw.get("kinds", ())),
        device_ids=frozenset(raw.get("device_ids", ())),
    )


@dataclass(frozen=True)
class Dataset:
    """One dataset of the catalog. `district` is the sub-district its readings lie in (the
    owner's, for a tenant's dataset), "" for a platform dataset spanning several."""

    dataset_id: str
    name: str
    owner: str
    visibility: Visibility
    selection: ReadingFilter
    district: str = ""
    description: str = ""
    telemetry: bool = False
    updated_ms: int | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "dataset_id": self.dataset_id,
                "name": self.name,
                "owner": self.owner,
                "visibility": self.visibility.value,
                "selection": selection_dict(self.selection),
                "district": self.district,
                "description": self.description,
                "updated_ms": self.updated_ms,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Dataset:
        d = json.loads(raw)
        return cls(
            dataset_id=d["dataset_id"],
            name=d["name"],
            owner=d["owner"],
            visibility=Visibility(d["visibility"]),
            selection=selection_from(d["selection"]),
            district=d.get("district", ""),
            description=d.get("description", ""),
            updated_ms=d.get("updated_ms"),
        )


def telemetry_dataset(district: str, owner: str) -> Dataset:
    """The platform's telemetry of one sub-district, owned by its peak's tenant (or the zone)."""
    return Dataset(
        dataset_id=telemetry_id(district),
        name=district,
        owner=owner or ZONE,
        visibility=Visibility.SHARED,
        selection=ReadingFilter(districts=frozenset({district})),
        district=district,
        description=f"Every reading of the devices in sub-district {district}, as the platform collects it",
        telemetry=True,
    )


def publication(
    caller: Caller,
    name: str,
    description: str,
    visibility: Visibility | None,
    selection: ReadingFilter,
    now_ms: int,
) -> Dataset:
    """The dataset `caller` publishes. A tenant's selection lies in its own sub-district (filled in
    when the selection names none); the platform's may span any."""
    check_name(name)
    check_text("description", description)
    if visibility is None:
        raise errors.InvalidArgument(
            "visibility is required: VISIBILITY_PRIVATE, VISIBILITY_SHARED or VISIBILITY_PUBLIC"
        )
    if caller.tenant == TELEMETRY:
        raise errors.InvalidArgument(
            "`telemetry` names the platform's telemetry datasets; publish as a tenant"
        )
    district = ""
    if not caller.platform:
        if not caller.district:
            raise errors.PermissionDenied(
                f"tenant {caller.tenant} is bound to no sub-district, so it has no telemetry to publish"
            )
        others = sorted(selection.districts - {caller.district})
        if others:
            raise errors.PermissionDenied(
                f"tenant {caller.tenant} publishes only its own sub-district's readings "
                f"({caller.district}), not {others}: leave selection.districts empty or name {caller.district}"
            )
        selection = replace(selection, districts=frozenset({caller.district}))
        district = caller.district
    elif len(selection.districts) == 1:
        (district,) = selection.districts
    return Dataset(
        dataset_id=f"{caller.tenant}.{name}",
        name=name,
        owner=caller.tenant,
        visibility=visibility,
        selection=selection,
        district=district,
        description=description,
        updated_ms=now_ms,
    )


@dataclass(frozen=True)
class Grant:
    """One tenant's access to one dataset (the stored record; see `state_at` for what it means now)."""

    dataset_id: str
    tenant: str
    state: GrantState
    purpose: str = ""
    requested_ms: int | None = None
    decided_ms: int | None = None
    decided_by: str = ""
    expires_ms: int | None = None
    reason: str = ""

    @property
    def key(self) -> str:
        return grant_key(self.dataset_id, self.tenant)

    def live(self, now_ms: int) -> bool:
        """Granted and not expired: the tenant may read now."""
        return self.state is GrantState.GRANTED and self.expires_ms is not None and now_ms < self.expires_ms

    def state_at(self, now_ms: int) -> GrantState:
        if self.state is GrantState.GRANTED and not self.live(now_ms):
            return GrantState.EXPIRED
        return self.state

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "dataset_id": self.dataset_id,
                "tenant": self.tenant,
                "state": self.state.value,
                "purpose": self.purpose,
                "requested_ms": self.requested_ms,
                "decided_ms": self.decided_ms,
                "decided_by": self.decided_by,
                "expires_ms": self.expires_ms,
                "reason": self.reason,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Grant:
        d = json.loads(raw)
        return cls(
            dataset_id=d["dataset_id"],
            tenant=d["tenant"],
            state=GrantState(d["state"]),
            purpose=d.get("purpose", ""),
            requested_ms=d.get("requested_ms"),
            decided_ms=d.get("decided_ms"),
            decided_by=d.get("decided_by", ""),
            expires_ms=d.get("expires_ms"),
            reason=d.get("reason", ""),
        )


def grant_key(dataset_id: str, tenant: str) -> str:
    """`<owner>.<name>.<tenant>`: dataset ids have one dot and tenants none, so it parses back."""
    return f"{dataset_id}.{tenant}"


def split_grant_key(key: str) -> tuple[str, str]:
    """(dataset id, tenant) of a grant key."""
    dataset_id, _, tenant = key.rpartition(".")
    return dataset_id, tenant


# What a caller may do with a dataset.


def owns(caller: Caller, dataset: Dataset) -> bool:
    """The caller's own data: a dataset it published, or the telemetry of its own sub-district."""
    if dataset.telemetry:
        return bool(caller.district) and caller.district == dataset.district
    return bool(caller.tenant) and caller.tenant == dataset.owner


def may_decide(caller: Caller, dataset: Dataset) -> bool:
    """Whether the caller grants, denies and revokes access to the dataset: its owner, or the
    platform (the zone administrator, or governance acting as a platform service)."""
    return caller.platform or (bool(caller.tenant) and caller.tenant == dataset.owner)


def may_see(caller: Caller, dataset: Dataset, grant: Grant | None, now_ms: int) -> bool:
    """Whether the dataset is listed to the caller."""
    if caller.platform or owns(caller, dataset) or may_decide(caller, dataset):
        return True
    if dataset.visibility is not Visibility.PRIVATE:
        return True
    return grant is not None and grant.live(now_ms)


@dataclass(frozen=True)
class ReadDecision:
    """May the caller read the dataset now, and why. `audited`: an allowed read of another tenant's
    data, which leaves an audit record. `hide`: refuse as NOT_FOUND (the caller may not know the
    dataset exists). `expires_ms`: when the grant the read goes through ends."""

    allowed: bool
    reason: str
    audited: bool = False
    hide: bool = False
    expires_ms: int | None = None


def may_read(caller: Caller, dataset: Dataset, grant: Grant | None, now_ms: int) -> ReadDecision:
    if caller.platform:
        return ReadDecision(True, "the platform reads every dataset")
    if owns(caller, dataset):
        return ReadDecision(True, "its own data")
    if grant is not None and grant.live(now_ms):
        return ReadDecision(
            True,
            f"through a grant by {grant.decided_by} until {format_ms(grant.expires_ms or 0)}",
            audited=True,
            expires_ms=grant.expires_ms,
        )
    if dataset.visibility is Visibility.PUBLIC:
        return ReadDecision(True, "a public dataset", audited=True)
    who = f"tenant {caller.tenant or '(anonymous)'}"
    if grant is None:
        if dataset.visibility is Visibility.PRIVATE:
            return ReadDecision(
                False, f"{who} holds no grant on private dataset {dataset.dataset_id}", hide=True
            )
        return ReadDecision(
            False, f"{who} holds no grant on {dataset.dataset_id}: ask its owner for one with RequestAccess"
        )
    state = grant.state_at(now_ms)
    if state is GrantState.EXPIRED:
        reason = f"{who}'s grant on {dataset.dataset_id} expired at {format_ms(grant.expires_ms or 0)}"
    elif state is GrantState.REQUESTED:
        reason = f"{who}'s request for {dataset.dataset_id} is waiting for its owner's decision"
    else:
        reason = (
            f"{who}'s access to {dataset.dataset_id} was {state.value} by {grant.decided_by}: {grant.reason}"
        )
    return ReadDecision(False, f"{reason}; ask again with RequestAccess")


@dataclass(frozen=True)
class Listed:
    """A dataset as one caller sees it in the catalog."""

    dataset: Dataset
    readable: bool
    grant_expires_ms: int | None


# How a grant changes. Each takes the stored record (None when there is none) and returns the new one.


def request(current: Grant | None, dataset: Dataset, caller: Caller, purpose: str, now_ms: int) -> Grant:
    """The caller asks for access. A live grant stays as it is; a pending request takes the new
    purpose; anything else (none, denied, revoked, expired) becomes a new request."""
    check_text("purpose", purpose, required=True)
    if caller.platform or owns(caller, dataset):
        raise errors.FailedPrecondition(
            f"{caller.tenant} reads {dataset.dataset_id} already (its own data, or the platform's): no grant needed"
        )
    if dataset.visibility is Visibility.PUBLIC:
        raise errors.FailedPrecondition(f"{dataset.dataset_id} is public: read it without a grant")
    if current is not None and current.live(now_ms):
        return current
    if current is not None and current.state is GrantState.REQUESTED:
        return replace(current, purpose=purpose)
    return Grant(
        dataset_id=dataset.dataset_id,
        tenant=caller.tenant,
        state=GrantState.REQUESTED,
        purpose=purpose,
        requested_ms=now_ms,
    )


def expiry(now_ms: int, expires_ms: int | None, ttl_ms: int | None) -> int:
    """When a grant made now ends: exactly one of an instant and a time to live."""
    if (expires_ms is None) == (ttl_ms is None):
        raise errors.InvalidArgument(
            "a grant needs an end: set exactly one of expires_at and ttl (at most 366 days)"
        )
    end = now_ms + ttl_ms if ttl_ms is not None else expires_ms
    assert end is not None
    if ttl_ms is not None and ttl_ms < 1000:
        raise errors.InvalidArgument(f"ttl is {ttl_ms / 1000:g} s; at least 1 s")
    if end <= now_ms:
        raise errors.InvalidArgument(
            f"expires_at {format_ms(end)} is not in the future (now {format_ms(now_ms)})"
        )
    if end - now_ms > MAX_GRANT_MS:
        raise errors.InvalidArgument(
            f"the grant would last {(end - now_ms) / 86_400_000:.1f} days; at most 366: grant again when it ends"
        )
    return end


def grant(
    current: Grant | None,
    dataset: Dataset,
    tenant: str,
    expires_ms: int,
    note: str,
    by: str,
    now_ms: int,
) -> Grant:
    """Access granted until `expires_ms`, asked for or not (a grant in force is extended or cut)."""
    check_tenant("tenant", tenant)
    check_text("note", note)
    if tenant == dataset.owner:
        raise errors.InvalidArgument(f"{tenant} owns {dataset.dataset_id}: it needs no grant")
    base = current or Grant(dataset.dataset_id, tenant, GrantState.REQUESTED)
    return replace(
        base,
        state=GrantState.GRANTED,
        decided_ms=now_ms,
        decided_by=by,
        expires_ms=expires_ms,
        reason=note,
    )


def deny(current: Grant | None, dataset_id: str, tenant: str, reason: str, by: str, now_ms: int) -> Grant:
    """A pending request turned down."""
    check_text("reason", reason, required=True)
    if current is None or current.state is not GrantState.REQUESTED:
        state = "no request" if current is None else f"its access is {current.state_at(now_ms).value}"
        raise errors.FailedPrecondition(
            f"{tenant} has {state} on {dataset_id}: DenyAccess answers a pending request "
            "(RevokeGrant ends a grant)"
        )
    return replace(current, state=GrantState.DENIED, decided_ms=now_ms, decided_by=by, reason=reason)


def revoke(current: Grant | None, dataset_id: str, tenant: str, reason: str, by: str, now_ms: int) -> Grant:
    """A grant ended before its expiry (an expired one is marked revoked too, so it cannot be
    mistaken for one that merely ran out)."""
    check_text("reason", reason, required=True)
    if current is None or current.state is not GrantState.GRANTED:
        state = "no grant" if current is None else f"its access is {current.state.value}"
        raise errors.FailedPrecondition(f"{tenant} has {state} on {dataset_id}: nothing to revoke")
    return replace(current, state=GrantState.REVOKED, decided_ms=now_ms, decided_by=by, reason=reason)
