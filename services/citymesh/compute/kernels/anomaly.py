"""anomaly_scan: rolling z-score anomalies per device over long series of readings.

The readings of device k are values[offsets[k]:offsets[k+1]], in time order. Reading i is scored
against the `window` readings before it of the same device: z = (x − mean) / max(std, min_std),
std the population standard deviation; it is an anomaly when |z| > threshold. A device's first
`window` readings are not scored. Outputs: `index` (positions in `values` of the anomalies, in
order), `z` (their scores) and `count` (anomalies per device).

The Numba kernel splits the scored readings into pieces (a device, or a part of a long one), run
in parallel, and each piece into four consecutive segments scored side by side in the four lanes
of a SIMD register (`simd.Vector`): 4 readings of each segment are loaded and transposed 4×4 in
registers, so that the window's running sums (of the readings shifted by one of the piece's, and
of their squares; recomputed exactly every few thousand readings: no drift over millions) are a
recurrence over vectors, with no branch. The readings leaving the window come back from a ring of
the transposed readings, in the cache. A reading is a candidate when t²·w²·var − w²·(x − mean)² is
negative (no division, no square root); the sign bits of 4 readings × 4 lanes are or-ed into one
4-bit mask. Every CHUNK readings per lane, the candidates (rare: 0.3–0.5% of normal readings at
the default threshold) are scored exactly, the floor min_std included, 4 (reading group, lane)
pairs at a time in the lanes of one register, from the sums saved before their group, while their
readings are in the cache; anomalies go to room reserved per lane (a second pass for a piece with
a lane with more than one in CAPACITY readings), in room kept between plans (`scratch`).

It reads each reading from memory once: the one leaving the window was read `window` readings
before and comes from the ring (a window of more than RING readings reads it from `values` again,
from the cache while the window fits there). Its speed is compared with the memory bandwidth,
counting 8 bytes per reading. Tolerance against the NumPy reference: z within relative 1e-6; the
same anomalies except where |z| is within 1e-6 of the threshold.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels import scratch
from citymesh.compute.kernels.jit import kernel, prange, routine, serial, threads
from citymesh.compute.kernels.simd import (
    Vector,
    fetch_add,
    fma,
    fma1,
    fms,
    fnma,
    greater,
    load4,
    lowest_bit,
    make4,
    quad,
    signs,
    splat,
    sqrt4,
    store4,
    vmax,
    vor,
)
from citymesh.compute.kernels.simd import (
    lane as lane_of,
)
from citymesh.compute.kernels.spec import ArrayInput, Arrays, Kernel, Param, Work, blocks
from citymesh.runtime.errors import InvalidArgument

MAX_READINGS = 200_000_000
MAX_DEVICES = 1_000_000
STEPS = 16
STEP_READINGS = 20_000_000
"""Readings per step at least (at most STEPS steps): few, long steps, each a parallel region that
waits for its slowest thread."""
LANES = 4
"""Segments of a piece scored side by side, one per lane of a SIMD register."""
PIECE = 1 << 20
"""Scored readings per piece at most: a long device is split so that both cores share it."""
CHUNK = 256
"""Readings per lane screened before the candidates among them are scored."""
REFRESH = 4096
"""Readings per lane between exact recomputations of the running sums (at least 16 windows)."""
CAPACITY = 64
"""Readings per slot reserved for an anomaly in the first pass (more in a lane: a second pass)."""
RING = 4096
"""Readings per lane that the ring of transposed readings holds at most (128 KiB); a longer window
reads the readings leaving it from `values` again."""


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
def _screen(
    x: Vector, o: Vector, s: Vector, ssw: Vector, w: Vector, nsw: Vector, t2: Vector
) -> tuple[Vector, Vector, Vector]:
    """One reading x of each lane, o the one leaving the window, s = Σx' and ssw = w·Σx'² the
    window's sums (x' = x − shift): t²·w²·var − w²·(x − mean)² (its sign bit flags a candidate; the
    floor min_std is left to the exact scoring: without it the screen flags a superset), and the
    sums moved on by one reading."""
    y = fma(w, x, nsw)  # w·x'
    u = y - s  # w·(x − mean)
    a = x - o
    return fms(t2, fnma(s, s, ssw), u * u), s + a, fma(a, y + fma(w, o, nsw), ssw)


@serial
def _screen4(
    x0: Vector, x1: Vector, x2: Vector, x3: Vector,
    o0: Vector, o1: Vector, o2: Vector, o3: Vector,
    s: Vector, ssw: Vector, w: Vector, nsw: Vector, t2: Vector,
) -> tuple[int, Vector, Vector]:  # fmt: skip
    """Four readings of each lane: the lanes with a candidate among them (4 bits), and the sums."""
    e0, s, ssw = _screen(x0, o0, s, ssw, w, nsw, t2)
    e1, s, ssw = _screen(x1, o1, s, ssw, w, nsw, t2)
    e2, s, ssw = _screen(x2, o2, s, ssw, w, nsw, t2)
    e3, s, ssw = _screen(x3, o3, s, ssw, w, nsw, t2)
    return signs(vor(vor(e0, e1), vor(e2, e3))), s, ssw


@serial
def _exact(
    x: Vector, o: Vector, s: Vector, ssw: Vector, w: Vector, nsw: Vector, t2: Vector, floor: Vector
) -> tuple[int, Vector, Vector, Vector, Vector]:
    """_screen scored exactly (the floor min_std included): the lanes where x is an anomaly (4
    bits), u = w·(x − mean) and v = w²·var, and the sums moved on; the same roundings as _screen."""
    y = fma(w, x, nsw)
    u = y - s
    v = fnma(s, s, ssw)
    a = x - o
    return greater(u * u, t2 * vmax(v, floor)), u, v, s + a, fma(a, y + fma(w, o, nsw), ssw)


@serial
def _spread(m: int) -> int:
    """Bits 0–3 of m moved to bits 0, 4, 8 and 12."""
    return (m | (m << 3) | (m << 6) | (m << 9)) & 0x1111


@serial
def _score(u: float, v: float, wmin: float) -> float:
    """z = u / max(√v, w·min_std), with u = w·(x − mean) and v = w²·var (±inf when both are 0)."""
    d = max(math.sqrt(max(v, 0.0)), wmin)
    if d > 0.0:
        return u / d
    return float(np.inf) if u > 0.0 else -float(np.inf)


@serial
def _scores(u: Vector, v: Vector, wmin: Vector) -> Vector:
    """_score lane by lane (a division by 0 gives ±inf: u ≠ 0 for an anomaly)."""
    return u / vmax(sqrt4(vmax(v, splat(0.0))), wmin)


@serial
def _ring_size(window: int) -> int:
    """Readings per lane of the ring: a power of 2 past window + 4 (a group's 4 stored first)."""
    size = 8
    while size < window + 8:
        size *= 2
    return size


@serial
def work_sizes(cap: int, window: int) -> tuple[int, int]:
    """Lengths of a thread's working arrays for pieces of at most `cap` anomalies: float64, int64."""
    size = _ring_size(window)
    return cap + 2 * CHUNK + 16 + (4 * size if size <= RING else 0), cap + LANES + CHUNK // 4 + CHUNK + 4


@routine
def _scan_piece(
    values: npt.NDArray[np.float64],
    lo: int,
    hi: int,
    window: int,
    threshold: float,
    min_std: float,
    slot: int,
    cap: int,
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
    work: npt.NDArray[np.float64],
    iwork: npt.NDArray[np.int64],
) -> int:
    """Score readings [lo, hi) of one device (lo at least `window` readings into it) as LANES
    consecutive segments; write its anomalies, in order, to index/z[slot:slot + cap] and return
    how many there are. Lane l collects its anomalies in its quarter of cap, joined at the end; a
    lane with more than its quarter makes the return value at least cap + 1 (the piece must be
    scored again with more room; what was written is void). `work`, `iwork`: the thread's working
    arrays, `work_sizes` long, reused from piece to piece."""
    seg = (hi - lo) // LANES
    vsteps = seg - seg % 4  # readings per lane in the vector loop; the rest one at a time
    shift = values[lo - window]
    wf = float(window)
    w = splat(wf)
    nsw = splat(-wf * shift)
    t2 = splat(threshold * threshold)
    floor = splat(wf * wf * min_std * min_std)
    wmin = wf * min_std
    wmins = splat(wmin)
    b0, b1, b2, b3 = lo, lo + seg, lo + 2 * seg, lo + 3 * seg
    quarter = cap // LANES
    size = _ring_size(window)  # the ring's readings per lane
    ringed = size <= RING
    rmask = size - 1
    last = 4 * size - 1
    lz = work[:cap]  # the piece's anomalies, lane by lane, until joined
    sums = work[cap : cap + 2 * CHUNK]  # per group of 4 readings per lane: s, then ssw, before it
    scores = work[cap + 2 * CHUNK : cap + 2 * CHUNK + 16]  # z of 4 readings × 4 events
    ring = work[cap + 2 * CHUNK + 16 :]
    lix = iwork[:cap]
    found = iwork[cap : cap + LANES]  # anomalies per lane
    found[:] = 0
    flagged = iwork[cap + LANES : cap + LANES + CHUNK // 4]  # groups with a candidate: g + (lanes << 16)
    events = iwork[cap + LANES + CHUNK // 4 :]  # candidate (group, lane) pairs: 4·group + lane
    if ringed and vsteps > 0:
        for j in range(-window, 0):
            ring[4 * (j & rmask)] = values[b0 + j]
            ring[4 * (j & rmask) + 1] = values[b1 + j]
            ring[4 * (j & rmask) + 2] = values[b2 + j]
            ring[4 * (j & rmask) + 3] = values[b3 + j]
    refresh = max(REFRESH, 16 * window)
    refresh -= refresh % CHUNK
    s = splat(0.0)
    ssw = splat(0.0)
    for p in range(0, vsteps, CHUNK):
        if p % refresh == 0:
            # The exact sums of the window before reading p of each lane, 4 lanes at once.
            s = splat(0.0)
            ss = splat(0.0)
            sh = splat(shift)
            for j in range(p - window, p - window % 4, 4):
                d0, d1, d2, d3 = quad(values, b0 + j, b1 + j, b2 + j, b3 + j)
                d0, d1, d2, d3 = d0 - sh, d1 - sh, d2 - sh, d3 - sh
                s = s + ((d0 + d1) + (d2 + d3))
                ss = fma(d0, d0, fma(d1, d1, fma(d2, d2, fma(d3, d3, ss))))
            for j in range(p - window % 4, p):
                d = make4(values[b0 + j], values[b1 + j], values[b2 + j], values[b3 + j]) - sh
                s = s + d
                ss = fma(d, d, ss)
            ssw = w * ss
        groups = min(CHUNK, vsteps - p) // 4
        nflagged = 0
        # Screening, 4 readings of each lane at a time: the sums before them saved, the readings
        # loaded and transposed, the readings leaving the window read back from a ring of the
        # transposed readings (stored first: with a window under 4, some of them are) or, for a
        # window longer than the ring, loaded and transposed again.
        if ringed:
            for g in range(groups):
                q = p + 4 * g
                store4(sums, 8 * g, s)
                store4(sums, 8 * g + 4, ssw)
                x0, x1, x2, x3 = quad(values, b0 + q, b1 + q, b2 + q, b3 + q)
                h = 4 * (q & rmask)
                store4(ring, h, x0)
                store4(ring, (h + 4) & last, x1)
                store4(ring, (h + 8) & last, x2)
                store4(ring, (h + 12) & last, x3)
                h = 4 * ((q - window) & rmask)
                o0 = load4(ring, h)
                o1 = load4(ring, (h + 4) & last)
                o2 = load4(ring, (h + 8) & last)
                o3 = load4(ring, (h + 12) & last)
                m, s, ssw = _screen4(x0, x1, x2, x3, o0, o1, o2, o3, s, ssw, w, nsw, t2)
                flagged[nflagged] = g + (m << 16)
                nflagged += m != 0
        else:
            for g in range(groups):
                q = p + 4 * g
                store4(sums, 8 * g, s)
                store4(sums, 8 * g + 4, ssw)
                x0, x1, x2, x3 = quad(values, b0 + q, b1 + q, b2 + q, b3 + q)
                o0, o1, o2, o3 = quad(
                    values, b0 + q - window, b1 + q - window, b2 + q - window, b3 + q - window
                )
                m, s, ssw = _screen4(x0, x1, x2, x3, o0, o1, o2, o3, s, ssw, w, nsw, t2)
                flagged[nflagged] = g + (m << 16)
                nflagged += m != 0
        # The candidates, as (group, lane) events (a branch-free list), 4 events at a time in the
        # lanes of one register (the transposed load takes any 4 rows), scored exactly.
        count = 0
        for f in range(nflagged):
            g = flagged[f] & 0xFFFF
            m = flagged[f] >> 16
            for lane in range(LANES):
                events[count] = 4 * g + lane
                count += (m >> lane) & 1
        for e in range(count, count + 3):
            events[e] = events[count - 1]  # a partial last batch repeats its last event
        for e0 in range(0, count, 4):
            k0, k1, k2, k3 = events[e0], events[e0 + 1], events[e0 + 2], events[e0 + 3]
            r0 = lo + (k0 & 3) * seg + p + 4 * (k0 >> 2)
            r1 = lo + (k1 & 3) * seg + p + 4 * (k1 >> 2)
            r2 = lo + (k2 & 3) * seg + p + 4 * (k2 >> 2)
            r3 = lo + (k3 & 3) * seg + p + 4 * (k3 >> 2)
            x0, x1, x2, x3 = quad(values, r0, r1, r2, r3)
            o0, o1, o2, o3 = quad(values, r0 - window, r1 - window, r2 - window, r3 - window)
            # The sums of event k = 4·g + lane are sums[8·g + lane] = sums[2·k − lane], then + 4.
            j0, j1, j2, j3 = 2 * k0 - (k0 & 3), 2 * k1 - (k1 & 3), 2 * k2 - (k2 & 3), 2 * k3 - (k3 & 3)
            sg = make4(sums[j0], sums[j1], sums[j2], sums[j3])
            sswg = make4(sums[j0 + 4], sums[j1 + 4], sums[j2 + 4], sums[j3 + 4])
            m0, u0, v0, sg, sswg = _exact(x0, o0, sg, sswg, w, nsw, t2, floor)
            m1, u1, v1, sg, sswg = _exact(x1, o1, sg, sswg, w, nsw, t2, floor)
            m2, u2, v2, sg, sswg = _exact(x2, o2, sg, sswg, w, nsw, t2, floor)
            m3, u3, v3, sg, sswg = _exact(x3, o3, sg, sswg, w, nsw, t2, floor)
            # Bit 4·e + t: event e's reading t, so that each lane's anomalies come in time order.
            bits = _spread(m0) | (_spread(m1) << 1) | (_spread(m2) << 2) | (_spread(m3) << 3)
            bits &= (1 << (4 * min(4, count - e0))) - 1
            store4(scores, 0, _scores(u0, v0, wmins))
            store4(scores, 4, _scores(u1, v1, wmins))
            store4(scores, 8, _scores(u2, v2, wmins))
            store4(scores, 12, _scores(u3, v3, wmins))
            while bits:
                bit = lowest_bit(bits)
                bits &= bits - 1
                e = bit >> 2
                t = bit & 3
                k = events[e0 + e]
                row = lo + (k & 3) * seg + p + 4 * (k >> 2)
                lane = k & 3
                c = found[lane]
                if c < quarter:  # written here, not by a helper: a call passing arrays counts references
                    lix[lane * quarter + c] = row + t
                    lz[lane * quarter + c] = scores[4 * t + e]
                found[lane] = c + 1
    # The rest of each lane (and the last lane's remainder), one reading at a time.
    nswf = -wf * shift
    t2f = threshold * threshold
    floorf = wf * wf * min_std * min_std
    for lane in range(LANES):
        a0 = lo + lane * seg + vsteps
        a1 = lo + (lane + 1) * seg if lane < LANES - 1 else hi
        if a0 >= a1:
            continue
        if vsteps > 0:  # the lane's sums where the vector loop left them
            sl, ql = lane_of(s, lane), lane_of(ssw, lane)
        else:
            sl, qq = _window_sums(values, a0, window, shift)
            ql = wf * qq
        for i in range(a0, a1):
            x = values[i]
            o = values[i - window]
            y = fma1(wf, x, nswf)
            ul = y - sl
            vl = fma1(-sl, sl, ql)
            if ul * ul > t2f * max(vl, floorf):
                c = found[lane]
                if c < quarter:
                    lix[lane * quarter + c] = i
                    lz[lane * quarter + c] = _score(ul, vl, wmin)
                found[lane] = c + 1
            d = x - o
            sl += d
            ql = fma1(d, y + fma1(wf, o, nswf), ql)
    total = 0
    for lane in range(LANES):
        if found[lane] > quarter:
            return max(int(found.sum()), cap + 1)
        for m in range(found[lane]):  # join the quarters (moving down: no overlap ahead)
            index[slot + total + m] = lix[lane * quarter + m]
            z[slot + total + m] = lz[lane * quarter + m]
        total += found[lane]
    return total


@kernel()
def _scan_pieces(
    values: npt.NDArray[np.float64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    p0: int,
    p1: int,
    window: int,
    threshold: float,
    min_std: float,
    slots: npt.NDArray[np.int64],
    caps: npt.NDArray[np.int64],
    hits: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    z: npt.NDArray[np.float64],
    nthreads: int,
) -> None:
    """Score pieces [p0, p1) on `nthreads` threads, each taking the next piece when done with one
    (a thread slowed by other work on its core takes fewer, rather than holding the others up)."""
    taken = np.zeros(1, dtype=np.int64)
    most = 0
    for p in range(p0, p1):
        most = max(most, caps[p])
    nf, ni = work_sizes(most, window)
    for _ in prange(nthreads):
        work = np.empty(nf)  # the thread's working arrays, for all its pieces
        iwork = np.empty(ni, dtype=np.int64)
        while True:
            p = p0 + fetch_add(taken, 0, 1)
            if p >= p1:
                break
            hits[p] = _scan_piece(
                values, lo[p], hi[p], window, threshold, min_std, slots[p], caps[p], index, z, work, iwork
            )


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
    """Copy each piece's anomalies (pieces are in order) to the outputs: the outputs are fresh
    memory, whose page faults are most of the cost, shared by the cores."""
    for k in prange(slots.size):
        h = hits[k]
        index[at[k] : at[k] + h] = index_tmp[slots[k] : slots[k] + h]
        z[at[k] : at[k] + h] = z_tmp[slots[k] : slots[k] + h]


def pieces(offsets: npt.NDArray[np.int64], window: int) -> tuple[npt.NDArray[np.int64], ...]:
    """The scored readings of every device as pieces of at most PIECE: (lo, hi, device) per piece."""
    first = offsets[:-1] + window
    scored = np.maximum(offsets[1:] - first, 0)
    parts = -(-scored // PIECE)
    device = np.repeat(np.arange(len(scored), dtype=np.int64), parts)
    j = np.arange(len(device), dtype=np.int64) - (np.cumsum(parts) - parts)[device]
    n, k = scored[device], parts[device]
    return first[device] + n * j // k, first[device] + n * (j + 1) // k, device


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
        self.lo, self.hi, self.device = pieces(offsets, self.window)
        # Room for one anomaly in CAPACITY readings (and 4) per lane of a piece, each lane's
        # written from its start (only the pages written to are ever touched); a piece with a lane
        # with more is scored again with room for all of them (their count is known by then).
        self.caps = (LANES * ((self.hi - self.lo) // (LANES * CAPACITY) + 4)).astype(np.int64)
        self.slots = np.cumsum(self.caps) - self.caps
        room = int(self.caps.sum())
        self.index_tmp, self.z_tmp = scratch.take((room,), np.int64), scratch.take((room,), np.float64)
        self.hits = np.zeros(len(self.lo), dtype=np.int64)
        most = max(1, min(STEPS, int((self.hi - self.lo).sum()) // STEP_READINGS))
        self.parts = blocks(len(self.lo), most) if len(self.lo) else []
        self.steps = len(self.parts)

    def _scan(self, p0: int, p1: int, slots: npt.NDArray[np.int64], caps: npt.NDArray[np.int64],
              index: npt.NDArray[np.int64], z: npt.NDArray[np.float64]) -> None:  # fmt: skip
        _scan_pieces(
            self.values, self.lo, self.hi, p0, p1, self.window, self.threshold, self.min_std,
            slots, caps, self.hits, index, z, threads(),
        )  # fmt: skip

    def step(self, i: int) -> None:
        p0, p1 = self.parts[i]
        self._scan(p0, p1, self.slots, self.caps, self.index_tmp, self.z_tmp)

    def outputs(self) -> Arrays:
        over = np.flatnonzero(self.hits > self.caps)
        if len(over):  # rare: pieces with a lane with more anomalies than its room, scored again
            caps = self.caps.copy()
            caps[over] = LANES * self.hits[over]
            slots = np.cumsum(caps) - caps
            index_tmp, z_tmp = np.empty(int(caps.sum()), dtype=np.int64), np.empty(int(caps.sum()))
            kept = np.where(self.hits > self.caps, 0, self.hits)
            _gather(self.slots, kept, slots, self.index_tmp, self.z_tmp, index_tmp, z_tmp)
            for k in over.tolist():
                self._scan(k, k + 1, slots, caps, index_tmp, z_tmp)
            scratch.give(self.index_tmp)
            scratch.give(self.z_tmp)
            self.slots, self.caps, self.index_tmp, self.z_tmp = slots, caps, index_tmp, z_tmp
        at = np.cumsum(self.hits) - self.hits
        total = int(self.hits.sum())
        index = np.empty(total, dtype=np.int64)
        z = np.empty(total)
        _gather(self.slots, self.hits, at, self.index_tmp, self.z_tmp, index, z)
        scratch.give(self.index_tmp)  # this plan is done with its room
        scratch.give(self.z_tmp)
        count = np.bincount(self.device, weights=self.hits, minlength=self.devices).astype(np.int64)
        return {"index": index, "z": z, "count": count}

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
        with np.errstate(divide="ignore", invalid="ignore"):  # a flat window without a floor: ±inf, or nan
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
