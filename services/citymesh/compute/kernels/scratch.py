"""Scratch arrays kept between plans, so that a run writes to memory the process already has.

A page of fresh memory costs a fault on its first write: about 2 µs per 4 KiB page on a virtual
machine, more than some kernels spend on the data that page holds. Working arrays that never leave
a plan (per-thread grids, rooms for partial results) are taken from here and given back when the
plan is done with them; outputs are always fresh arrays. At most KEPT buffers of at most LARGEST
bytes each are kept, per process.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

KEPT = 4
LARGEST = 32 << 20

_lock = threading.Lock()
_free: list[npt.NDArray[Any]] = []


def take(shape: tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
    """An uninitialised C-contiguous array of this shape and dtype: the start of a kept buffer
    when one is large enough, else a new one."""
    kind = np.dtype(dtype)
    size = int(np.prod(shape))
    with _lock:
        fits = [k for k, a in enumerate(_free) if a.dtype == kind and a.size >= size]
        if fits:
            buffer = _free.pop(min(fits, key=lambda k: _free[k].size))  # by position: == compares arrays
            return buffer[:size].reshape(shape)
    return np.empty(size, dtype=kind).reshape(shape)


def give(array: npt.NDArray[Any]) -> None:
    """Keep the buffer under `array` (one that `take` returned) for a later take: the caller no
    longer uses it, nor any view of it."""
    buffer = array
    while isinstance(buffer.base, np.ndarray):
        buffer = buffer.base
    if buffer.ndim != 1 or buffer.nbytes > LARGEST:
        return
    with _lock:
        if not any(a is buffer for a in _free):
            _free.append(buffer)
            _free.sort(key=lambda a: a.nbytes)
            del _free[: max(0, len(_free) - KEPT)]
