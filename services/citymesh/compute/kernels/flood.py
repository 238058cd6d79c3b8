"""flood_sim: water accumulating over a terrain grid, for many time steps (a 4-neighbour stencil).

Each step, water flows from every cell to its lower neighbours (by water surface, terrain +
depth): the cell would send `rate`·Σ max(0, surface − neighbour's surface) in all, but never more
than the water it holds, split among the lower neighbours in proportion to the drop. Then
`rain_m` falls on every cell. Edges are closed walls: water is conserved (plus the rain), which the
tests check. Outputs the depth after the last step and the deepest each cell has been.

Two passes per step: the outflow ratio of every cell, then the new depth from the cell's own
outflow and its neighbours' inflows (both read from the same surfaces, so the order of cells does
not matter and the result is the NumPy reference's to rounding). Tolerance: absolute 1e-9 of the
deepest water.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange
from citymesh.compute.kernels.spec import ArrayInput, Arrays, Kernel, Param, Work, blocks, scaled_side
from citymesh.runtime.errors import InvalidArgument, ResourceExhausted

MAX_CELLS = 25_000_000
MAX_CELL_STEPS = 50_000_000_000
STEPS = 50


@kernel()
def _ratios(
    z: npt.NDArray[np.float64], h: npt.NDArray[np.float64], rate: float, r: npt.NDArray[np.float64]
) -> None:
    """r = outflow / Σ drops of each cell: min(rate, h / Σ drops), 0 where no neighbour is lower."""
    ny, nx = z.shape
    for i in prange(ny):
        for j in range(nx):
            s = z[i, j] + h[i, j]
            drop = 0.0
            if i > 0:
                drop += max(0.0, s - z[i - 1, j] - h[i - 1, j])
            if i < ny - 1:
                drop += max(0.0, s - z[i + 1, j] - h[i + 1, j])
            if j > 0:
                drop += max(0.0, s - z[i, j - 1] - h[i, j - 1])
            if j < nx - 1:
                drop += max(0.0, s - z[i, j + 1] - h[i, j + 1])
            r[i, j] = min(rate, h[i, j] / drop) if drop > 0.0 else 0.0


@kernel()
def _update(
    z: npt.NDArray[np.float64],
    h: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    rain: float,
    out: npt.NDArray[np.float64],
    deepest: npt.NDArray[np.float64],
) -> None:
    ny, nx = z.shape
    for i in prange(ny):
        for j in range(nx):
            s = z[i, j] + h[i, j]
            rc = r[i, j]
            flow = 0.0
            if i > 0:
                d = s - z[i - 1, j] - h[i - 1, j]
                flow += r[i - 1, j] * -d if d < 0.0 else -rc * d
            if i < ny - 1:
                d = s - z[i + 1, j] - h[i + 1, j]
                flow += r[i + 1, j] * -d if d < 0.0 else -rc * d
            if j > 0:
                d = s - z[i, j - 1] - h[i, j - 1]
                flow += r[i, j - 1] * -d if d < 0.0 else -rc * d
            if j < nx - 1:
                d = s - z[i, j + 1] - h[i, j + 1]
                flow += r[i, j + 1] * -d if d < 0.0 else -rc * d
            depth = h[i, j] + flow + rain
            out[i, j] = depth
            deepest[i, j] = max(deepest[i, j], depth)


class FloodPlan:
    def __init__(
        self, terrain: npt.NDArray[np.float64], depth: npt.NDArray[np.float64], params: dict[str, float]
    ):
        self.z = terrain
        self.h0 = depth
        self.time_steps = int(params["steps"])
        self.rate = params["rate"]
        self.rain = params["rain_m"]
        self.h = depth.copy()
        self.next = np.empty_like(depth)
        self.r = np.empty_like(depth)
        self.deepest = depth.copy()
        self.parts = blocks(self.time_steps, STEPS)
        self.steps = len(self.parts)

    def step(self, i: int) -> None:
        a, b = self.parts[i]
        for _ in range(a, b):
            _ratios(self.z, self.h, self.rate, self.r)
            _update(self.z, self.h, self.r, self.rain, self.next, self.deepest)
            self.h, self.next = self.next, self.h

    def outputs(self) -> Arrays:
        return {"depth": self.h, "max_depth": self.deepest}

    def reference(self) -> Arrays:
        z, h = self.z, self.h0.copy()
        deepest = h.copy()
        for _ in range(self.time_steps):
            s = z + h
            # drops towards each neighbour: north (i-1), south (i+1), west (j-1), east (j+1)
            dn = np.zeros_like(s)
            ds = np.zeros_like(s)
            dw = np.zeros_like(s)
            de = np.zeros_like(s)
            dn[1:] = s[1:] - s[:-1]
            ds[:-1] = s[:-1] - s[1:]
            dw[:, 1:] = s[:, 1:] - s[:, :-1]
            de[:, :-1] = s[:, :-1] - s[:, 1:]
            total = np.maximum(dn, 0) + np.maximum(ds, 0) + np.maximum(dw, 0) + np.maximum(de, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(total > 0, np.minimum(self.rate, h / total), 0.0)
            flow = np.zeros_like(s)
            for d, neighbour_r in (
                (dn, _shifted(r, 1, 0)),
                (ds, _shifted(r, -1, 0)),
                (dw, _shifted(r, 0, 1)),
                (de, _shifted(r, 0, -1)),
            ):
                flow += np.where(d < 0, neighbour_r * -d, -r * d)
            h = h + flow + self.rain
            np.maximum(deepest, h, out=deepest)
        return {"depth": h, "max_depth": deepest}

    def work(self) -> Work:
        cell_steps = float(self.z.size) * self.time_steps
        return Work(flops=40.0 * cell_steps, bytes=8.0 * 7 * cell_steps)


def _shifted(a: npt.NDArray[np.float64], di: int, dj: int) -> npt.NDArray[np.float64]:
    """b[i, j] = a[i - di, j - dj], 0 outside."""
    b = np.zeros_like(a)
    ny, nx = a.shape
    b[max(di, 0) : ny + min(di, 0), max(dj, 0) : nx + min(dj, 0)] = a[
        max(-di, 0) : ny + min(-di, 0), max(-dj, 0) : nx + min(-dj, 0)
    ]
    return b


def build(arrays: Arrays, params: dict[str, float]) -> FloodPlan:
    terrain = arrays["terrain"]
    depth = arrays.get("depth")
    if depth is None:
        depth = np.zeros_like(terrain)
    if depth.shape != terrain.shape:
        raise InvalidArgument(
            f"flood_sim: depth is {depth.shape}; it must be the shape of terrain {terrain.shape}"
        )
    if depth.size and depth.min() < 0:
        raise InvalidArgument("flood_sim: depth holds a negative value; water depths are ≥ 0")
    if terrain.size > MAX_CELLS:
        raise ResourceExhausted(f"flood_sim: the grid has {terrain.size:,} cells; the limit is {MAX_CELLS:,}")
    if terrain.size * params["steps"] > MAX_CELL_STEPS:
        raise ResourceExhausted(
            f"flood_sim: {terrain.size:,} cells × {int(params['steps']):,} steps; the limit is {MAX_CELL_STEPS:,} cell-steps"
        )
    return FloodPlan(terrain, depth, params)


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    side = scaled_side(1000, scale)
    # A gentle slope to the south-east with hills and hollows, and a storm's first water.
    yy, xx = np.mgrid[0:side, 0:side] / max(side, 1)
    terrain = (
        100.0
        - 3.0 * xx
        - 2.0 * yy
        + np.sin(xx * 17.0) * np.cos(yy * 13.0)
        + rng.normal(0, 0.05, (side, side))
    )
    depth = rng.uniform(0.0, 0.05, (side, side))
    return {"terrain": terrain, "depth": depth}, {"steps": 100, "rain_m": 0.0005}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    ny, nx = arrays["terrain"].shape
    return f"{ny}×{nx} cells × {int(params['steps'])} steps"


KERNEL = Kernel(
    name="flood_sim",
    summary="Water accumulation over a terrain grid for many time steps (4-neighbour stencil).",
    params=(
        Param("steps", "int", 100, 1, 1_000_000, "Time steps to simulate."),
        Param("rate", "float", 0.2, 0.001, 0.25, "Share of a drop in water surface that flows per step."),
        Param("rain_m", "float", 0.0, 0.0, 1.0, "Rain added to every cell each step, metres."),
    ),
    inputs=(
        ArrayInput("terrain", "float64", 2, "Ground elevation of each cell, metres [ny, nx]."),
        ArrayInput("depth", "float64", 2, "Water depth at the start, metres [ny, nx]; default 0.", False),
    ),
    outputs=("depth", "max_depth"),
    bound="bytes",
    max_elements=2 * MAX_CELLS,
    build=build,
    example=example,
    size=size,
    notes="depth, max_depth: float64 [ny, nx]. Tolerance vs. NumPy: absolute 1e-9 of the deepest water.",
)
