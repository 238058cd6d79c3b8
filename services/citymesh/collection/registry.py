"""The device registry, kept in the JetStream KV bucket `devices` (one key per device).

Each collection process keeps the whole registry in memory, loaded at start and followed with a
KV watch, so validating a batch touches no network; its own writes apply at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from citymesh.collection import convert
from citymesh.collection.domain import Device, DeviceIndex, Writer, check_device_id, reconcile
from citymesh.runtime.errors import NotFound

log = logging.getLogger("citymesh.collection.registry")


class Registry:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.devices: dict[str, Device] = {}
        self.index = DeviceIndex()
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        stored = (await self.kv.status()).stream_info.state.messages
        watcher = await self.kv.watchall()
        while stored:
            # Ends on the entry delivered with nothing pending after it, not on the watcher's first
            # None, which nats.py can put ahead of the values under load (see runtime.bus.kv_items).
            entry = await watcher.updates(timeout=30)
            if entry is None:
                continue
            self._apply(entry)
            if entry.delta == 0:
                break
        self._watch = asyncio.create_task(self._follow(watcher))
        log.info("registry loaded", extra={"devices": len(self.devices)})

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is not None:
                    self._apply(entry)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    def _apply(self, entry: KeyValue.Entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self._forget(entry.key)
        else:
            self._remember(convert.device_from_stored(entry.value))

    def _remember(self, device: Device) -> None:
        self.devices[device.device_id] = device
        self.index.put(device)

    def _forget(self, device_id: str) -> None:
        self.devices.pop(device_id, None)
        self.index.remove(device_id)

    async def register(self, device: Device, writer: Writer | None = None) -> Device:
        """Store a new device, or return the identical one already registered."""
        while True:
            existing = await self._read(device.device_id)
            kept = reconcile(existing, device, writer)
            if kept is not None:
                self._remember(kept)
                return kept
            data = convert.device_to_proto(device).SerializeToString()
            try:
                await self.kv.create(device.device_id, data)
            except KeyWrongLastSequenceError:
                continue  # registered concurrently: compare with that one
            self._remember(device)
            log.debug("device registered", extra={"device_id": device.device_id, "district": device.district})
            return device

    async def _read(self, device_id: str) -> Device | None:
        try:
            entry = await self.kv.get(device_id)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        return convert.device_from_stored(entry.value) if entry.value else None

    def get(self, device_id: str) -> Device:
        check_device_id(device_id)
        found = self.devices.get(device_id)
        if found is None:
            raise NotFound(f"device {device_id} does not exist")
        return found

    async def deregister(self, device_id: str) -> None:
        check_device_id(device_id)
        if await self._read(device_id) is None:
            raise NotFound(f"device {device_id} does not exist")
        await self.kv.delete(device_id)
        self._forget(device_id)
        log.info("device deregistered", extra={"device_id": device_id})

    def list(
        self,
        after: str,
        limit: int,
        district: str | None,
        kind: str | None,
        owner: str,
        visible: Callable[[Device], bool] | None = None,
    ) -> tuple[list[Device], str]:
        """A page of devices in id order after `after` (only those `visible` accepts), and the
        token of the next page."""
        chosen = sorted(
            d
            for d, device in self.devices.items()
            if d > after
            and (district is None or device.district == district)
            and (kind is None or device.kind == kind)
            and (not owner or device.owner_tenant == owner)
            and (visible is None or visible(device))
        )
        page = [self.devices[d] for d in chosen[:limit]]
        return page, (page[-1].device_id if len(chosen) > limit else "")


def now_ms() -> int:
    return time.time_ns() // 1_000_000
