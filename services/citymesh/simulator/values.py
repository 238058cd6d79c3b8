"""What each kind of device reads at a given time: plausible daily patterns plus noise.

Pure functions of (device, time): the noise comes from hashing the device's key with the
timestamp, not from a random generator's state, so a reading generated twice is the same reading,
and tests can check shapes without a server.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from citymesh.city import KIND_NAMES, KINDS

F = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

UTC_OFFSET_H = 8.0
"""Zhengzhou is on China Standard Time (UTC+8): daily patterns follow its clock."""

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DAY_S = 86_400.0


def local_hour(t_ms: I64) -> F:
    """Hour of the day in [0, 24) on the zone's clock."""
    return np.asarray(((t_ms / HOUR_MS) + UTC_OFFSET_H) % 24.0, dtype=np.float64)


def _bump(h: F, centre: float, width: float) -> F:
    """A Gaussian bump over the hour of the day, wrapping at midnight."""
    d = (h - centre + 12.0) % 24.0 - 12.0
    return np.asarray(np.exp(-0.5 * (d / width) ** 2), dtype=np.float64)


def _between(h: F, start: float, end: float, sharpness: float = 2.0) -> F:
    """≈1 between the hours start and end, ≈0 outside, with soft edges."""
    rise = 1.0 / (1.0 + np.exp(-(h - start) * sharpness))
    fall = 1.0 / (1.0 + np.exp(-(end - h) * sharpness))
    return np.asarray(rise * fall, dtype=np.float64)


def traffic_profile(h: F) -> F:
    """Share of a road's peak flow: morning and evening rush hours, a midday plateau, quiet nights."""
    return 0.05 + 0.95 * _bump(h, 8.0, 1.1) + 0.85 * _bump(h, 18.0, 1.4) + 0.4 * _bump(h, 13.0, 3.0)


def activity_profile(h: F) -> F:
    """Share of a street's busiest activity (people and vehicles in a camera's frame)."""
    return 0.04 + 0.5 * _between(h, 7.0, 22.0) + 0.35 * _bump(h, 8.5, 1.5) + 0.45 * _bump(h, 18.5, 2.0)


def _mix(key: U64, t_ms: I64, stream: int) -> U64:
    """splitmix64 of (key, time, stream): 64 well-mixed bits per reading."""
    with np.errstate(over="ignore"):
        z = key ^ (t_ms.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(stream)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def uniform(key: U64, t_ms: I64, stream: int = 0) -> F:
    """Deterministic uniform noise in (0, 1) for each (device key, time)."""
    return np.asarray(((_mix(key, t_ms, stream) >> np.uint64(11)) + 0.5) / float(1 << 53), dtype=np.float64)


def normal(key: U64, t_ms: I64, stream: int = 0) -> F:
    """Deterministic standard normal noise for each (device key, time) (Box-Muller)."""
    u1 = uniform(key, t_ms, 2 * stream + 1)
    u2 = uniform(key, t_ms, 2 * stream + 2)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2), dtype=np.float64)


def _slow(key: U64, t_ms: I64, period_days: float) -> F:
    """A slow sine of the given period with a phase of the device's own."""
    phase = (key % np.uint64(10_000)).astype(np.float64) / 10_000.0 * 2.0 * np.pi
    return np.asarray(np.sin(2.0 * np.pi * t_ms / (period_days * DAY_MS) + phase), dtype=np.float64)


def _counts(mean: F, z: F) -> F:
    """Whole counts around `mean` with Poisson-like spread."""
    return np.asarray(
        np.maximum(0.0, np.rint(mean + np.sqrt(np.maximum(mean, 0.0)) * z)) + 0.0, dtype=np.float64
    )


def camera(t_ms: I64, base: F, key: U64) -> F:
    """Objects counted in frame: follows the street's activity; base is its busiest count."""
    return _counts(base * activity_profile(local_hour(t_ms)), normal(key, t_ms))


def traffic(t_ms: I64, base: F, key: U64) -> F:
    """Vehicles per minute: rush-hour peaks at 08:00 and 18:00; base is the section's peak flow."""
    return _counts(base * traffic_profile(local_hour(t_ms)), normal(key, t_ms))


def air(t_ms: I64, base: F, key: U64) -> F:
    """PM2.5 in µg/m³: highest in the morning (night-time inversion, rush hour), cleanest in the
    afternoon, drifting with the weather over days; base is the site's daily mean."""
    h = local_hour(t_ms)
    level = base * (1.0 + 0.3 * np.cos(2.0 * np.pi * (h - 8.0) / 24.0)) * (1.0 + 0.3 * _slow(key, t_ms, 3.3))
    return np.asarray(np.maximum(1.0, level * (1.0 + 0.08 * normal(key, t_ms))), dtype=np.float64)


def noise(t_ms: I64, base: F, key: U64) -> F:
    """Sound level in dB(A): about 20 dB quieter at night; base is the site's daytime level."""
    h = local_hour(t_ms)
    night = base - 20.0
    level = night + 20.0 * _between(h, 6.0, 22.0) + 3.0 * _bump(h, 8.0, 1.2) + 3.0 * _bump(h, 18.0, 1.5)
    return np.asarray(level + 2.0 * normal(key, t_ms), dtype=np.float64)


def water(t_ms: I64, base: F, key: U64) -> F:
    """Water level in metres above the gauge datum: varies slowly over days; base is its mean."""
    h = local_hour(t_ms)
    level = base + 0.3 * _slow(key, t_ms, 5.0) + 0.03 * np.sin(2.0 * np.pi * h / 24.0)
    return np.asarray(level + 0.005 * normal(key, t_ms), dtype=np.float64)


def temperature(t_ms: I64, base: F, key: U64) -> F:
    """Air temperature in °C: Zhengzhou's seasons (about 1 °C in January, 28 °C in July), warmest
    at 15:00, weather over days; base is the site's offset (shade, asphalt)."""
    day_of_year = (t_ms / DAY_MS) % 365.25
    season = 14.5 - 13.5 * np.cos(2.0 * np.pi * (day_of_year - 15.0) / 365.25)
    daily = 5.0 * np.cos(2.0 * np.pi * (local_hour(t_ms) - 15.0) / 24.0)
    return np.asarray(
        season + daily + base + 2.5 * _slow(key, t_ms, 4.0) + 0.3 * normal(key, t_ms), dtype=np.float64
    )


GENERATORS = {
    "camera": camera,
    "air": air,
    "noise": noise,
    "water": water,
    "traffic": traffic,
    "temperature": temperature,
}


def values(kind_code: npt.NDArray[np.int8], t_ms: I64, base: F, key: U64) -> F:
    """The reading of each (device, time), given as columns; clipped to each kind's physical range."""
    out = np.empty(len(t_ms), dtype=np.float64)
    for code, name in enumerate(KIND_NAMES):
        mask = kind_code == code
        if mask.any():
            kind = KINDS[name]
            raw = GENERATORS[name](t_ms[mask], base[mask], key[mask])
            out[mask] = np.clip(raw, kind.low, kind.high)
    return out
