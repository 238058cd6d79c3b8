"""Live subscriptions: the materialiser offers each committed batch; each subscriber takes its part.

Offering is O(1) per subscriber (an append to a bounded deque) so that no subscriber can slow the
materialiser; filtering and conversion happen in the subscriber's own task. A subscriber whose
queue is full is cut off: its next read raises ResourceExhausted naming the measurement time from
which it should catch up with Query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence

from citymesh.exchange.domain import ReadingFilter, StoredBatch, format_ms
from citymesh.runtime import errors

log = logging.getLogger("citymesh.exchange.subscriptions")


class Subscription:
    """One subscriber's bounded queue of stored batches."""

    def __init__(self, filter: ReadingFilter, capacity: int) -> None:
        self.filter = filter
        self.capacity = capacity
        self._items: deque[StoredBatch] = deque()
        self._ready = asyncio.Event()
        self._behind_from_ms: int | None = None
        self._closed = False

    def offer(self, batch: StoredBatch) -> None:
        if self._closed or self._behind_from_ms is not None:
            return
        if len(self._items) >= self.capacity:
            missed = [*self._items, batch]
            self._behind_from_ms = min(b.oldest_ms for b in missed)
            self._items.clear()
            log.warning(
                "subscriber fell behind",
                extra={"capacity": self.capacity, "catch_up_from": format_ms(self._behind_from_ms)},
            )
        else:
            self._items.append(batch)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def batches(self) -> AsyncIterator[StoredBatch]:
        """The matching part of each stored batch, until closed; ResourceExhausted if it fell behind."""
        while True:
            while not self._items:
                if self._behind_from_ms is not None:
                    raise errors.ResourceExhausted(
                        f"subscriber fell behind (more than {self.capacity} stored batches unread); "
                        f"catch up with Query from {format_ms(self._behind_from_ms)} and subscribe again"
                    )
                if self._closed:
                    raise errors.Unavailable("exchange is shutting down; subscribe again once it is back")
                self._ready.clear()
                await self._ready.wait()
            batch = self._items.popleft()
            selected = self.filter.select(batch)
            if selected is not None:
                yield selected


class SubscriptionHub:
    """Every live subscription; the materialiser publishes to it after each commit."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._subscriptions: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    @contextlib.contextmanager
    def subscribe(self, filter: ReadingFilter) -> Iterator[Subscription]:
        subscription = Subscription(filter, self.capacity)
        self._subscriptions.add(subscription)
        log.info("subscriber joined", extra={"subscribers": len(self._subscriptions)})
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            log.info("subscriber left", extra={"subscribers": len(self._subscriptions)})

    def publish(self, batches: Sequence[StoredBatch]) -> None:
        for subscription in self._subscriptions:
            for batch in batches:
                if len(batch):
                    subscription.offer(batch)

    def close(self) -> None:
        """End every subscription's stream (at shutdown)."""
        for subscription in self._subscriptions:
            subscription.close()
