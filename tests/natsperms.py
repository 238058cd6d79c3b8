"""Connecting as one NATS user and seeing what nats-server refused it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import nats
import pytest
from nats.aio.client import Client

from citymesh.runtime.bus import inbox_prefix


class Violations:
    """The permission errors the server sent a connection."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._changed = asyncio.Condition()

    async def add(self, exc: Exception) -> None:
        async with self._changed:
            self.seen.append(str(exc).lower())
            self._changed.notify_all()

    def refused(self, what: str) -> bool:
        return f"permissions violation for {what.lower()}" in " ".join(self.seen)

    async def wait_for(self, *what: str, timeout: float = 5.0) -> None:
        """Until the server refused each of `what` (e.g. 'publish to "x"'), or fail."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: all(self.refused(w) for w in what))
        except TimeoutError:
            pytest.fail(f"the server did not refuse {what}; it said {self.seen}")


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[tuple[Client, Violations]]:
    """A connection as the user of `url`, with its own inbox prefix (as the bus connects)."""
    violations = Violations()
    nc = await nats.connect(
        url,
        error_cb=violations.add,
        max_reconnect_attempts=0,
        inbox_prefix=inbox_prefix(urlsplit(url).username),
    )
    try:
        yield nc, violations
    finally:
        await nc.close()
