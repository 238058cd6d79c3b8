"""anomaly_scan: rolling z-score anomalies per device over long series of readings.

The readings of device k are values[offsets[k]:offsets[k+1]], in time order. Reading i is scored
against the `window` readings before it of the same device: z = (x − mean) / max(std, min_std),
std the population standard deviation; it is an anomaly when |z| > threshold. A device's first
`window` readings are not scored. Outputs: `index` (positions in `values` of the anomalies, in
order), `z` (their scores) and `count` (anomalies per device).

The Numba kernel keeps running sums of the window, shifted by the device's first reading and
recomputed exactly every few thousand readings (no drift over millions), compares (x − mean)² with
threshold²·var so that no reading needs a division or a square root, and computes z only for the
(rare) anomalies, while their window is in the cache, writing them to room reserved per segment. It reads each reading once, so
its speed is compared with the memory bandwidth. Tolerance against the NumPy reference: z within
relative 1e-6; the same anomalies except where |z| is within 1e-6 of the threshold.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import FAST, kernel, prange, serial
from citymesh.compute.kernels.spec import ArrayInput, Arrays, Kernel, Param, Work, blocks
from citymesh.runtime.errors import InvalidArgument

MAX_READINGS = 200_000_000
MAX_DEVICES = 1_000_000
STEPS = 16
REFRESH = 4096
"""Readings between exact recomputations of the running sums."""
LANES = 4
"""Segments of a device's series scored side by side."""
CAPACITY = 32
"""Readings per slot reserved for an anomaly in the first pass (more in a lane: a second pass)."""


@serial
def _window_sums(values: npt.NDArray[np.float64], i: int, window: int, shift: float) -> tuple[float, float]:
    """Exact sum and sum of squares of the `window` shifted readings before i."""
    s = 0.0
    ss = 0.0
    for m in range(i - window, i):
        d = values[m] - shift
        s += d
        ss += d * d
    return s, ss


@serial
def _score(
    values: npt.NDArray[np.float64],
    i: int,
    window: int,
    shift: float,
    s: float,
    ss: float,
    inv_w: float,
    t2: float,
    floor: float,
    min_std: float,
    slot: int,
    cap: int,
    hits: int,
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
) -> tuple[float, float, int]:
    """Score reading i: the window's sums moved on by one, and the lane's count of anomalies
    (each written to index/z at slot + count while the lane's capacity lasts)."""
    mean = s * inv_w
    var = max(ss * inv_w - mean * mean, floor)
    d = values[i] - shift
    dev = d - mean
    if dev * dev > t2 * var:
        if hits < cap:
            index[slot + hits] = i
            z[slot + hits] = dev / max(np.sqrt(max(ss * inv_w - mean * mean, 0.0)), min_std)
        hits += 1
    old = values[i - window] - shift
    return s + (d - old), ss + (d * d - old * old), hits


@serial
def _score_view(
    view: npt.NDArray[np.float64],
    q: int,
    base: int,
    window: int,
    shift: float,
    s: float,
    ss: float,
    inv_w: float,
    t2: float,
    floor: float,
    min_std: float,
    slot: int,
    cap: int,
    hits: int,
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
) -> tuple[float, float, int]:
    """_score of reading base + q, on a view starting `window` readings before base."""
    mean = s * inv_w
    var = max(ss * inv_w - mean * mean, floor)
    d = view[q + window] - shift
    dev = d - mean
    if dev * dev > t2 * var:
        if hits < cap:
            index[slot + hits] = base + q
            z[slot + hits] = dev / max(np.sqrt(max(ss * inv_w - mean * mean, 0.0)), min_std)
        hits += 1
    old = view[q] - shift
    return s + (d - old), ss + (d * d - old * old), hits


