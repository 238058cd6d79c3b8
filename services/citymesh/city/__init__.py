"""The city's vocabulary, shared by every service: sub-districts and their boundaries, device kinds.

Boundaries are in districts.geojson beside this file: five polygons tiling the ~99 km² zone
(plausible shapes, not survey data).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

DISTRICTS = ("gouzhao", "fengyang", "wutong", "shifo", "shuangqiao")
"""The five sub-districts, in the order of the District enum (1..5)."""


@dataclass(frozen=True)
class Kind:
    """A device kind: the one quantity it measures, its unit and its physical range."""

    name: str
    quantity: str
    unit: str
    low: float
    high: float


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("camera", "objects counted in frame", "count", 0, 10_000),
        Kind("air", "PM2.5", "µg/m³", 0, 2_000),
        Kind("noise", "sound level", "dB(A)", 0, 194),
        Kind("water", "water level", "m", -50, 200),
        Kind("traffic", "vehicle flow", "vehicles/min", 0, 1_000),
        Kind("temperature", "air temperature", "°C", -90, 70),
    )
}
"""Device kinds in the order of the DeviceKind enum (1..6)."""
KIND_NAMES = tuple(KINDS)

DETECTION_LABELS = (
    "fire",
    "smoke",
    "crowd",
    "vehicle_accident",
    "illegal_parking",
    "flooding_road",
    "person_fallen",
)
"""What a camera's AI reports seeing, in the order of citymesh.collection.v1.DetectionLabel (1..7):
collection validates detections against it, governance's detection rules name these labels."""


@dataclass(frozen=True)
class District:
    name: str
    name_zh: str
    enterprise: str | None
    peak: str | None
    ring: tuple[tuple[float, float], ...]

    def contains(self, lon: float, lat: float) -> bool:
        return bool(_inside(self.ring, np.array([lon]), np.array([lat]))[0])

    @property
    def area_km2(self) -> float:
        lat0 = math.radians(sum(p[1] for p in self.ring) / len(self.ring))
        kx, ky = 111.320 * math.cos(lat0), 110.574
        pts = [(x * kx, y * ky) for x, y in self.ring]
        twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True))
        return abs(twice) / 2


def _inside(
    ring: tuple[tuple[float, float], ...], lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Crossing-number test, vectorised over points. Half-open edges: a point on an edge shared by
    two polygons of a tiling falls in exactly one of them."""
    inside = np.zeros(lon.shape, dtype=bool)
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if y1 == y2:
            continue
        crosses = (y1 > lat) != (y2 > lat)
        x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (lon < x_at)
    return inside


def _load() -> dict[str, District]:
    text = resources.files(__package__).joinpath("districts.geojson").read_text(encoding="utf-8")
    out: dict[str, District] = {}
    for feature in json.loads(text)["features"]:
        props = feature["properties"]
        ring = tuple((float(x), float(y)) for x, y in feature["geometry"]["coordinates"][0][:-1])
        out[props["district"]] = District(
            props["district"], props["name_zh"], props["enterprise"], props["peak"], ring
        )
    return {name: out[name] for name in DISTRICTS}


BOUNDARIES = _load()


def locate(lon: float, lat: float) -> str | None:
    """The sub-district containing a WGS84 point, or None outside the zone."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    for district in BOUNDARIES.values():
        if district.contains(lon, lat):
            return district.name
    return None


def bounds() -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of the zone."""
    xs = [x for d in BOUNDARIES.values() for x, _ in d.ring]
    ys = [y for d in BOUNDARIES.values() for _, y in d.ring]
    return min(xs), min(ys), max(xs), max(ys)


def random_point_in(district: str, rng: np.random.Generator) -> tuple[float, float]:
    """A uniformly random point inside a sub-district (rejection sampling)."""
    ring = BOUNDARIES[district].ring
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    while True:
        lon = rng.uniform(min(xs), max(xs), 64)
        lat = rng.uniform(min(ys), max(ys), 64)
        hit = _inside(ring, lon, lat)
        if hit.any():
            i = int(np.argmax(hit))
            return float(lon[i]), float(lat[i])
