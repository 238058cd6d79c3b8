"""Simulated time, and the readings a set of devices produces between two instants, as batches.

The clock runs `rate` times faster than real time but never ahead of the wall clock: collection
rejects readings from the future. So a run at rate > 1 starts in the past (its backfill) and
replays it faster than real time; once it reaches the present it follows the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citymesh.simulator.fleet import Fleet
from citymesh.simulator.values import values

MAX_BACKFILL_S = 24 * 3600.0
"""Default furthest a run starts in the past (collection accepts readings up to 7 days old)."""

FULL_RATE_S = 3600.0
"""Real seconds an endless run at rate > 1 spends at full rate before it reaches the present."""


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def backfill_s(rate: float, seconds: float | None, max_backfill_s: float = MAX_BACKFILL_S) -> float:
    """How far in the past a run starts so that it spends `seconds` (an hour when endless) at full
    rate and ends in the present; at most max_backfill_s."""
    horizon = FULL_RATE_S if seconds is None else seconds
    return max(0.0, min(max_backfill_s, (rate - 1.0) * horizon))


@dataclass
class SimClock:
    """Simulated time: start_ms at the real instant t0, advancing `rate` ms per real ms, capped at
    the wall clock."""

    start_ms: int
    rate: float
    t0: float
    """time.monotonic() at start_ms."""
    wall: Callable[[], int] = wall_ms
    monotonic: Callable[[], float] = time.monotonic

    @classmethod
    def starting(cls, start_ms: int, rate: float) -> SimClock:
        return cls(start_ms, rate, time.monotonic())

    def now_ms(self) -> int:
        ahead = self.start_ms + int((self.monotonic() - self.t0) * self.rate * 1000.0)
        return min(ahead, self.wall())

    def live(self) -> bool:
        """True once simulated time has caught up with the wall clock."""
        return self.now_ms() >= self.wall() - 1000


@dataclass(frozen=True)
class Readings:
    """Readings in columns: which device of the fleet (its index), when, and what value."""

    device: npt.NDArray[np.int64]
    time_ms: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.time_ms)


def readings_between(fleet: Fleet, start_ms: int, end_ms: int) -> Readings:
    """Every reading the fleet takes in [start_ms, end_ms), in time order. Device i reads at
    phase_ms[i] + k · period_ms[i] for whole k."""
    period, phase = fleet.period_ms, fleet.phase_ms
    first = -((phase - start_ms) // period)  # ceil((start - phase) / period)
    stop = -((phase - end_ms) // period)
    n = np.maximum(stop - first, 0)
    device = np.repeat(np.arange(len(fleet), dtype=np.int64), n)
    offsets = np.cumsum(n) - n
    k = first[device] + (np.arange(len(device), dtype=np.int64) - offsets[device])
    t = phase[device] + k * period[device]
    order = np.argsort(t, kind="stable")
    device, t = device[order], t[order]
    v = values(fleet.kind_code[device], t, fleet.base[device], fleet.key[device])
    return Readings(device, t, v)


@dataclass(frozen=True)
class Batch:
    """One batch of readings of one sub-district, columnar like citymesh.collection.v1.ReadingBatch."""

    batch_id: str
    device_ids: list[str]
    device_index: list[int]
    time_unix_ms: list[int]
    values: list[float]

    def __len__(self) -> int:
        return len(self.time_unix_ms)


def batches(
    gateway: str, fleet: Fleet, start_ms: int, end_ms: int, batch_size: int = 1000
) -> Iterator[Batch]:
    """The fleet's readings in [start_ms, end_ms) as batches of at most batch_size readings, each of
    one sub-district (collection forwards those without re-encoding). The id names the gateway, the
    window and the chunk: a batch generated again is the same batch with the same id, and JetStream
    stores it once."""
    readings = readings_between(fleet, start_ms, end_ms)
    district = fleet.district_code[readings.device]
    for d in np.unique(district):
        mine = np.flatnonzero(district == d)
        for c, lo in enumerate(range(0, len(mine), batch_size)):
            chunk = mine[lo : lo + batch_size]
            devices, index = np.unique(readings.device[chunk], return_inverse=True)
            yield Batch(
                batch_id=f"{gateway}-{start_ms}-{end_ms}-{int(d)}.{c}",
                device_ids=[fleet.devices[i].device_id for i in devices],
                device_index=index.tolist(),
                time_unix_ms=readings.time_ms[chunk].tolist(),
                values=readings.value[chunk].tolist(),
            )