@kernel(fastmath=FAST)
def _scan_devices(
    values: npt.NDArray[np.float64],
    offsets: npt.NDArray[np.int64],
    dev0: int,
    dev1: int,
    window: int,
    threshold: float,
    min_std: float,
    slots: npt.NDArray[np.int64],
    caps: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
    hits: npt.NDArray[np.int64],
) -> None:
    """Score devices [dev0, dev1): each as LANES interleaved segments (independent chains of
    running sums keep the floating-point units busy where one chain would wait on each addition);
    lane l of device k writes its anomalies from slots[k, l], at most caps[k, l], and counts all
    of them in hits[k, l]."""
    inv_w = 1.0 / window
    t2 = threshold * threshold
    floor = min_std * min_std
    refresh = max(REFRESH, 16 * window)
    for kk in prange(dev1 - dev0):
        k = dev0 + kk
        start = offsets[k]
        end = offsets[k + 1]
        first = start + window
        h0 = 0
        h1 = 0
        h2 = 0
        h3 = 0
        if end > first:
            shift = values[start]
            seg = lane_length(end - first)
            c0, c1, c2, c3 = caps[k, 0], caps[k, 1], caps[k, 2], caps[k, 3]
            o0, o1, o2, o3 = slots[k, 0], slots[k, 1], slots[k, 2], slots[k, 3]
            p = 0
            while p < seg:
                blk = min(refresh, seg - p)
                i0 = first + p
                i1 = i0 + seg
                i2 = i1 + seg
                i3 = i2 + seg
                if i3 + blk <= end:
                    s0, ss0 = _window_sums(values, i0, window, shift)
                    s1, ss1 = _window_sums(values, i1, window, shift)
                    s2, ss2 = _window_sums(values, i2, window, shift)
                    s3, ss3 = _window_sums(values, i3, window, shift)
                    # Views from each lane's window start: indices from a range are known to be
                    # non-negative, so no wrap-around test on each load.
                    v0 = values[i0 - window : i0 + blk]
                    v1 = values[i1 - window : i1 + blk]
                    v2 = values[i2 - window : i2 + blk]
                    v3 = values[i3 - window : i3 + blk]
                    for q in range(blk):
                        s0, ss0, h0 = _score_view(
                            v0, q, i0, window, shift, s0, ss0, inv_w, t2, floor, min_std, o0, c0, h0, index, z
                        )
                        s1, ss1, h1 = _score_view(
                            v1, q, i1, window, shift, s1, ss1, inv_w, t2, floor, min_std, o1, c1, h1, index, z
                        )
                        s2, ss2, h2 = _score_view(
                            v2, q, i2, window, shift, s2, ss2, inv_w, t2, floor, min_std, o2, c2, h2, index, z
                        )
                        s3, ss3, h3 = _score_view(
                            v3, q, i3, window, shift, s3, ss3, inv_w, t2, floor, min_std, o3, c3, h3, index, z
                        )
                else:  # the last lane is shorter: one lane at a time
                    for lane in range(LANES):
                        a = i0 + lane * seg
                        b = min(a + blk, end)
                        if a >= b:
                            continue
                        s, ss = _window_sums(values, a, window, shift)
                        h = (h0, h1, h2, h3)[lane]
                        for i in range(a, b):
                            s, ss, h = _score(
                                values, i, window, shift, s, ss, inv_w, t2, floor, min_std,
                                slots[k, lane], caps[k, lane], h, index, z,
                            )  # fmt: skip
                        if lane == 0:
                            h0 = h
                        elif lane == 1:
                            h1 = h
                        elif lane == 2:
                            h2 = h
                        else:
                            h3 = h
                p += blk
        hits[k, 0] = h0
        hits[k, 1] = h1
        hits[k, 2] = h2
        hits[k, 3] = h3


@kernel()
def _gather(
    slots: npt.NDArray[np.int64],
    hits: npt.NDArray[np.int64],
    at: npt.NDArray[np.int64],
    index_tmp: npt.NDArray[np.int64],
    z_tmp: npt.NDArray[np.float64],
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
) -> None:
    """Copy each lane's anomalies (in order: lanes are consecutive segments) to the outputs."""
    for k in prange(slots.shape[0]):
        for lane in range(LANES):
            for m in range(hits[k, lane]):
                index[at[k, lane] + m] = index_tmp[slots[k, lane] + m]
                z[at[k, lane] + m] = z_tmp[slots[k, lane] + m]


