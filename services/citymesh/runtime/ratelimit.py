"""Per-tenant rate limits, on the `limits` library (sliding-window counters, in process memory).

Each replica of a service counts for itself: with N replicas behind a balancer a tenant gets up to
N times the rate, which the chart's docs state. A call beyond the rate is RESOURCE_EXHAUSTED with
the time after which it will pass.

With `hold_s`, a refusal is answered only when the window frees up (at most `hold_s` later, and for
at most `max_held` waiting calls of one tenant, beyond which refusals are immediate): a client that
retries the moment it is refused (a flood, a careless retry loop) is slowed to the rate it may have
instead of spending the service's CPU on refusals its neighbours then wait behind. A waiting
refusal costs a suspended coroutine, no CPU.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from citymesh.runtime import errors

REFUSAL_HOLD_S = 1.0
"""How long the services hold a refusal over a tenant's rate (ingest and queries): a tenant
retrying at once is slowed to its rate instead of costing its neighbours CPU."""


class TenantLimits:
    """At most `per_second` units (readings, queries) per tenant per second, each tenant counted
    apart; `per_second` 0 turns the limit off."""

    def __init__(self, per_second: int, what: str, hold_s: float = 0.0, max_held: int = 64) -> None:
        self._item = RateLimitItemPerSecond(per_second) if per_second > 0 else None
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._what = what
        self._hold_s = hold_s
        self._max_held = max_held
        self._held: dict[str, int] = {}
        self.per_second = per_second

    async def take(self, tenant: str, cost: int = 1) -> None:
        """Count `cost` units for `tenant`, or raise ResourceExhausted (nothing counted)."""
        if self._item is None or cost <= 0:
            return
        if cost > self._item.amount:
            raise errors.ResourceExhausted(
                f"{cost:,} {self._what} in one call is more than tenant {tenant}'s limit of "
                f"{self._item.amount:,} per second; send smaller batches"
            )
        if await self._limiter.hit(self._item, tenant, cost=cost):
            return
        await self._refuse(tenant, cost)

    def held(self, tenant: str) -> int:
        """Refusals of `tenant` being held now."""
        return self._held.get(tenant, 0)

    async def _refuse(self, tenant: str, cost: int) -> NoReturn:
        """ResourceExhausted, once `cost` units would fit (at most hold_s later when holding)."""
        assert self._item is not None
        stats = await self._limiter.get_window_stats(self._item, tenant)
        # The sliding window frees about `per_second` units a second.
        wait_s = max(0.0, (cost - stats.remaining) / self._item.amount)
        held = self._held.get(tenant, 0)
        if self._hold_s > 0 and held < self._max_held:
            self._held[tenant] = held + 1
            try:
                await asyncio.sleep(min(wait_s, self._hold_s))
            finally:
                self._held[tenant] -= 1
            wait_s = max(0.0, wait_s - self._hold_s)
        raise errors.ResourceExhausted(
            f"tenant {tenant} is over its limit of {self._item.amount:,} {self._what} per second; "
            f"retry in {wait_s:.1f} s"
        )
