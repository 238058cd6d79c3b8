"""The one Numba decorator of the library, and where Numba keeps compiled kernels.

Every kernel is `njit(parallel=True, cache=True)`: compiled once per machine, then loaded from
NUMBA_CACHE_DIR in milliseconds. Numba's default cache (a __pycache__ beside the source) is not
writable in a container with a read-only root filesystem, so when NUMBA_CACHE_DIR is not set it
is pointed at the user's cache folder (or a private temporary folder when that is not writable).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

FAST = frozenset({"reassoc", "contract", "arcp", "nsz"})
"""Floating-point freedoms that let LLVM vectorise reductions and fuse multiply-adds, without
assuming values are never NaN or infinite (the kernels rely on 1/0 = inf to detect coincidence)."""


def cache_dir() -> str:
    """NUMBA_CACHE_DIR, set to a writable default first when it is not set."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        return chosen
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for candidate in (
        base / "citymesh" / "numba",
        Path(tempfile.gettempdir()) / f"citymesh-numba-{os.getuid()}",
    ):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = str(candidate)
            return str(candidate)
    raise RuntimeError("no writable folder for Numba's cache: set NUMBA_CACHE_DIR")


cache_dir()

import numba  # noqa: E402  (after NUMBA_CACHE_DIR is set: Numba reads it on import)

numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # type: ignore[attr-defined]


def kernel(fastmath: bool | frozenset[str] = False) -> Callable[[F], F]:
    """njit(parallel=True, cache=True), the decorator of every compiled kernel; nogil, so that a
    worker's event loop (heartbeats, cancel, the API) runs while a kernel does."""

    def wrap(fn: F) -> F:
        compiled = cast(
            F,
            numba.njit(
                parallel=True,
                cache=True,
                fastmath=set(fastmath) if isinstance(fastmath, frozenset) else fastmath,
            )(fn),
        )
        return compiled

    return wrap


def serial(fn: F) -> F:
    """njit(cache=True) for helpers called from inside a kernel."""
    compiled = cast(F, numba.njit(cache=True, nogil=True, inline="always")(fn))
    return compiled


def routine(fn: F) -> F:
    """njit(cache=True), not inlined: the work of one iteration of a kernel's parallel loop, kept a
    function of its own so that its hot loop is compiled (and its registers allocated) on its own."""
    compiled = cast(F, numba.njit(cache=True, nogil=True)(fn))
    return compiled


prange = numba.prange


def threads() -> int:
    return int(numba.get_num_threads())
