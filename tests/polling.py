"""Synchronising tests with what runs beside them: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 20.0, what: str = ""
) -> T:
    """Call `probe` until `done(result)`, or fail after `timeout` seconds with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what or 'done'} within {timeout} s; last: {result}")
        await asyncio.sleep(0.02)
