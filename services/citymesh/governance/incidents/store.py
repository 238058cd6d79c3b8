"""The `incidents` KV bucket: one key per incident (its id) → its record (JSON, model.Incident),
created once and then changed only by compare-and-set on the revision that was read, so two
writers can never both move one incident.

A watch of the bucket keeps a view of every incident in memory (what lists, statistics and
correlation read) and tells watchers of each change of an incident (a new version: clearing its
outbox is no change to watch); this process's own writes are applied to it at once, and a late
watch update never overwrites a newer revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.js.errors import (
    InvalidKeyError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from citymesh.governance.incidents.follow import Follower
from citymesh.governance.incidents.model import Incident
from citymesh.runtime import errors
from citymesh.runtime.bus import INCIDENTS_BUCKET, Bus, kv_items

log = logging.getLogger("citymesh.governance.incidents")

CAS_TRIES = 20


class Conflict(Exception):
    """Another writer changed the incident first."""


Listener = Callable[[Incident], None]


class IncidentStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._view: dict[str, tuple[int, Incident]] = {}
        self._listeners: list[Listener] = []
        self._follower = Follower(kv, self._entry, "incidents-watch")

    @classmethod
    async def open(cls, bus: Bus) -> IncidentStore:
        return cls(await bus.kv(INCIDENTS_BUCKET))

    async def start(self, sync_timeout_s: float = 30.0) -> None:
        """Start the watch (once); wait until it delivered every stored incident."""
        if not await self._follower.start(sync_timeout_s):
            log.warning("incident watch not caught up yet", extra={"incidents": len(self._view)})

    async def stop(self) -> None:
        await self._follower.stop()

    async def sync(self, timeout_s: float = 10.0) -> bool:
        """Wait until the view holds every incident stored before this call (what another replica
        wrote just now included); False if that took longer than `timeout_s`."""
        last = (await self.kv.status()).stream_info.state.last_seq or 0
        return await self._follower.reached(last, timeout_s)

    def _entry(self, key: str, value: bytes, revision: int) -> None:
        try:
            incident = Incident.from_json(value)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("ignoring a malformed incident", extra={"key": key, "reason": repr(exc)})
            return
        self._apply(revision, incident)

    def _apply(self, revision: int, incident: Incident) -> None:
        current = self._view.get(incident.id)
        if current is not None and current[0] >= revision:
            return
        self._view[incident.id] = (revision, incident)
        if current is not None and current[1].version == incident.version:
            return  # its outbox relayed: nothing a watcher sees changed
        for listener in list(self._listeners):
            listener(incident)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each incident as it changes; returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def incidents(self) -> list[Incident]:
        """Every incident, as the view has it now."""
        return [incident for _, incident in self._view.values()]

    def pending(self) -> list[Incident]:
        """The incidents whose outbox holds events, as the view has them now."""
        return [incident for _, incident in self._view.values() if incident.outbox]

    async def get(self, incident_id: str) -> tuple[Incident, int] | None:
        """The incident as stored now, with its revision; None if there is none."""
        try:
            entry = await self.kv.get(incident_id)
        except (KeyNotFoundError, NotFoundError, InvalidKeyError):
            return None
        if not entry.value or entry.revision is None:
            return None
        incident = Incident.from_json(entry.value)
        self._apply(entry.revision, incident)
        return incident, entry.revision

    async def create(self, incident: Incident) -> int:
        revision = int(await self.kv.create(incident.id, incident.to_json()))
        self._apply(revision, incident)
        return revision

    async def update(self, incident: Incident, revision: int) -> int:
        """Compare-and-set: Conflict if the incident changed since `revision`."""
        try:
            new = int(await self.kv.update(incident.id, incident.to_json(), last=revision))
        except KeyWrongLastSequenceError as exc:
            raise Conflict(incident.id) from exc
        self._apply(new, incident)
        return new

    async def change(
        self, incident_id: str, fn: Callable[[Incident], Incident | None]
    ) -> tuple[Incident, Incident] | None:
        """Apply `fn` to the stored incident by compare-and-set, re-reading and re-applying when
        another writer was first (so a guard that no longer holds raises then). Returns (before,
        after), or None when `fn` changed nothing. NotFound when there is no such incident."""
        for _ in range(CAS_TRIES):
            got = await self.get(incident_id)
            if got is None:
                raise errors.NotFound(f"incident {incident_id} does not exist")
            before, revision = got
            after = fn(before)
            if after is None:
                return None
            try:
                await self.update(after, revision)
            except Conflict:
                continue
            return before, after
        raise errors.Unavailable(
            f"incident {incident_id} changed {CAS_TRIES} times while being updated; retry"
        )

    async def keys(self) -> list[str]:
        return list(await kv_items(self.kv))
