"""density_heatmap: crowd density from camera detections, 2-D binning and a separable Gaussian blur.

Each detection adds its weight (1 by default) to the cell holding it (column
⌊(x − x0)·(1/cell_m)⌋, row likewise) (detections outside the grid
are left out); the counts are then blurred by a normalised Gaussian of `sigma_cells`, truncated at
3σ, rows then columns, with zero beyond the grid's edges (mass leaving the grid is lost).

Binning runs in parallel, each thread into its own grid (no atomics); the row blur sums them. The
blur is two passes over the grid, each vectorised along rows. Tolerance against the NumPy
reference: relative 1e-12 of the largest cell.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange, threads
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


def gaussian(sigma: float) -> npt.NDArray[np.float64]:
    """The normalised taps of a Gaussian truncated at 3σ (one tap of 1 when sigma is 0)."""
    if sigma == 0:
        return np.ones(1)
    radius = math.ceil(3.0 * sigma)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (k / sigma) ** 2)
    normalised: npt.NDArray[np.float64] = taps / taps.sum()
    return normalised


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
    # summed while the row blur reads them (no pass of its own).
    nthreads, ny, nx = partial.shape
    n = xs.size
    inv = 1.0 / cell
    for t in prange(nthreads):
        mine = partial[t]
        for i in range(ny):
            for j in range(nx):
                mine[i, j] = 0.0
        for m in range(n * t // nthreads, n * (t + 1) // nthreads):
            fy = (ys[m] - y0) * inv
            fx = (xs[m] - x0) * inv
            if 0.0 <= fy < ny and 0.0 <= fx < nx:  # then int() is floor()
                mine[int(fy), int(fx)] += ws[m]


@kernel(fastmath=frozenset({"contract"}))
def _blur_rows(
    partial: npt.NDArray[np.float64],
    taps: npt.NDArray[np.float64],
    row0: int,
    row1: int,
    dst: npt.NDArray[np.float64],
) -> None:
    nthreads, _, nx = partial.shape
    r = taps.size // 2
    for ii in prange(row1 - row0):
        i = row0 + ii
        # A zero-padded row (the per-thread counts summed) and a private accumulator: loops of
        # fixed offsets over memory that cannot alias, which LLVM vectorises.
        pad = np.zeros(nx + 2 * r)
        for t in range(nthreads):
            for j in range(nx):
                pad[j + r] += partial[t, i, j]
        acc = np.zeros(nx)
        for k in range(taps.size):
            g = taps[k]
            for j in range(nx):
                acc[j] += g * pad[j + k]
        for j in range(nx):
            dst[i, j] = acc[j]


@kernel(fastmath=frozenset({"contract"}))
def _blur_columns(
    src: npt.NDArray[np.float64],
    taps: npt.NDArray[np.float64],
    row0: int,
    row1: int,
    dst: npt.NDArray[np.float64],
) -> None:
    ny, nx = src.shape
    r = taps.size // 2
    for ii in prange(row1 - row0):
        i = row0 + ii
        for j in range(nx):
            dst[i, j] = 0.0
        for k in range(taps.size):
            src_row = i + k - r
            if 0 <= src_row < ny:
                g = taps[k]
                for j in range(nx):
                    dst[i, j] += g * src[src_row, j]


class DensityPlan:
    def __init__(self, arrays: Arrays, params: dict[str, float]) -> None:
        self.x, self.y = arrays["x"], arrays["y"]
        self.weight = arrays["weight"] if "weight" in arrays else np.ones(len(self.x))
        self.grid = Grid.of(params)
        self.taps = gaussian(params["sigma_cells"])
        shape = (self.grid.ny, self.grid.nx)
        self.partial = np.empty((threads(), *shape))
        self.across = np.empty(shape)
        self.density = np.empty(shape)
        self.rows = blocks(self.grid.ny, ROW_STEPS)
        self.steps = 1 + 2 * len(self.rows)

    def step(self, i: int) -> None:
        g = self.grid
        if i == 0:
            _bin(self.x, self.y, self.weight, g.x0, g.y0, g.cell_m, self.partial)
        elif i <= len(self.rows):
            row0, row1 = self.rows[i - 1]
            _blur_rows(self.partial, self.taps, row0, row1, self.across)
        else:
            row0, row1 = self.rows[i - 1 - len(self.rows)]
            _blur_columns(self.across, self.taps, row0, row1, self.density)

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
        cells = float(self.grid.cells)
        taps = len(self.taps)
        return Work(flops=4.0 * taps * cells + 4.0 * len(self.x), bytes=24.0 * len(self.x) + 5 * 8.0 * cells)


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
