"""Per-tenant rate limits, on the `limits` library (sliding-window counters, in process memory).

Each replica of a service counts for itself: with N replicas behind a balancer a tenant gets up to
N times the rate, which the chart's docs state. A call beyond the rate is RESOURCE_EXHAUSTED with
the time after which it will pass.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from citymesh.runtime import errors


class TenantLimits:
    """At most `per_second` units (readings, queries) per tenant per second, each tenant counted
    apart; `per_second` 0 turns the limit off."""

    def __init__(self, per_second: int, what: str) -> None:
        self._item = RateLimitItemPerSecond(per_second) if per_second > 0 else None
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._what = what
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
        stats = await self._limiter.get_window_stats(self._item, tenant)
        wait_s = max(0.0, stats.reset_time - time.time())
        raise errors.ResourceExhausted(
            f"tenant {tenant} is over its limit of {self._item.amount:,} {self._what} per second; "
            f"retry in {wait_s:.1f} s"
        )
