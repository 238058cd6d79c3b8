"""A peak's theme: the scenes it opens by default and the kernels it offers.

The seed names three signed peaks, each with its theme (seed/FACTS.md): Gouzhao's Tianjian Lake
Sensor-IoT Town, Fengyang's 5G+ Town and Wutong's Digital Governance Town. Shifo and Shuangqiao
are still negotiating with Baidu, Tencent and China Electronics; until one signs, their peaks take
the theme the candidates' strengths suggest (Shifo 5G+: connected vehicles and AI need coverage;
Shuangqiao digital governance: city-service platforms), and CITYMESH_THEME overrides any default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from citymesh.city import BOUNDARIES, random_point_in
from citymesh.peak.domain import Scene, SceneKind, Window


class Theme(StrEnum):
    SENSOR_IOT = "sensor-iot"
    FIVE_G = "five-g"
    DIGITAL_GOVERNANCE = "digital-governance"


DEFAULT_THEME = {
    "gouzhao": Theme.SENSOR_IOT,
    "fengyang": Theme.FIVE_G,
    "wutong": Theme.DIGITAL_GOVERNANCE,
    "shifo": Theme.FIVE_G,
    "shuangqiao": Theme.DIGITAL_GOVERNANCE,
}
"""The theme of each sub-district's peak unless CITYMESH_THEME says otherwise."""

KERNELS: dict[Theme, tuple[str, ...]] = {
    # PM2.5 fields from the air grid, sensor anomalies, the lake's flood risk.
    Theme.SENSOR_IOT: ("anomaly_scan", "flood_sim", "idw_grid"),
    # Base-station coverage, crowds around venues, connected-vehicle routes.
    Theme.FIVE_G: ("coverage_5g", "density_heatmap", "route"),
    # Crowds, anomalies in the city's sensors, floods and emergency routes.
    Theme.DIGITAL_GOVERNANCE: ("anomaly_scan", "density_heatmap", "flood_sim", "route"),
}
"""The compute kernels each theme offers (names as compute's ListKernels gives them)."""

WEEKDAYS = (1, 2, 3, 4, 5)
WEEKEND = (6, 7)
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class SceneTemplate:
    """A scene of a theme, before it is placed in a sub-district."""

    scene_id: str
    name: str
    place: str
    kind: SceneKind
    capacity: int
    availability: tuple[Window, ...]
    description: str


def _h(hour: float) -> int:
    return round(hour * 60)


TEMPLATES: dict[Theme, tuple[SceneTemplate, ...]] = {
    Theme.SENSOR_IOT: (
        SceneTemplate(
            "lakeshore-water-sensing",
            "Lakeshore water sensing",
            "lakeshore and buoys",
            SceneKind.ECOLOGY,
            60,
            (Window(EVERY_DAY, _h(6), _h(20)),),
            "Water-quality and water-level sensors on the shore and on buoys, in daylight.",
        ),
        SceneTemplate(
            "sensor-pilot-line",
            "Sensor pilot production line",
            "industrial park, hall 3",
            SceneKind.PRODUCTION,
            20,
            (Window(WEEKDAYS, _h(8.5), _h(17.5)),),
            "A working MEMS sensor line for in-process measurement and predictive maintenance.",
        ),
        SceneTemplate(
            "community-air-grid",
            "Community air-quality grid",
            "residential blocks",
            SceneKind.LIFE,
            100,
            (Window(EVERY_DAY, 0, _h(24)),),
            "Micro air stations on lamp posts of the residential blocks, day and night.",
        ),
    ),
    Theme.FIVE_G: (
        SceneTemplate(
            "connected-vehicle-road",
            "5G connected-vehicle test road",
            "arterial road with roadside units",
            SceneKind.LIFE,
            12,
            (Window(WEEKDAYS, _h(9.5), _h(16)), Window(WEEKEND, _h(7), _h(19))),
            "Open road with 5G roadside units for vehicle-road cooperation, outside rush hours.",
        ),
        SceneTemplate(
            "smart-factory-5g",
            "5G private-network factory",
            "manufacturing campus",
            SceneKind.PRODUCTION,
            30,
            (Window(WEEKDAYS, _h(8), _h(18)),),
            "A factory floor on a 5G private network: machine vision, AGVs, remote control.",
        ),
        SceneTemplate(
            "ar-park",
            "5G+AR park",
            "central park",
            SceneKind.LIFE,
            200,
            (Window(WEEKEND, _h(9), _h(21)),),
            "Visitors with AR guides and live video over 5G, at weekends.",
        ),
    ),
    Theme.DIGITAL_GOVERNANCE: (
        SceneTemplate(
            "grid-governance-station",
            "Community grid-governance station",
            "sub-district service center",
            SceneKind.LIFE,
            15,
            (Window(WEEKDAYS, _h(9), _h(17)),),
            "The community grid workers' station: case intake, dispatch and follow-up.",
        ),
        SceneTemplate(
            "street-perception-corridor",
            "Street event-perception corridor",
            "commercial street",
            SceneKind.LIFE,
            40,
            (Window(EVERY_DAY, 0, _h(24)),),
            "Camera channels along a commercial street for event perception (perceive → analyse).",
        ),
        SceneTemplate(
            "river-patrol-reach",
            "River-chief patrol reach",
            "river reach and embankment",
            SceneKind.ECOLOGY,
            10,
            (Window(EVERY_DAY, _h(7), _h(19)),),
            "A river reach patrolled by its river chief: water gauges, drones, patrol apps.",
        ),
    ),
}


def theme_for(district: str, configured: str = "") -> Theme:
    """The theme of the peak of `district`: the configured one, else the district's default."""
    return Theme(configured) if configured else DEFAULT_THEME[district]


def scenes(theme: Theme, district: str) -> list[Scene]:
    """The theme's scenes, each placed at a point inside `district` (the same point every time)."""
    out = []
    for i, t in enumerate(TEMPLATES[theme]):
        rng = np.random.default_rng([i, *t.scene_id.encode()])
        lon, lat = random_point_in(district, rng)
        out.append(
            Scene(
                scene_id=t.scene_id,
                name=t.name,
                place=f"{t.place}, {BOUNDARIES[district].name.title()} ({BOUNDARIES[district].name_zh})",
                lon=lon,
                lat=lat,
                kind=t.kind,
                capacity=t.capacity,
                availability=t.availability,
                description=t.description,
            )
        )
    return out
