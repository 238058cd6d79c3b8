"""The leader lease: of the governance replicas, one at a time runs the incident pipeline's rules
(perceive, correlate, open) and its supervisor; every replica serves the API.

The lease is one key of the `governance-leases` bucket (runtime/bus.py), whose max_age is the
lease's TTL (CITYMESH_LEASE_TTL_S): a value not rewritten within it expires. nats.py can give a
single key a TTL only when it creates it (`KeyValue.create(msg_ttl=...)`), not when it updates it,
so a per-key TTL could not be renewed by compare-and-set; the bucket's max_age applies to every
revision from the moment it is written, so each renewal starts the TTL again.

- acquire: `create` (only one replica's succeeds while the key holds a value);
- renew: every CITYMESH_LEASE_RENEW_S, `update` on the revision this holder wrote last;
- step down: the moment a renewal fails (any error, or no answer before the lease would end) or
  the key's revision moved (another holder's value or a deletion, seen by a watch of the key):
  the pipeline stops perceiving and supervising;
- release: on a graceful stop, delete on the holder's revision; the standby replicas watch the
  key and take the lease at once;
- a holder that dies or hangs renews nothing: its value expires within the TTL, and a standby,
  which tries to take the lease every renew interval, has it within the TTL plus one interval.

A holder counts its lease as held until the time it *sent* its last successful write plus the TTL
less a tenth (`held`): the server's copy expires no sooner, so while `held` says yes no other
replica can hold the lease. The pipeline checks `held` before it opens an incident, so a leader
that lost the lease (or hung past its end) opens nothing more, even before its consumers stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.js.errors import APIError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from citymesh.runtime import errors
from citymesh.runtime.bus import LEASES_BUCKET, Bus

log = logging.getLogger("citymesh.governance.incidents.lease")

INCIDENTS_LEASE = "incidents"
"""The key of the incident pipeline's lease."""
MARGIN = 0.1
"""The share of the TTL a holder gives up at the end of its lease (network delay, clock rates)."""
RELEASE_TIMEOUT_S = 2.0
STOP_WAIT_S = 5.0
"""How long stop() lets the loop finish what it is doing (a renewal, starting the pipeline) before
it cancels it."""
FAILURES = (nats.errors.Error, TimeoutError, errors.Unavailable)

Transition = Callable[[], Awaitable[None]]


