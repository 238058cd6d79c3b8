"""The responder units, routing, and the models behind an ETA.

Each sub-district has four units: three specialists (environment, water, public security), each
responsible for the incident types in TYPES_OF, and an emergency office that takes every type no
specialist of its sub-district takes. Positions are plausible stations inside each sub-district
(tests/governance/test_incident_model.py checks each lies in its own), not survey data.

ETA models (docs/governance.md, "ETA"):
- straight line: the great-circle distance at STRAIGHT_LINE_KMH, an average urban speed that
  already accounts for detours;
- road model: a street grid over the zone, an intersection every GRID_M metres, with an arterial
  every ARTERIAL_EVERY streets at ARTERIAL_KMH and local streets at LOCAL_KMH; the unit and the
  incident reach their nearest intersection in a straight line at LOCAL_KMH. Compute's `route`
  kernel finds the fastest path over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from citymesh.city import bounds

EARTH_RADIUS_M = 6_371_008.8
STRAIGHT_LINE_KMH = 25.0
GRID_M = 250.0
ARTERIAL_EVERY = 4
ARTERIAL_KMH = 50.0
LOCAL_KMH = 25.0
ANY = "*"


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    district: str
    types: frozenset[str]
    lon: float
    lat: float


TYPES_OF = {
    "environment": frozenset({"air-quality", "noise"}),
    "water": frozenset({"flood"}),
    "public-security": frozenset({"crowd", "traffic", "parking"}),
    "emergency": frozenset({ANY}),
}
"""What each specialty is responsible for."""

NAMES = {
    "environment": "environmental inspection team",
    "water": "water and flood response team",
    "public-security": "public security patrol",
    "emergency": "emergency management office",
}

STATIONS: dict[str, dict[str, tuple[float, float]]] = {
    "gouzhao": {
        "environment": (113.482, 34.781),
        "water": (113.478, 34.812),
        "public-security": (113.493, 34.826),
        "emergency": (113.496, 34.798),
    },
    "fengyang": {
        "environment": (113.523, 34.812),
        "water": (113.541, 34.829),
        "public-security": (113.530, 34.835),
        "emergency": (113.532, 34.820),
    },
    "wutong": {
        "environment": (113.562, 34.816),
        "water": (113.583, 34.831),
        "public-security": (113.571, 34.836),
        "emergency": (113.574, 34.822),
    },
    "shifo": {
        "environment": (113.518, 34.771),
        "water": (113.540, 34.768),
        "public-security": (113.536, 34.789),
        "emergency": (113.528, 34.779),
    },
    "shuangqiao": {
        "environment": (113.560, 34.772),
        "water": (113.583, 34.768),
        "public-security": (113.582, 34.797),
        "emergency": (113.571, 34.784),
    },
}

UNITS: dict[str, Unit] = {
    f"{district}-{specialty}": Unit(
        f"{district}-{specialty}",
        f"{district.title()} {NAMES[specialty]}",
        district,
        TYPES_OF[specialty],
        lon,
        lat,
    )
    for district, stations in STATIONS.items()
    for specialty, (lon, lat) in stations.items()
}


def serves(unit: Unit, incident_type: str) -> bool:
    return incident_type in unit.types or ANY in unit.types


def responsible_unit(district: str, incident_type: str) -> Unit | None:
    """The unit of `district` responsible for `incident_type`: its specialist, else its emergency
    office (None only for a place outside every sub-district)."""
    local = [u for u in UNITS.values() if u.district == district]
    specialist = next((u for u in local if incident_type in u.types), None)
    return specialist or next((u for u in local if ANY in u.types), None)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def straight_line_s(unit: Unit, lon: float, lat: float, kmh: float = STRAIGHT_LINE_KMH) -> float:
    """Seconds for `unit` to reach (lon, lat) in a straight line at `kmh`."""
    return distance_m(unit.lon, unit.lat, lon, lat) / (kmh / 3.6)


@dataclass(frozen=True)
class RoadModel:
    """The zone's street grid as the `route` kernel takes it."""

    lon0: float
    lat0: float
    columns: int
    rows: int
    dlon: float
    dlat: float
    edge_from: npt.NDArray[np.int64]
    edge_to: npt.NDArray[np.int64]
    edge_time_s: npt.NDArray[np.float64]

    @property
    def nodes(self) -> int:
        return self.columns * self.rows

    def nearest(self, lon: float, lat: float) -> tuple[int, float]:
        """The intersection nearest (lon, lat), and the seconds to reach it at LOCAL_KMH."""
        col = min(max(round((lon - self.lon0) / self.dlon), 0), self.columns - 1)
        row = min(max(round((lat - self.lat0) / self.dlat), 0), self.rows - 1)
        node_lon, node_lat = self.lon0 + col * self.dlon, self.lat0 + row * self.dlat
        return row * self.columns + col, distance_m(lon, lat, node_lon, node_lat) / (LOCAL_KMH / 3.6)


@cache
def road_model() -> RoadModel:
    """The street grid over the zone's bounds (built once)."""
    min_lon, min_lat, max_lon, max_lat = bounds()
    mid = math.radians((min_lat + max_lat) / 2)
    dlat = math.degrees(GRID_M / EARTH_RADIUS_M)
    dlon = dlat / math.cos(mid)
    columns = math.ceil((max_lon - min_lon) / dlon) + 1
    rows = math.ceil((max_lat - min_lat) / dlat) + 1
    ids = np.arange(rows * columns, dtype=np.int64).reshape(rows, columns)
    # Horizontal segments run along a row; a row is an arterial every ARTERIAL_EVERY rows.
    h_from, h_to = ids[:, :-1].ravel(), ids[:, 1:].ravel()
    h_fast = np.repeat(np.arange(rows) % ARTERIAL_EVERY == 0, columns - 1)
    v_from, v_to = ids[:-1, :].ravel(), ids[1:, :].ravel()
    v_fast = np.tile(np.arange(columns) % ARTERIAL_EVERY == 0, rows - 1)
    src = np.concatenate([h_from, v_from])
    dst = np.concatenate([h_to, v_to])
    fast = np.concatenate([h_fast, v_fast])
    seconds = np.where(fast, GRID_M / (ARTERIAL_KMH / 3.6), GRID_M / (LOCAL_KMH / 3.6))
    return RoadModel(
        min_lon,
        min_lat,
        columns,
        rows,
        dlon,
        dlat,
        np.concatenate([src, dst]),
        np.concatenate([dst, src]),
        np.concatenate([seconds, seconds]),
    )
