"""density_heatmap: crowd density from camera detections, 2-D binning and a separable Gaussian blur.

Each detection adds its weight (1 by default) to the cell holding it (column
⌊(x − x0)·(1/cell_m)⌋, row likewise) (detections outside the grid
are left out); the counts are then blurred by a normalised Gaussian of `sigma_cells`, truncated at
3σ, rows then columns, with zero beyond the grid's edges (mass leaving the grid is lost).

Binning runs in parallel, each thread into its own grid (no atomics; int32 counts when there are
no weights; grids kept between plans, `scratch`), finding the cells of a chunk of detections
(vectorised: int32 conversions) before adding to them; threads take shares of the detections from
an atomic counter. The blur sums the threads' grids and does both passes at once, band by band
(taken from a counter), through a ring of row-blurred rows in the core's cache (no grid in
between); each output cell is summed over the taps in a register, 16 cells at a time (`simd`), using
the taps' symmetry. Tolerance against the NumPy reference: relative 1e-12 of the largest cell.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels import scratch
from citymesh.compute.kernels.jit import kernel, prange, serial, threads
from citymesh.compute.kernels.simd import fetch_add, fma, load4, splat, store4
from citymesh.compute.kernels.spec import (
    ArrayInput,
    Arrays,
    Grid,
    Kernel,
    Param,
    Work,
    blocks,
    check_cells,
    grid_params,
    same_length,
    scaled_side,
)
from citymesh.runtime.errors import ResourceExhausted

MAX_CELLS = 25_000_000
MAX_DETECTIONS = 100_000_000
ROW_STEPS = 8
STEP_CELLS = 4_000_000
"""Cells per blur step at least (at most ROW_STEPS steps): few, long steps, each a parallel region
that waits for its slowest thread."""
CHUNK = 2048
"""Detections whose cells are found together before they are added."""
SHARE = 1 << 16
"""Detections a thread takes at a time (its next share once done: threads share the work unevenly
when one is slowed by other work on its core)."""
BAND = 64
"""Rows of a blur band at least (a thread takes the next band once done with one)."""


def gaussian(sigma: float) -> npt.NDArray[np.float64]:
    """The normalised taps of a Gaussian truncated at 3σ (one tap of 1 when sigma is 0)."""
    if sigma == 0:
        return np.ones(1)
    radius = math.ceil(3.0 * sigma)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (k / sigma) ** 2)
    normalised: npt.NDArray[np.float64] = taps / taps.sum()
    return normalised


@serial
def _add(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    ws: npt.NDArray[np.float64],
    lo: int,
    hi: int,
    x0: float,
    y0: float,
    inv: float,
    ny: int,
    nx: int,
    mine: npt.NDArray[np.float64],
) -> None:
    """Detections [lo, hi) added to `mine` with their weights, CHUNK at a time: their cells found
    first (vectorised), then added to: a loop of nothing but those additions keeps many of them
    (each a miss in the core's own cache) in flight."""
    cells = np.empty(CHUNK, dtype=np.int32)
    for m0 in range(lo, hi, CHUNK):
        some = min(CHUNK, hi - m0)
        # Inlined here rather than called per chunk: a call passing arrays costs reference counts.
        fny = float(ny)
        fnx = float(nx)
        width = np.int32(nx)
        for q in range(some):
            fy = (ys[m0 + q] - y0) * inv
            fx = (xs[m0 + q] - x0) * inv
            inside = (fy >= 0.0) & (fy < fny) & (fx >= 0.0) & (fx < fnx)
            i = np.int32(fy if inside else 0.0)
            j = np.int32(fx if inside else 0.0)
            cells[q] = i * width + j if inside else np.int32(-1)
        for q in range(some):
            if cells[q] >= 0:
                mine[cells[q]] += ws[m0 + q]


@serial
def _add_ones(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    lo: int,
    hi: int,
    x0: float,
    y0: float,
    inv: float,
    ny: int,
    nx: int,
    mine: npt.NDArray[np.int32],
) -> None:
    """_add with every weight 1, into int32 counts."""
    cells = np.empty(CHUNK, dtype=np.int32)
    for m0 in range(lo, hi, CHUNK):
        some = min(CHUNK, hi - m0)
        fny = float(ny)
        fnx = float(nx)
        width = np.int32(nx)
        for q in range(some):
            fy = (ys[m0 + q] - y0) * inv
            fx = (xs[m0 + q] - x0) * inv
            inside = (fy >= 0.0) & (fy < fny) & (fx >= 0.0) & (fx < fnx)
            i = np.int32(fy if inside else 0.0)
            j = np.int32(fx if inside else 0.0)
            cells[q] = i * width + j if inside else np.int32(-1)
        for q in range(some):
            if cells[q] >= 0:
                mine[cells[q]] += 1


@kernel()
def _bin(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    ws: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    partial: npt.NDArray[np.float64],
) -> None:
    # Each thread bins its share of the detections into its own grid: no atomics. The grids are
    # summed while the blur reads them (no pass of its own).
    nthreads, ny, nx = partial.shape
    n = xs.size
    flat = partial.reshape(nthreads, ny * nx)
    taken = np.zeros(1, dtype=np.int64)
    for t in prange(nthreads):
        mine = flat[t]
        for c in range(ny * nx):
            mine[c] = 0.0
        while True:  # the next share of detections, while there is one: a slowed thread takes fewer
            m0 = fetch_add(taken, 0, SHARE)
            if m0 >= n:
                break
            _add(xs, ys, ws, m0, min(n, m0 + SHARE), x0, y0, 1.0 / cell, ny, nx, mine)


@kernel()
def _count(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    partial: npt.NDArray[np.int32],
) -> None:
    # _bin without weights: every detection counts 1, into grids of int32 (exact: a thread counts
    # at most MAX_DETECTIONS < 2**31), half the size of float64 ones, so more of them stays cached.
    nthreads, ny, nx = partial.shape
    n = xs.size
    flat = partial.reshape(nthreads, ny * nx)
    taken = np.zeros(1, dtype=np.int64)
    for t in prange(nthreads):
        mine = flat[t]
        for c in range(ny * nx):
            mine[c] = 0
        while True:
            m0 = fetch_add(taken, 0, SHARE)
            if m0 >= n:
                break
            _add_ones(xs, ys, m0, min(n, m0 + SHARE), x0, y0, 1.0 / cell, ny, nx, mine)


@kernel()
def _blur(
    partial: npt.NDArray[np.float64] | npt.NDArray[np.int32],
    taps: npt.NDArray[np.float64],
    row0: int,
    row1: int,
    dst: npt.NDArray[np.float64],
) -> None:
    # Both passes at once: the rows of [row0, row1) are split into bands, which the threads take
    # in turn; a thread blurs the rows a band needs along the rows (the per-thread grids summed)
    # into a ring of 2r + 1 rows in its own cache, and writes each output row as the column blur
    # of the ring: no grid in between. The r rows on either side of a band are blurred along twice
    # (for it and for its neighbour), a small price for never writing the first pass out. Each
    # output cell is summed in a register over all the taps, 4 cells per SIMD register (one load
    # per tap and cell, one store per cell); the taps are symmetric (gaussian()): taps[k] =
    # taps[2r − k], so pairs of cells or rows share a multiply.
    nthreads, ny, nx = partial.shape
    r = taps.size // 2
    span = 2 * r + 1
    width = nx + (-nx) % 16  # a ring row: whole blocks of 4 vectors
    out = dst.reshape(ny * nx)
    bands = max(1, min(4 * nthreads, (row1 - row0) // BAND))
    taken = np.zeros(1, dtype=np.int64)
    for _ in prange(nthreads):
        ring = np.zeros((span + 1) * width)  # the last row stays zero: rows beyond the grid
        pad = np.zeros(width + 2 * r)  # a row with r zeros either side (and up to 15 after)
        rows = np.empty(2 * r, dtype=np.int64)
        while True:  # the next band of rows, while there is one
            p = fetch_add(taken, 0, 1)
            if p >= bands:
                break
            a = row0 + (row1 - row0) * p // bands
            b = row0 + (row1 - row0) * (p + 1) // bands
            _band(partial, taps, a, b, ring, pad, rows, out)


@serial
def _band(
    partial: npt.NDArray[np.float64] | npt.NDArray[np.int32],
    taps: npt.NDArray[np.float64],
    a: int,
    b: int,
    ring: npt.NDArray[np.float64],
    pad: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:
    """Output rows [a, b) of the blur (see _blur), with a thread's ring, padded row and offsets."""
    nthreads, ny, nx = partial.shape
    r = taps.size // 2
    span = 2 * r + 1
    width = nx + (-nx) % 16
    for src in range(max(0, a - r), min(ny, b + r)):
        # Row src blurred along the rows, into ring slot src % span.
        for j in range(nx):
            pad[j + r] = partial[0, src, j]
        for t in range(1, nthreads):
            for j in range(nx):
                pad[j + r] += partial[t, src, j]
        at = (src % span) * width
        for j in range(0, width, 16):  # 16 cells at a time: a tap's broadcast serves 4 vectors
            g = splat(taps[r])
            c0 = g * load4(pad, j + r)
            c1 = g * load4(pad, j + 4 + r)
            c2 = g * load4(pad, j + 8 + r)
            c3 = g * load4(pad, j + 12 + r)
            for k in range(r):
                g = splat(taps[k])
                m = j + 2 * r - k
                c0 = fma(g, load4(pad, j + k) + load4(pad, m), c0)
                c1 = fma(g, load4(pad, j + 4 + k) + load4(pad, m + 4), c1)
                c2 = fma(g, load4(pad, j + 8 + k) + load4(pad, m + 8), c2)
                c3 = fma(g, load4(pad, j + 12 + k) + load4(pad, m + 12), c3)
            store4(ring, at + j, c0)
            store4(ring, at + j + 4, c1)
            store4(ring, at + j + 8, c2)
            store4(ring, at + j + 12, c3)
        # Output row i = src − r now has every row it needs.
        i = src - r
        if i >= a:
            _column(ring, taps, i, ny, nx, width, rows, out)
    for i in range(max(a, min(ny, b + r) - r), b):
        _column(ring, taps, i, ny, nx, width, rows, out)


@serial
def _column(
    ring: npt.NDArray[np.float64],
    taps: npt.NDArray[np.float64],
    i: int,
    ny: int,
    nx: int,
    width: int,
    rows: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:
    """Output row i (out[i·nx:(i + 1)·nx]): the column blur of the row-blurred rows i − r … i + r
    held in the ring (row `row % span`, `width` apart; the ring's last row, all zeros, for rows
    beyond the grid). `rows`: room for 2r offsets."""
    r = taps.size // 2
    span = 2 * r + 1
    mid = (i % span) * width
    for k in range(r):
        lo = i - r + k
        hi = i + r - k
        rows[2 * k] = (lo % span if lo >= 0 else span) * width
        rows[2 * k + 1] = (hi % span if hi < ny else span) * width
    blocks16 = nx - nx % 16
    o = i * nx
    for j in range(0, blocks16, 16):  # 16 cells at a time: a tap's broadcast serves 4 vectors
        g = splat(taps[r])
        c0 = g * load4(ring, mid + j)
        c1 = g * load4(ring, mid + j + 4)
        c2 = g * load4(ring, mid + j + 8)
        c3 = g * load4(ring, mid + j + 12)
        for k in range(r):
            g = splat(taps[k])
            u = rows[2 * k] + j
            v = rows[2 * k + 1] + j
            c0 = fma(g, load4(ring, u) + load4(ring, v), c0)
            c1 = fma(g, load4(ring, u + 4) + load4(ring, v + 4), c1)
            c2 = fma(g, load4(ring, u + 8) + load4(ring, v + 8), c2)
            c3 = fma(g, load4(ring, u + 12) + load4(ring, v + 12), c3)
        store4(out, o + j, c0)
        store4(out, o + j + 4, c1)
        store4(out, o + j + 8, c2)
        store4(out, o + j + 12, c3)
    whole = nx - nx % 4
    for j in range(blocks16, whole, 4):
        acc = splat(taps[r]) * load4(ring, mid + j)
        for k in range(r):
            acc = fma(splat(taps[k]), load4(ring, rows[2 * k] + j) + load4(ring, rows[2 * k + 1] + j), acc)
        store4(out, o + j, acc)
    for j in range(whole, nx):  # the last cells of the row, one at a time
        acc1 = taps[r] * ring[mid + j]
        for k in range(r):
            acc1 += taps[k] * (ring[rows[2 * k] + j] + ring[rows[2 * k + 1] + j])
        out[o + j] = acc1


class DensityPlan:
    def __init__(self, arrays: Arrays, params: dict[str, float]) -> None:
        self.x, self.y = arrays["x"], arrays["y"]
        # Without weights every detection counts 1: the kernel counts in int32 and reads no
        # weights (the reference adds these ones).
        self.weighted = "weight" in arrays
        self.weight = arrays["weight"] if self.weighted else np.ones(len(self.x))
        self.grid = Grid.of(params)
        self.taps = gaussian(params["sigma_cells"])
        shape = (self.grid.ny, self.grid.nx)
        self.partial = scratch.take((threads(), *shape), np.float64 if self.weighted else np.int32)
        self.density = np.empty(shape)
        self.rows = blocks(self.grid.ny, max(1, min(ROW_STEPS, self.grid.cells // STEP_CELLS)))
        self.steps = 1 + len(self.rows)

    def step(self, i: int) -> None:
        g = self.grid
        if i == 0:
            if self.weighted:
                _bin(self.x, self.y, self.weight, g.x0, g.y0, g.cell_m, self.partial)
            else:
                _count(self.x, self.y, g.x0, g.y0, g.cell_m, self.partial)
        else:
            row0, row1 = self.rows[i - 1]
            _blur(self.partial, self.taps, row0, row1, self.density)

    def outputs(self) -> Arrays:
        scratch.give(self.partial)  # this plan is done with its per-thread grids
        return {"density": self.density}

    def reference(self) -> Arrays:
        g = self.grid
        inv = 1.0 / g.cell_m
        j = np.floor((self.x - g.x0) * inv)
        i = np.floor((self.y - g.y0) * inv)
        inside = (i >= 0) & (i < g.ny) & (j >= 0) & (j < g.nx)
        flat = i[inside].astype(np.int64) * g.nx + j[inside].astype(np.int64)
        counts = (
            np.bincount(flat, weights=self.weight[inside], minlength=g.cells)
            .astype(np.float64)
            .reshape(g.ny, g.nx)
        )
        r = len(self.taps) // 2
        across = np.zeros_like(counts)
        for k, tap in enumerate(self.taps):
            shift = k - r
            lo, hi = max(0, -shift), min(g.nx, g.nx - shift)
            if lo < hi:
                across[:, lo:hi] += tap * counts[:, lo + shift : hi + shift]
        density = np.zeros_like(counts)
        for k, tap in enumerate(self.taps):
            shift = k - r
            lo, hi = max(0, -shift), min(g.ny, g.ny - shift)
            if lo < hi:
                density[lo:hi] += tap * across[lo + shift : hi + shift]
        return {"density": density}

    def work(self) -> Work:
        # What the kernels do: per detection 2 subtractions and 2 multiplications, reading x, y
        # (and weight); per cell and pass 1 multiplication and r pairs of (add, multiply-add);
        # per cell the threads' grids written and read back, and the density written.
        cells = float(self.grid.cells)
        r = len(self.taps) // 2
        n = float(len(self.x))
        partial = 2.0 * self.partial.shape[0] * self.partial.itemsize
        return Work(
            flops=2.0 * (1 + 3 * r) * cells + 4.0 * n,
            bytes=(24.0 if self.weighted else 16.0) * n + (partial + 8.0) * cells,
        )


def build(arrays: Arrays, params: dict[str, float]) -> DensityPlan:
    n = same_length("density_heatmap", arrays, "x", "y", "weight")
    if n > MAX_DETECTIONS:
        raise ResourceExhausted(f"density_heatmap: {n:,} detections; the limit is {MAX_DETECTIONS:,}")
    check_cells("density_heatmap", Grid.of(params), MAX_CELLS)
    return DensityPlan(arrays, params)


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    side = scaled_side(1000, scale)
    n = max(1, round(2_000_000 * scale))
    extent = side * 10.0
    # Crowds gather around a few hundred hot spots (squares, stations), as cameras see them.
    spots = rng.uniform(0, extent, (200, 2))
    which = rng.integers(0, len(spots), n)
    x = spots[which, 0] + rng.normal(0, 60.0, n)
    y = spots[which, 1] + rng.normal(0, 60.0, n)
    return {"x": x, "y": y}, {"nx": side, "ny": side}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    return f"{len(arrays['x']):,} detections onto {int(params['ny'])}×{int(params['nx'])} cells"


KERNEL = Kernel(
    name="density_heatmap",
    summary="Crowd density from camera detections: 2-D binning and a separable Gaussian blur.",
    params=(
        *grid_params(),
        Param("sigma_cells", "float", 2.0, 0.0, 50.0, "Standard deviation of the blur, in cells (0: none)."),
    ),
    inputs=(
        ArrayInput("x", "float64", 1, "Detected positions, metres east."),
        ArrayInput("y", "float64", 1, "Detected positions, metres north."),
        ArrayInput(
            "weight", "float64", 1, "Weight of each detection (e.g. people counted); default 1.", False
        ),
    ),
    outputs=("density",),
    bound="flops",
    max_elements=3 * MAX_DETECTIONS,
    build=build,
    example=example,
    size=size,
    notes="density: float64 [ny, nx], detections per cell after the blur. "
    "Tolerance vs. NumPy: relative 1e-12 of the largest cell.",
)