def holder_name() -> str:
    """This process's name as a holder: host (the pod), process id and a random part (a restarted
    process with the same pid is another holder)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def holder_of(value: bytes | None) -> str:
    try:
        holder = json.loads(value or b"{}").get("holder", "")
    except (ValueError, AttributeError):
        return ""
    return holder if isinstance(holder, str) else ""


class Lease:
    """One lease of the leases bucket, held by this process or waited for. `on_gain` runs when it is
    taken (the pipeline starts its consumers and supervisor), `on_lose` when it is lost or released
    (they stop; it may run when nothing was started, and must be safe to run twice)."""

    def __init__(
        self,
        kv: KeyValue,
        key: str,
        ttl_s: float,
        renew_s: float,
        on_gain: Transition,
        on_lose: Transition,
        holder: str | None = None,
    ) -> None:
        if not 0 < renew_s * 2 <= ttl_s:
            raise ValueError(f"a lease of {ttl_s} s must be renewed every {ttl_s / 2} s or more often")
        self.kv = kv
        self.key = key
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self._renew_wanted = renew_s
        self.holder = holder or holder_name()
        self._on_gain = on_gain
        self._on_lose = on_lose
        self._revision: int | None = None
        self._deadline = 0.0
        self._renew_at = 0.0
        self._active = False
        self._moved = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._watcher: Any = None
        self.terms = 0
        """How many times this process took the lease."""
        self.losses: list[str] = []
        """Why it stepped down, each time it did without releasing."""

    @classmethod
    async def open(
        cls, bus: Bus, key: str, renew_s: float, on_gain: Transition, on_lose: Transition
    ) -> Lease:
        """The lease `key` of the leases bucket; its TTL is the bucket's max_age, as the server has it."""
        kv = await bus.kv(LEASES_BUCKET)
        ttl = await bucket_ttl(kv)
        return cls(kv, key, ttl, min(renew_s, ttl / 2), on_gain, on_lose)

    # --- what the pipeline asks ----------------------------------------------------------------

    def held(self) -> bool:
        """Whether this process holds the lease now (no other replica can)."""
        return self._revision is not None and time.monotonic() < self._deadline

    @property
    def active(self) -> bool:
        """Whether `on_gain` ran and `on_lose` has not since (the pipeline is perceiving)."""
        return self._active

    async def start(self) -> None:
        """Try to take the lease (leading when this returns, if it was free), then keep it or
        wait for it in the background."""
        self._watcher = await self.kv.watch(self.key)
        self._watch_task = asyncio.create_task(self._watch(), name=f"lease-{self.key}-watch")
        await self._acquire()
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.key}")

    async def stop(self) -> None:
        """Stop taking part: step down (on_lose) and release the lease, so that another replica
        takes it at once."""
        self._stopping = True
        self._wake.set()
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
            self._watcher = None
        for task in (self._task, self._watch_task):
            if task is not None:
                await finish(task, STOP_WAIT_S)
        self._task = self._watch_task = None
        revision = self._revision
        await self._step_down("")
        if revision is not None:
            try:
                await asyncio.wait_for(self._delete(revision), RELEASE_TIMEOUT_S)
                log.info("incident lease released", extra={"holder": self.holder, "revision": revision})
            except (*FAILURES, KeyWrongLastSequenceError) as exc:
                log.warning(
                    "lease not released; it expires on its own: %r", exc, extra={"holder": self.holder}
                )

    # --- the key on NATS (a test subclass may make them fail or hang) -----------------------------

    async def _create(self, value: bytes) -> int:
        return int(await self.kv.create(self.key, value))

    async def _update(self, value: bytes, last: int) -> int:
        return int(await self.kv.update(self.key, value, last=last))

    async def _delete(self, last: int) -> None:
        try:
            await self.kv.delete(self.key, last=last)
        except APIError as exc:
            if exc.err_code in (10071, 10164):  # not our revision any more: nothing of ours to delete
                raise KeyWrongLastSequenceError(description=exc.description) from exc
            raise

    async def _renew(self, last: int) -> int:
        """Rewrite the lease on `last`, under the bucket's max_age as it is now (a replica started
        with another CITYMESH_LEASE_TTL_S changes it)."""
        ttl = await bucket_ttl(self.kv)
        if ttl != self.ttl_s:
            log.warning("the lease TTL is now %s s (was %s s)", ttl, self.ttl_s)
            self.ttl_s = ttl
            self.renew_s = min(self._renew_wanted, ttl / 2)
        return await self._update(self._value(), last)

    def _value(self) -> bytes:
        return json.dumps(
            {"holder": self.holder, "ttl_s": self.ttl_s, "at_ms": time.time_ns() // 1_000_000}
        ).encode()

    # --- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        # The loop ends on the flag stop() sets: Python 3.11's wait_for can swallow a cancellation
        # that arrives as the awaited thing completes, which would leave a cancelled loop running.
        while not self._stopping:
            try:
                if self._active:
                    await self._keep()
                else:
                    await self._acquire()
                    if not self._active:
                        await self._sleep(self.renew_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease loop failed; stepping down")
                await self._step_down("the lease loop failed")
                await self._sleep(self.renew_s)

    async def _keep(self) -> None:
        """Leading: renew when due; step down when the key moved or the lease ran out."""
        now = time.monotonic()
        await self._sleep(min(self._renew_at, self._deadline) - now)
        if self._stopping:
            return
        if self._moved:
            await self._step_down("the lease's key moved: another holder's value or a deletion")
            return
        now = time.monotonic()
        if now >= self._deadline:
            await self._step_down("the lease ran out before it was renewed")
            return
        if now < self._renew_at:
            return
        sent = now
        try:
            revision = await asyncio.wait_for(
                self._renew(self._revision or 0), max(0.0, self._deadline - sent)
            )
        except KeyWrongLastSequenceError:
            await self._step_down(
                "renewal refused: the lease moved (another replica holds it, or it expired)"
            )
            return
        except FAILURES as exc:
            await self._step_down(f"renewal failed: {exc!r}")
            return
        self._held_from(sent, revision)

    async def _acquire(self) -> None:
        """Take the lease if it is free (or still ours: a renewal whose answer was lost)."""
        sent = time.monotonic()
        try:
            revision = await asyncio.wait_for(self._create(self._value()), self.renew_s)
        except KeyWrongLastSequenceError:
            adopted = await self._adopt()
            if adopted is None:
                return
            revision = adopted
        except FAILURES as exc:
            log.warning("cannot try the incident lease: %r", exc)
            return
        self._held_from(sent, revision)
        self._moved = False
        self.terms += 1
        log.info(
            "incident lease taken: this replica runs the incident pipeline",
            extra={"holder": self.holder, "revision": revision, "ttl_s": self.ttl_s},
        )
        try:
            await self._on_gain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the incident pipeline did not start; releasing the lease")
            await self._release_after_failure()
            return
        self._active = True

    async def _adopt(self) -> int | None:
        """The lease's key holds a value: if this process wrote it (a renewal or create whose
        answer did not come back), rewrite it on its revision and hold it again; else None."""
        try:
            entry = await asyncio.wait_for(self.kv.get(self.key), self.renew_s)
            if holder_of(entry.value) != self.holder or entry.revision is None:
                return None
            revision = await asyncio.wait_for(self._update(self._value(), entry.revision), self.renew_s)
        except (*FAILURES, KeyWrongLastSequenceError):
            return None
        return revision

    async def _release_after_failure(self) -> None:
        revision = self._revision
        await self._step_down("the incident pipeline did not start")
        if revision is not None:
            with contextlib.suppress(*FAILURES, KeyWrongLastSequenceError):
                await asyncio.wait_for(self._delete(revision), RELEASE_TIMEOUT_S)
        await self._sleep(self.renew_s)

    def _held_from(self, sent: float, revision: int) -> None:
        self._revision = revision
        self._deadline = sent + self.ttl_s * (1 - MARGIN)
        self._renew_at = sent + self.renew_s

    async def _step_down(self, reason: str) -> None:
        """Not the leader any more: `held` says no at once, then the pipeline stops."""
        was = self._active or self._revision is not None
        self._revision = None
        self._active = False
        self._moved = False
        if reason and was:
            self.losses.append(reason)
            log.warning(
                "incident lease lost; stopping the incident rules: %s", reason, extra={"holder": self.holder}
            )
        await self._on_lose()

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds` or until the watch saw the key change."""
        if seconds > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _watch(self) -> None:
        """The key's changes: a deletion wakes a standby (the lease is free now); while leading, a
        later revision that is not this holder's is a move."""
        try:
            async for entry in self._watcher:
                if entry is None:
                    continue
                gone = entry.operation in (KV_DEL, KV_PURGE)
                ours = not gone and holder_of(entry.value) == self.holder
                if self._revision is not None and not ours and (entry.revision or 0) > self._revision:
                    self._moved = True
                    self._wake.set()
                elif gone and self._revision is None:
                    self._wake.set()
        except Exception:  # the loop still renews and tries on its own schedule
            log.exception("the lease watch ended; a released lease is taken at the next try")


async def bucket_ttl(kv: KeyValue) -> float:
    """The leases bucket's max_age in seconds; FailedPrecondition when its values never expire."""
    try:
        ttl = (await kv.status()).ttl
    except FAILURES as exc:
        raise errors.Unavailable(f"cannot read the {LEASES_BUCKET} bucket: {exc!r}") from exc
    if not ttl:
        raise errors.FailedPrecondition(
            f"the {LEASES_BUCKET} bucket keeps values forever (no max_age), so a lease in it could not "
            "expire: it is declared with one by runtime/bus.py; delete the bucket to have it declared again"
        )
    return float(ttl)


async def finish(task: asyncio.Task[None], timeout_s: float) -> None:
    """Wait for `task` to end on its own, then cancel it."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
