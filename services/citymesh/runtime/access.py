"""Checks a caller against the resource it names, and audits the decision.

Every service asks the same three questions of the caller of an RPC (`auth.caller(...)`): is it
the platform (zone administrator or one of the platform's services), is the resource in its own
sub-district, is the resource its own. A denial is published to the AUDIT stream
(`audit.<service>.denied`) before the error goes back; an access that must leave a trace (a read
of shared data) is published as `audit.<service>.allowed`.

A resource of another tenant is answered with NOT_FOUND (`hide=True`), the same as a resource that
does not exist, so a tenant cannot probe for another's object ids; a resource whose existence is
public (a sub-district, a dataset in the catalog) is answered with PERMISSION_DENIED.
"""

from __future__ import annotations

import json
import logging
import time
from typing import NoReturn

import nats.errors

from citymesh.runtime import errors
from citymesh.runtime.auth import Identity
from citymesh.runtime.bus import Bus

log = logging.getLogger("citymesh.access")


def audit_subject(service: str, allowed: bool) -> str:
    """The AUDIT subject of one service's decisions."""
    return f"audit.{service}.{'allowed' if allowed else 'denied'}"


class Access:
    """One service's access checks and audit trail."""

    def __init__(self, bus: Bus | None, service: str) -> None:
        self._bus = bus
        self._service = service

    async def record(self, who: Identity, action: str, resource: str, allowed: bool, reason: str) -> None:
        """Publish one audit record; the RPC waits until JetStream stored it. An audit failure is
        logged and does not turn a denial into a grant or an answer into an error."""
        record = {
            "time_ms": int(time.time() * 1000),
            "service": self._service,
            "tenant": who.tenant,
            "district": who.district,
            "roles": sorted(who.roles),
            "action": action,
            "resource": resource,
            "allowed": allowed,
            "reason": reason,
        }
        log.info("access %s", "allowed" if allowed else "denied", extra={"audit": record})
        if self._bus is None:
            return
        try:
            await self._bus.js.publish(
                audit_subject(self._service, allowed), json.dumps(record).encode(), timeout=5.0
            )
        except (TimeoutError, nats.errors.Error) as exc:
            log.error("audit record not stored: %r", exc, extra={"audit": record})

    async def deny(
        self, who: Identity, action: str, resource: str, reason: str, *, hide: bool = False
    ) -> NoReturn:
        """Audit the denial, then raise PermissionDenied (or NotFound when `hide`)."""
        await self.record(who, action, resource, False, reason)
        if hide:
            raise errors.NotFound(f"{resource} does not exist")
        raise errors.PermissionDenied(reason)

    async def require_platform(self, who: Identity, action: str, resource: str) -> None:
        """Only the zone administrator or a platform service may do this."""
        if not who.is_platform:
            await self.deny(
                who, action, resource, f"{action} is for the zone administrator or a platform service"
            )

    async def require_district(self, who: Identity, district: str, action: str, resource: str) -> None:
        """The resource lies in `district`: the caller must be bound to it (or be the platform)."""
        if who.is_platform or (who.district and who.district == district):
            return
        await self.deny(
            who,
            action,
            resource,
            f"tenant {who.tenant or '(none)'} is bound to district {who.district or '(none)'}, "
            f"not {district}; ask its owner for a grant",
        )

    async def require_owner(
        self, who: Identity, owner_tenant: str, action: str, resource: str, *, hide: bool = True
    ) -> None:
        """The resource belongs to `owner_tenant`: only it (or the platform) may act on it."""
        if who.is_platform or (who.tenant and who.tenant == owner_tenant):
            return
        await self.deny(who, action, resource, f"{resource} belongs to another tenant", hide=hide)
