"""Following a KV bucket: every value as it is now, then each change, in one task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

log = logging.getLogger("citymesh.governance.incidents")

OnValue = Callable[[str, bytes, int], None]
"""Called with (key, value, revision) for each value put; deletions are not passed on."""


class Follower:
    def __init__(self, kv: KeyValue, on_value: OnValue, name: str) -> None:
        self._kv = kv
        self._on_value = on_value
        self._name = name
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.revision = 0
        """The revision of the latest entry the watch delivered (a value or a deletion)."""
        self._progress = asyncio.Event()

    async def start(self, sync_timeout_s: float) -> bool:
        """Start (once) and wait until every stored value was passed on; False if that took longer
        than `sync_timeout_s` (the watch goes on)."""
        if self._task is not None:
            return True
        self._watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._follow(), name=self._name)
        try:
            await asyncio.wait_for(self._synced.wait(), sync_timeout_s)
        except TimeoutError:
            return False
        return True

    async def reached(self, revision: int, timeout_s: float) -> bool:
        """Wait until the watch delivered `revision` or a later one; False after `timeout_s`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.revision < revision:
            self._progress.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)
        return True

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the initial values are all delivered (none stored)
                self._synced.set()
                continue
            if entry.operation not in (KV_DEL, KV_PURGE) and entry.value:
                self._on_value(entry.key, entry.value, entry.revision or 0)
            self.revision = max(self.revision, entry.revision or 0)
            self._progress.set()
            if entry.delta == 0:
                self._synced.set()
