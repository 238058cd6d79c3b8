"""The simulated city's devices: the seed's 2,003 camera channels and 512 sensing units.

Pure and deterministic: the same seed builds the same fleet (ids, positions, owners, reporting
phases), so a second run registers every device again identically and collection's idempotent
RegisterDevice returns it unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from citymesh.city import BOUNDARIES, DISTRICTS, KIND_NAMES, random_point_in

DEFAULT_SEED = 2020
"""The seed's year."""

CAMERAS = 2_003
"""Camera channels of the data-collection layer (the seed's figure)."""

SENSORS: dict[str, int] = {"air": 96, "noise": 96, "water": 48, "traffic": 192, "temperature": 80}
"""The 512 sensing units ("500+" in the seed), by kind."""

OWNERS: dict[str, str] = {
    "gouzhao": "alibaba-cloud",
    "fengyang": "huawei",
    "wutong": "unisplendour",
    "shifo": "",
    "shuangqiao": "",
}
"""Each sub-district's peak tenant, who owns its devices; "" is platform-owned (no peak signed)."""

PREFIX: dict[str, str] = {
    "camera": "cam",
    "air": "air",
    "noise": "noise",
    "water": "water",
    "traffic": "traffic",
    "temperature": "temp",
}
DIGITS: dict[str, int] = {"camera": 4}
"""Zero-padded width of the number in a device id (3 unless listed)."""

PERIOD_S: dict[str, float] = {"camera": 10.0, "air": 60.0, "noise": 60.0, "water": 60.0, "traffic": 60.0}
"""Seconds of simulated time between two readings of one device (60 unless listed)."""

BASE: dict[str, tuple[float, float]] = {
    "camera": (5.0, 80.0),
    "air": (35.0, 90.0),
    "noise": (56.0, 72.0),
    "water": (1.5, 6.0),
    "traffic": (15.0, 120.0),
    "temperature": (-1.5, 1.5),
}
"""Range of each device's own level (its site's busyness, baseline or offset), drawn at build."""


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` in proportion to `weights` with whole numbers (largest remainder)."""
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(weights, key=lambda k: (counts[k] - exact[k], k))
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def device_key(device_id: str) -> int:
    """A stable 64-bit key of a device id, the seed of its value noise."""
    return int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: str
    district: str
    longitude: float
    latitude: float
    owner_tenant: str
    period_ms: int
    """Simulated milliseconds between two readings."""
    phase_ms: int
    """Offset of its readings in [0, period): devices of one kind do not all report at once."""
    base: float
    """Its own level, in BASE[kind]."""
    key: int


@dataclass(frozen=True)
class Fleet:
    """Every simulated device, plus the same facts as columns for vectorised generation."""

    seed: int
    devices: tuple[Device, ...]
    kind_code: npt.NDArray[np.int8] = field(repr=False)
    """Index of each device's kind in KIND_NAMES."""
    district_code: npt.NDArray[np.int8] = field(repr=False)
    """Index of each device's district in DISTRICTS."""
    period_ms: npt.NDArray[np.int64] = field(repr=False)
    phase_ms: npt.NDArray[np.int64] = field(repr=False)
    base: npt.NDArray[np.float64] = field(repr=False)
    key: npt.NDArray[np.uint64] = field(repr=False)

    @classmethod
    def build(cls, seed: int = DEFAULT_SEED) -> Fleet:
        """The seed's fleet: cameras and sensors of each kind spread over the five sub-districts in
        proportion to their areas, at uniformly random points inside each."""
        areas = {d: BOUNDARIES[d].area_km2 for d in DISTRICTS}
        counts = {"camera": CAMERAS, **SENSORS}
        devices: list[Device] = []
        for k, kind in enumerate(KIND_NAMES):
            period_ms = int(PERIOD_S.get(kind, 60.0) * 1000)
            low, high = BASE[kind]
            for d, (district, n) in enumerate(apportion(counts[kind], areas).items()):
                rng = np.random.default_rng([seed, k, d])
                for i in range(1, n + 1):
                    lon, lat = random_point_in(district, rng)
                    device_id = f"{PREFIX[kind]}-{district}-{i:0{DIGITS.get(kind, 3)}d}"
                    devices.append(
                        Device(
                            device_id=device_id,
                            kind=kind,
                            district=district,
                            longitude=lon,
                            latitude=lat,
                            owner_tenant=OWNERS[district],
                            period_ms=period_ms,
                            phase_ms=int(rng.integers(0, period_ms)),
                            base=float(rng.uniform(low, high)),
                            key=device_key(f"{seed}/{device_id}"),
                        )
                    )
        return cls.of(seed, devices)

    @classmethod
    def of(cls, seed: int, devices: list[Device]) -> Fleet:
        return cls(
            seed=seed,
            devices=tuple(devices),
            kind_code=np.array([KIND_NAMES.index(d.kind) for d in devices], dtype=np.int8),
            district_code=np.array([DISTRICTS.index(d.district) for d in devices], dtype=np.int8),
            period_ms=np.array([d.period_ms for d in devices], dtype=np.int64),
            phase_ms=np.array([d.phase_ms for d in devices], dtype=np.int64),
            base=np.array([d.base for d in devices], dtype=np.float64),
            key=np.array([d.key for d in devices], dtype=np.uint64),
        )

    def __len__(self) -> int:
        return len(self.devices)

    def subset(self, indices: list[int]) -> Fleet:
        return Fleet.of(self.seed, [self.devices[i] for i in indices])

    def count(self, kind: str | None = None, district: str | None = None) -> int:
        return sum(
            1
            for d in self.devices
            if (kind is None or d.kind == kind) and (district is None or d.district == district)
        )

    def readings_per_second(self) -> float:
        """Readings per second of simulated time."""
        return float((1000.0 / self.period_ms).sum())

    def split(self, streams: int = 0) -> dict[str, Fleet]:
        """Devices per gateway: one gateway per sub-district by default, else `streams` gateways,
        each serving devices of as few sub-districts as possible (each district's devices dealt
        round-robin over the gateways given to it)."""
        if streams <= 0:
            return {
                district: self.subset([i for i, d in enumerate(self.devices) if d.district == district])
                for district in DISTRICTS
            }
        groups: list[list[int]] = [[] for _ in range(streams)]
        for d, district in enumerate(DISTRICTS):
            mine = [g for g in range(streams) if g % len(DISTRICTS) == d] or [d % streams]
            members = [i for i, dev in enumerate(self.devices) if dev.district == district]
            for j, i in enumerate(members):
                groups[mine[j % len(mine)]].append(i)
        width = len(str(streams))
        return {f"s{g + 1:0{width}d}of{streams}": self.subset(members) for g, members in enumerate(groups)}
