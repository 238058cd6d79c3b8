"""density_heatmap: crowd density from camera detections, 2-D binning and a separable Gaussian blur.

Each detection adds its weight (1 by default) to the cell holding it (column
⌊(x − x0)·(1/cell_m)⌋, row likewise) (detections outside the grid
are left out); the counts are then blurred by a normalised Gaussian of `sigma_cells`, truncated at
3σ, rows then columns, with zero beyond the grid's edges (mass leaving the grid is lost).

Binning runs in parallel, each thread into its own grid (no atomics; int32 counts when there are
no weights), finding the cells of a chunk of detections (vectorised) before adding to them. The
blur sums the threads' grids and does both passes at once, a band of rows per thread, through a
ring of row-blurred rows in the core's cache (no grid in between); both passes are vectorised
along rows and use the taps' symmetry. Tolerance against the NumPy reference: relative 1e-12 of
the largest cell.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange, serial, threads
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
ROW_STEPS = 4
CHUNK = 512
"""Detections whose cells are found together before they are added."""


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
def _cells(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    m0: int,
    x0: float,
    y0: float,
    inv: float,
    ny: int,
    nx: int,
    cells: npt.NDArray[np.int64],
) -> None:
    """The cells of detections m0, m0 + 1, … (as many as `cells` holds), −1 for those outside
    the grid. No branch: LLVM vectorises it."""
    for q in range(cells.size):
        fy = (ys[m0 + q] - y0) * inv
        fx = (xs[m0 + q] - x0) * inv
        inside = (fy >= 0.0) & (fy < ny) & (fx >= 0.0) & (fx < nx)  # then int() is floor()
        i = int(fy) if inside else 0
        j = int(fx) if inside else 0
        cells[q] = i * nx + j if inside else -1


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
    # summed while the blur reads them (no pass of its own). The cells of CHUNK detections are
    # found first (vectorised), then added to: a loop of nothing but those additions keeps many
    # of them (each a miss in the core's own cache) in flight.
    nthreads, ny, nx = partial.shape
    n = xs.size
    inv = 1.0 / cell
    flat = partial.reshape(nthreads, ny * nx)
    for t in prange(nthreads):
        mine = flat[t]
        for c in range(ny * nx):
            mine[c] = 0.0
        cells = np.empty(CHUNK, dtype=np.int64)
        lo = n * t // nthreads
        hi = n * (t + 1) // nthreads
        for m0 in range(lo, hi, CHUNK):
            some = cells[: min(CHUNK, hi - m0)]
            _cells(xs, ys, m0, x0, y0, inv, ny, nx, some)
            for q in range(some.size):
                if some[q] >= 0:
                    mine[some[q]] += ws[m0 + q]


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
    inv = 1.0 / cell
    flat = partial.reshape(nthreads, ny * nx)
    for t in prange(nthreads):
        mine = flat[t]
        for c in range(ny * nx):
            mine[c] = 0
        cells = np.empty(CHUNK, dtype=np.int64)
        lo = n * t // nthreads
        hi = n * (t + 1) // nthreads
        for m0 in range(lo, hi, CHUNK):
            some = cells[: min(CHUNK, hi - m0)]
            _cells(xs, ys, m0, x0, y0, inv, ny, nx, some)
            for q in range(some.size):
                if some[q] >= 0:
                    mine[some[q]] += 1


@kernel(fastmath=frozenset({"contract"}))
def _blur(
    partial: npt.NDArray[np.float64] | npt.NDArray[np.int32],
    taps: npt.NDArray[np.float64],
    row0: int,
    row1: int,
    dst: npt.NDArray[np.float64],
) -> None:
    # Both passes at once: the rows of [row0, row1) are split among the threads; each blurs the
    # rows it needs along the rows (the per-thread grids summed) into a ring of 2r + 1 rows in its
    # own cache, and writes each output row as the column blur of the ring: no grid in between.
    # The r rows on either side of a thread's share are blurred along twice (by it and by its
    # neighbour), a small price for never writing the first pass out and reading it back. The taps
    # are symmetric (gaussian()): taps[k] = taps[2r − k], so pairs of rows or cells share a multiply.
    nthreads, ny, nx = partial.shape
    r = taps.size // 2
    span = 2 * r + 1
    parts = max(1, min(nthreads, row1 - row0))
    for p in prange(parts):
        a = row0 + (row1 - row0) * p // parts
        b = row0 + (row1 - row0) * (p + 1) // parts
        ring = np.zeros((span + 1, nx))  # the last row stays zero: rows beyond the grid
        pad = np.zeros(nx + 2 * r)
        for src in range(max(0, a - r), min(ny, b + r)):
            # Row src blurred along the rows, into ring slot src % span.
            for j in range(nx):
                pad[j + r] = partial[0, src, j]
            for t in range(1, nthreads):
                for j in range(nx):
                    pad[j + r] += partial[t, src, j]
            acc = ring[src % span]
            g = taps[r]
            for j in range(nx):
                acc[j] = g * pad[j + r]
            for k in range(r):
                g = taps[k]
                for j in range(nx):
                    acc[j] += g * (pad[j + k] + pad[j + 2 * r - k])
            # Output row i = src − r now has every row it needs.
            i = src - r
            if i >= a:
                _column(ring, taps, i, ny, dst[i])
        for i in range(max(a, min(ny, b + r) - r), b):
            _column(ring, taps, i, ny, dst[i])


@serial
def _column(
    ring: npt.NDArray[np.float64],
    taps: npt.NDArray[np.float64],
    i: int,
    ny: int,
    out: npt.NDArray[np.float64],
) -> None:
    """Output row i: the column blur of the row-blurred rows i − r … i + r held in the ring (slot
    row % span; the ring's last slot, all zeros, for rows beyond the grid)."""
    span = ring.shape[0] - 1
    nx = ring.shape[1]
    r = taps.size // 2
    g = taps[r]
    mid = ring[i % span]
    for j in range(nx):
        out[j] = g * mid[j]
    for k in range(r):
        lo = i - r + k
        hi = i + r - k
        above = ring[lo % span] if lo >= 0 else ring[span]
        below = ring[hi % span] if hi < ny else ring[span]
        g = taps[k]
        for j in range(nx):
            out[j] += g * (above[j] + below[j])


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
        self.partial = np.empty((threads(), *shape), dtype=np.float64 if self.weighted else np.int32)
        self.density = np.empty(shape)
        self.rows = blocks(self.grid.ny, ROW_STEPS)
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
