"""The outbox: an event is written with the change it records, in the same compare-and-set, and
published afterwards, so a stored change is never without its event.

Each owner of an outbox (the peaks' registry, each incident's record) keeps its pending events
(`domain.Pending`) beside its state and provides two things: what is pending, and how to clear
published events by compare-and-set. This module does the rest, the same way for every owner:

- `Outbox.publish_once` puts a pending event on EVENTS and AUDIT (`<events|audit>.<namespace>.
  <subject>`) with its Nats-Msg-Id, unless the subject's last message already is this event (same
  msg id) or, for events with a version, a later one. JetStream's dedup covers a retry within the
  stream's dedup window; the check covers a restart after it on subjects that hold one entity's
  events (a peak's). On a subject shared by many entities (a sub-district's incidents), the dedup
  window is what holds it: a published event is cleared at once, so it could be sent twice only by
  a process that died between its publish and its clear and stayed down longer than the window.
- `Relay` runs the owner's relay once at start (what a crash left) and then every `every_s`
  seconds while something is pending (NATS away for a moment).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.js.errors import NotFoundError

from citymesh.governance.domain import Pending
from citymesh.runtime import errors
from citymesh.runtime.bus import AUDIT_STREAM, EVENTS_STREAM, Bus

log = logging.getLogger("citymesh.governance.outbox")

STREAMS = ((EVENTS_STREAM, "events"), (AUDIT_STREAM, "audit"))
RELAY_EVERY_S = 5.0
RELAY_FAILURES = (errors.Unavailable, TimeoutError, nats.errors.Error)
"""What a relay may meet when NATS is away: the events stay pending and are relayed later."""


class Outbox:
    """Publishes the pending events of one namespace (`governance`, `incident`) exactly once."""

    def __init__(self, bus: Bus, namespace: str) -> None:
        self.bus = bus
        self.namespace = namespace

    def subjects(self, pending: Pending) -> list[tuple[str, str]]:
        """(stream, subject) of each place the event goes."""
        return [(stream, f"{prefix}.{self.namespace}.{pending.subject}") for stream, prefix in STREAMS]

    async def publish_once(self, pending: Pending) -> None:
        """The event on EVENTS and AUDIT, unless its subject already holds it."""
        payload = json.dumps(pending.event, sort_keys=True).encode()
        for stream, subject in self.subjects(pending):
            if await self._published(stream, subject, pending):
                continue
            await self.bus.publish(subject, payload, pending.msg_id)

    async def _published(self, stream: str, subject: str, pending: Pending) -> bool:
        try:
            last = await self.bus.js.get_last_msg(stream, subject)
        except NotFoundError:
            return False
        except (TimeoutError, nats.errors.Error) as exc:
            raise errors.Unavailable(f"cannot read {stream} to relay events: {exc!r}") from exc
        if (last.headers or {}).get("Nats-Msg-Id") == pending.msg_id:
            return True
        if pending.version <= 0:
            return False
        try:
            version = int(json.loads(last.data or b"{}").get("version", 0))
        except (ValueError, AttributeError, TypeError):
            return False
        return version >= pending.version


class Relay:
    """Runs `relay` (publish what is pending, clear it; returns how many) at start, then every
    `every_s` seconds while `due()` says something is pending."""

    def __init__(
        self,
        name: str,
        relay: Callable[[], Awaitable[int]],
        due: Callable[[], Awaitable[bool]],
        every_s: float = RELAY_EVERY_S,
    ) -> None:
        self.name = name
        self._relay = relay
        self._due = due
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self, first: Callable[[], Awaitable[int]] | None = None) -> int:
        """Relay what a crash left (with `first` instead, when given; errors propagate: a start that
        cannot reach NATS fails), then keep relaying in the background; how many events the first
        relay published."""
        relayed = await (first or self._relay)()
        if relayed:
            log.info("relayed events left in the outbox", extra={"outbox": self.name, "events": relayed})
        self._task = asyncio.create_task(self._forever(), name=f"{self.name}-relay")
        return relayed

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                if await self._due():
                    await self._relay()
            except RELAY_FAILURES as exc:
                log.warning("outbox relay failed; retrying: %r", exc, extra={"outbox": self.name})
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"outbox": self.name})
