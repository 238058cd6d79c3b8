"""The exchange's copy of the device registry: a watch of the `devices` KV bucket, saved in the store.

Collection writes a device to the bucket before it accepts any reading of it, so every reading in
the stream has a device the bucket described at some point. The watch may lag behind the
materialiser, though, so a reading whose device the watch has not delivered yet is not guessed at:
`resolve` reads the bucket directly (an authoritative read at that moment) before the reading is
stored. Entries are ordered by their KV revision, so a late watch update never overwrites a newer
direct read. A deletion (deregistration) keeps the device with its kind and sub-district, flagged,
because readings of it may still be in the stream. Only a device deleted before the exchange ever
saw it is stored without kind and sub-district (code 0); that is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

import nats.js.errors
import numpy as np
import numpy.typing as npt
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from citymesh.exchange import convert
from citymesh.exchange.domain import DeviceInfo
from citymesh.exchange.store import Store

log = logging.getLogger("citymesh.exchange.devices")


class DeviceDirectory:
    """Device id → DeviceInfo, kept current by a KV watch and saved to the store in the background."""

    def __init__(self, kv: KeyValue, store: Store, known: dict[str, DeviceInfo]) -> None:
        self._kv = kv
        self._store = store
        self._known = known
        self._missing: set[str] = set()
        # Gateways send the same device list batch after batch; cleared on any device change.
        self._resolved: dict[tuple[str, ...], tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = {}
        self._dirty: dict[str, DeviceInfo] = {}
        self._synced = asyncio.Event()
        self._watcher: Any = None
        self._watch_task: asyncio.Task[None] | None = None
        self._save_task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._known)

    def get(self, device_id: str) -> DeviceInfo | None:
        return self._known.get(device_id)

    async def start(self, sync_timeout_s: float) -> None:
        """Start the watch and wait (at most `sync_timeout_s`) until it has delivered every device."""
        self._watcher = await self._kv.watchall()
        self._watch_task = asyncio.create_task(self._watch(), name="exchange-device-watch")
        try:
            await asyncio.wait_for(self._synced.wait(), sync_timeout_s)
        except TimeoutError:
            log.warning(
                "device watch not caught up yet; unknown devices are read from the bucket directly",
                extra={"timeout_s": sync_timeout_s, "devices": len(self._known)},
            )
        else:
            log.info("device watch caught up", extra={"devices": len(self._known)})

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        if self._save_task is not None:
            with contextlib.suppress(Exception):
                await self._save_task

    async def _watch(self) -> None:
        async for entry in self._watcher:
            if entry is None:
                self._synced.set()
                continue
            try:
                if entry.operation in (KV_DEL, KV_PURGE):
                    self._deregister(entry.key, entry.revision)
                else:
                    self._apply(entry.key, convert.device_info(entry.value, entry.revision))
            except ValueError as exc:
                log.error(
                    "ignoring a malformed device entry", extra={"device_id": entry.key, "reason": str(exc)}
                )
            if entry.delta == 0:
                self._synced.set()

    def _apply(self, device_id: str, info: DeviceInfo) -> None:
        current = self._known.get(device_id)
        if current is not None and current.revision >= info.revision:
            return
        self._known[device_id] = info
        self._missing.discard(device_id)
        self._mark_dirty(device_id, info)

    def _deregister(self, device_id: str, revision: int) -> None:
        current = self._known.get(device_id)
        if current is None or current.revision >= revision:
            return
        info = dataclasses.replace(current, revision=revision, deregistered=True)
        self._known[device_id] = info
        self._mark_dirty(device_id, info)

    def _mark_dirty(self, device_id: str, info: DeviceInfo) -> None:
        self._resolved.clear()
        self._dirty[device_id] = info
        if self._save_task is None or self._save_task.done():
            self._save_task = asyncio.create_task(self._save(), name="exchange-device-save")

    async def _save(self) -> None:
        """Save changed devices, one transaction per burst; one task at a time keeps them in order."""
        while self._dirty:
            batch, self._dirty = self._dirty, {}
            try:
                await self._store.save_devices(batch)
            except Exception:
                log.exception(
                    "cannot save devices; will retry with the next change", extra={"devices": len(batch)}
                )
                self._dirty = {**batch, **self._dirty}
                return

    async def resolve(self, device_ids: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """The kind and sub-district code of each device (0 where not known)."""
        key = tuple(device_ids)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        known = self._known
        unseen = [d for d in device_ids if d not in known and d not in self._missing]
        if unseen:
            await asyncio.gather(*(self._fetch(d) for d in unseen))
        infos = [known.get(d) for d in device_ids]
        kinds = np.fromiter((i.kind if i else 0 for i in infos), dtype=np.uint8, count=len(infos))
        districts = np.fromiter((i.district if i else 0 for i in infos), dtype=np.uint8, count=len(infos))
        if len(self._resolved) >= 1024:
            self._resolved.clear()
        self._resolved[key] = (kinds, districts)
        return kinds, districts

    async def _fetch(self, device_id: str) -> None:
        try:
            entry = await self._kv.get(device_id)
            info = convert.device_info(entry.value or b"", entry.revision or 0)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.InvalidKeyError, ValueError) as exc:
            self._missing.add(device_id)
            self._resolved.clear()
            log.warning(
                "readings of a device the registry does not describe; stored without kind and sub-district",
                extra={"device_id": device_id, "reason": type(exc).__name__},
            )
            return
        self._apply(device_id, info)
