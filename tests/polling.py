"""Synchronising tests with what runs beside them: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 20.0, what: str = ""
) -> T: ...
@overload
async def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 20.0, what: str = ""
) -> T: ...
async def eventually(
    probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0, what: str = ""
) -> Any:
    """Call `probe` (a coroutine function, or a plain one reading state that a task beside the test
    changes) until `done(result)`, or fail after `timeout` seconds with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what or 'done'} within {timeout} s; last: {result}")
        await asyncio.sleep(0.02)