@serial
def lane_length(n: int) -> int:
    return (n + LANES - 1) // LANES


class AnomalyPlan:
    def __init__(
        self, values: npt.NDArray[np.float64], offsets: npt.NDArray[np.int64], params: dict[str, float]
    ) -> None:
        self.values = values
        self.offsets = offsets
        self.window = int(params["window"])
        self.threshold = params["threshold"]
        self.min_std = params["min_std"]
        self.devices = len(offsets) - 1
        # Room for one anomaly in CAPACITY readings per lane; a lane with more is scored again
        # with room for all of them (its count is known by then).
        scored = np.maximum(np.diff(offsets) - self.window, 0)
        seg = (scored + LANES - 1) // LANES
        lane = np.minimum(
            np.maximum(scored[:, None] - np.arange(LANES)[None, :] * seg[:, None], 0), seg[:, None]
        )
        self.caps = (lane // CAPACITY + (lane > 0) * 4).astype(np.int64)
        self.slots = (np.cumsum(self.caps.ravel()) - self.caps.ravel()).reshape(self.devices, LANES)
        room = int(self.caps.sum())
        self.index_tmp = np.empty(room, dtype=np.int64)
        self.z_tmp = np.empty(room)
        self.hits = np.zeros((self.devices, LANES), dtype=np.int64)
        self.parts = blocks(self.devices, STEPS) if self.devices else []
        self.steps = len(self.parts)

    def _scan(self, dev0: int, dev1: int, slots: npt.NDArray[np.int64], caps: npt.NDArray[np.int64],
              index: npt.NDArray[np.int64], z: npt.NDArray[np.float64]) -> None:  # fmt: skip
        _scan_devices(
            self.values, self.offsets, dev0, dev1, self.window, self.threshold, self.min_std,
            slots, caps, index, z, self.hits,
        )  # fmt: skip

    def step(self, i: int) -> None:
        dev0, dev1 = self.parts[i]
        self._scan(dev0, dev1, self.slots, self.caps, self.index_tmp, self.z_tmp)

    def outputs(self) -> Arrays:
        over = np.flatnonzero((self.hits > self.caps).any(axis=1))
        if len(over):  # rare: lanes with more anomalies than their room, scored again with room for all
            caps = self.caps.copy()
            caps[over] = self.hits[over]
            slots = (np.cumsum(caps.ravel()) - caps.ravel()).reshape(self.devices, LANES)
            room = int(caps.sum())
            index_tmp, z_tmp = np.empty(room, dtype=np.int64), np.empty(room)
            _gather(
                self.slots,
                np.minimum(self.hits, self.caps),
                slots,
                self.index_tmp,
                self.z_tmp,
                index_tmp,
                z_tmp,
            )
            for k in over.tolist():
                self._scan(k, k + 1, slots, caps, index_tmp, z_tmp)
            self.slots, self.caps, self.index_tmp, self.z_tmp = slots, caps, index_tmp, z_tmp
        flat = self.hits.ravel()
        at = (np.cumsum(flat) - flat).reshape(self.devices, LANES)
        total = int(flat.sum())
        index = np.empty(total, dtype=np.int64)
        z = np.empty(total)
        _gather(self.slots, self.hits, at, self.index_tmp, self.z_tmp, index, z)
        return {"index": index, "z": z, "count": self.hits.sum(axis=1).astype(np.int64)}

    def reference(self) -> Arrays:
        v, off, w = self.values, self.offsets, self.window
        n = len(v)
        device = np.repeat(np.arange(self.devices), np.diff(off))
        shifted = v - v[off[:-1]][device] if n else v.copy()
        c1 = np.concatenate(([0.0], np.cumsum(shifted)))
        c2 = np.concatenate(([0.0], np.cumsum(shifted * shifted)))
        position = np.arange(n) - off[:-1][device] if n else np.zeros(0, dtype=np.int64)
        scored = np.flatnonzero(position >= w)
        s = c1[scored] - c1[scored - w]
        ss = c2[scored] - c2[scored - w]
        mean = s / w
        std = np.sqrt(np.maximum(ss / w - mean * mean, 0.0))
        z = (shifted[scored] - mean) / np.maximum(std, self.min_std)
        hit = np.abs(z) > self.threshold
        index = scored[hit].astype(np.int64)
        count = np.bincount(device[index], minlength=self.devices).astype(np.int64)
        return {"index": index, "z": z[hit], "count": count}

    def work(self) -> Work:
        n = float(len(self.values))
        return Work(flops=10.0 * n, bytes=8.0 * n)


def build(arrays: Arrays, params: dict[str, float]) -> AnomalyPlan:
    values = arrays["values"]
    n = len(values)
    if n > MAX_READINGS:
        from citymesh.runtime.errors import ResourceExhausted

        raise ResourceExhausted(f"anomaly_scan: {n:,} readings; the limit is {MAX_READINGS:,}")
    offsets = arrays.get("offsets")
    if offsets is None:
        offsets = np.array([0, n], dtype=np.int64)
    if len(offsets) < 1:
        raise InvalidArgument("anomaly_scan: offsets needs at least one element (0 devices: [0])")
    if len(offsets) - 1 > MAX_DEVICES:
        raise InvalidArgument(f"anomaly_scan: {len(offsets) - 1:,} devices; the limit is {MAX_DEVICES:,}")
    if offsets[0] != 0 or offsets[-1] != n:
        raise InvalidArgument(
            f"anomaly_scan: offsets must start at 0 and end at len(values) = {n} "
            f"(they run from {offsets[0]} to {offsets[-1]})"
        )
    if np.any(np.diff(offsets) < 0):
        bad = int(np.flatnonzero(np.diff(offsets) < 0)[0])
        raise InvalidArgument(
            f"anomaly_scan: offsets must not decrease (offsets[{bad + 1}] < offsets[{bad}])"
        )
    return AnomalyPlan(values, offsets, params)


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    n = max(2, round(20_000_000 * scale))
    devices = max(1, min(500, n // 200))
    values = rng.standard_normal(n) * 4.0 + 35.0
    spikes = rng.choice(n, size=max(1, n // 10_000), replace=False)
    values[spikes] += rng.choice([-40.0, 40.0], size=len(spikes))
    offsets = np.linspace(0, n, devices + 1).round().astype(np.int64)
    return {"values": values, "offsets": offsets}, {}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    devices = len(arrays["offsets"]) - 1 if "offsets" in arrays else 1
    return f"{len(arrays['values']):,} readings × {devices} devices"


KERNEL = Kernel(
    name="anomaly_scan",
    summary="Rolling mean/std z-score anomalies per device over long series of readings.",
    params=(
        Param("window", "int", 60, 2, 100_000, "Readings before each one that it is scored against."),
        Param("threshold", "float", 3.0, 0.1, 1000.0, "An anomaly is |z| above this."),
        Param("min_std", "float", 1e-9, 0.0, 1e9, "Standard deviations below this count as this."),
    ),
    inputs=(
        ArrayInput("values", "float64", 1, "Readings of every device, each device's in time order."),
        ArrayInput(
            "offsets",
            "int64",
            1,
            "Device k's readings are values[offsets[k]:offsets[k+1]]; default: one device.",
            required=False,
        ),
    ),
    outputs=("index", "z", "count"),
    bound="bytes",
    max_elements=MAX_READINGS + MAX_DEVICES + 1,
    build=build,
    example=example,
    size=size,
    notes="index: int64 [m], z: float64 [m], count: int64 [devices]. Tolerance vs. NumPy: z relative 1e-6.",
)
