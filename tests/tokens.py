"""Real tokens for tests: one governance key pair per test session, tokens signed with it, and
tenants' status written where every service's token check reads it (the `tenants` bucket)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from citymesh.runtime import auth
from citymesh.runtime.bus import TENANTS_BUCKET, Bus
from citymesh.runtime.settings import ServiceSettings

PRIVATE, PUBLIC = auth.new_key_pair()
"""Governance's key pair in these tests: PUBLIC is every server's CITYMESH_AUTH_PUBLIC_KEY."""


def token(
    tenant: str,
    district: str = "",
    roles: Iterable[str] = (),
    expires_in: float = 600.0,
    key: str = PRIVATE,
) -> str:
    identity = auth.Identity(tenant, district, frozenset(roles))
    return auth.sign(auth.load_private_key(key), identity, time.time() + expires_in)


SERVICE_TOKEN = token(auth.ZONE_TENANT, roles=[auth.SERVICE])
"""A platform process's token (the simulator's, a launcher's probe)."""
ADMIN_TOKEN = token(auth.ZONE_TENANT, roles=[auth.ZONE_ADMIN])


def bearer(t: str) -> tuple[tuple[str, str], ...]:
    return auth.bearer(t)


async def set_tenant(nats_url: str, tenant: str, district: str, status: str = "active") -> None:
    """Write a tenant's status as governance does (for tests that run no governance)."""
    bus = await Bus.connect(
        ServiceSettings(nats_url=nats_url), name="test-tenants", resources=[TENANTS_BUCKET]
    )
    try:
        kv = await bus.kv(TENANTS_BUCKET)
        record = {"tenant": tenant, "district": district, "status": status}
        await kv.put(tenant, json.dumps(record).encode())
    finally:
        await bus.close()
