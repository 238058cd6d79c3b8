"""Live subscriptions: bounded per subscriber, cut off with a catch-up time when full."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from citymesh.exchange.domain import ReadingFilter, StoredBatch
from citymesh.exchange.subscriptions import SubscriptionHub
from citymesh.runtime import errors


def batch(sequence: int, first_ms: int, n: int = 3) -> StoredBatch:
    return StoredBatch(
        sequence,
        ["a", "b"],
        np.arange(n, dtype=np.uint32) % 2,
        np.arange(n, dtype=np.int64) + first_ms,
        np.ones(n),
        np.full(n, 2, np.uint8),
        np.arange(n, dtype=np.uint8) % 2 + 1,
    )


async def test_a_subscriber_gets_its_part_of_each_batch_in_order() -> None:
    hub = SubscriptionHub(capacity=8)
    with hub.subscribe(ReadingFilter(device_ids=frozenset({"b"}))) as sub:
        hub.publish([batch(1, 0), batch(2, 10, n=1), batch(3, 20)])
        hub.close()
        got: list[tuple[int, list[int]]] = []

        async def drain() -> None:
            async for b in sub.batches():
                got.append((b.sequence, b.time_ms.tolist()))

        with pytest.raises(errors.Unavailable, match="shutting down"):
            await drain()
    assert got == [(1, [1]), (3, [21])]
    assert len(hub) == 0


async def test_a_full_queue_cuts_the_subscriber_off_with_the_oldest_time_it_missed() -> None:
    hub = SubscriptionHub(capacity=2)
    with hub.subscribe(ReadingFilter()) as sub:
        hub.publish([batch(1, 5_000), batch(2, 1_000), batch(3, 9_000)])
        hub.publish([batch(4, 0)])  # after the cut-off: not even remembered
        with pytest.raises(
            errors.ResourceExhausted, match=r"catch up with Query from 1970-01-01T00:00:01\.000Z"
        ):
            async for _ in sub.batches():
                pass


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    hub = SubscriptionHub(capacity=2)
    with hub.subscribe(ReadingFilter()) as sub:
        first = asyncio.ensure_future(anext(aiter(sub.batches())))
        await asyncio.sleep(0)
        assert not first.done()
        hub.publish([batch(7, 0)])
        got = await asyncio.wait_for(first, 5)
    assert got.sequence == 7
