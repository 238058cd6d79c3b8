"""Kind, position and sub-district of each device, for the rules: a watch of the `devices` bucket.

Each device gets a slot (a small integer, the evaluator's row) the first time it is seen, and its
kind, position and sub-district live in NumPy arrays by slot, so a batch's readings are looked up
with one indexing. Collection writes a device before it accepts any reading of it, but the watch
may lag; a device not known yet is read from the bucket directly. A reading of a device the
registry does not describe gets kind 0, which no rule reads.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import numpy.typing as npt
from nats.js.errors import InvalidKeyError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from citymesh.api.collection.v1 import collection_pb2
from citymesh.city import DISTRICTS
from citymesh.governance.incidents.follow import Follower
from citymesh.runtime.bus import DEVICES_BUCKET, Bus

log = logging.getLogger("citymesh.governance.incidents.devices")


class Devices:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._slots: dict[str, int] = {}
        self._ids: list[str] = []
        self._missing: set[str] = set()
        self._described: set[str] = set()
        # Gateways send the same device list batch after batch.
        self._resolved: dict[tuple[str, ...], npt.NDArray[np.int64]] = {}
        self.kind = np.zeros(0, np.uint8)
        self.district = np.zeros(0, np.uint8)
        self.lon = np.zeros(0)
        self.lat = np.zeros(0)
        self._follower = Follower(
            kv, lambda key, value, _: self.describe(key, value), "incidents-device-watch"
        )

    @classmethod
    async def open(cls, bus: Bus) -> Devices:
        return cls(await bus.kv(DEVICES_BUCKET))

    def __len__(self) -> int:
        return len(self._ids)

    async def start(self, sync_timeout_s: float = 30.0) -> None:
        if not await self._follower.start(sync_timeout_s):
            log.warning("device watch not caught up; unknown devices are read from the bucket")

    async def stop(self) -> None:
        await self._follower.stop()

    def slot(self, device_id: str) -> int:
        """The device's slot, given at first sight."""
        slot = self._slots.get(device_id)
        if slot is None:
            slot = len(self._ids)
            self._slots[device_id] = slot
            self._ids.append(device_id)
            if slot >= len(self.kind):
                grow = max(64, len(self.kind))
                self.kind = np.concatenate([self.kind, np.zeros(grow, np.uint8)])
                self.district = np.concatenate([self.district, np.zeros(grow, np.uint8)])
                self.lon = np.concatenate([self.lon, np.zeros(grow)])
                self.lat = np.concatenate([self.lat, np.zeros(grow)])
        return slot

    def device_id(self, slot: int) -> str:
        return self._ids[slot]

    def district_name(self, slot: int) -> str:
        code = int(self.district[slot])
        return DISTRICTS[code - 1] if code else ""

    def describe(self, device_id: str, payload: bytes) -> None:
        """Take a device as the registry holds it (a collection Device message)."""
        device = collection_pb2.Device()
        try:
            device.ParseFromString(payload)
        except Exception as exc:  # upb raises DecodeError as a plain Exception
            log.error("ignoring a malformed device entry", extra={"device_id": device_id, "reason": str(exc)})
            return
        slot = self.slot(device_id)
        self.kind[slot] = device.kind
        self.district[slot] = device.district
        self.lon[slot] = device.position.longitude
        self.lat[slot] = device.position.latitude
        self._missing.discard(device_id)
        self._described.add(device_id)

    async def slots(self, device_ids: list[str]) -> npt.NDArray[np.int64]:
        """The slot of each device id, reading the bucket for any the watch has not delivered."""
        key = tuple(device_ids)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        get = self._slots.get
        slots = np.array([get(d, -1) for d in device_ids], dtype=np.int64)
        if len(slots) and (slots.min() < 0 or not self.kind[slots].all()):  # some not described yet
            unseen = {d for d in device_ids if d not in self._described and d not in self._missing}
            if unseen:
                await asyncio.gather(*(self._fetch(d) for d in unseen))
            slots = np.array([self.slot(d) for d in device_ids], dtype=np.int64)
            if any(d in self._missing for d in device_ids):  # a missing device may appear later
                return slots
        if len(self._resolved) >= 1024:
            self._resolved.clear()
        self._resolved[key] = slots
        return slots

    async def _fetch(self, device_id: str) -> None:
        try:
            entry = await self._kv.get(device_id)
        except (KeyNotFoundError, NotFoundError, InvalidKeyError):
            self._missing.add(device_id)
            log.warning("readings of a device the registry does not describe", extra={"device_id": device_id})
            return
        if entry.value:
            self.describe(device_id, entry.value)
