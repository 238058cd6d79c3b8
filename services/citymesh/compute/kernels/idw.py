"""idw_grid: a PM2.5 field over the zone from sensor readings, by inverse-distance weighting.

Each cell's value is Σ wᵢ·vᵢ / Σ wᵢ over every sensor, wᵢ = dᵢ^-power, dᵢ the distance from the
cell's centre to sensor i. A cell whose centre coincides with sensors takes the mean of their
values. Tolerance against the NumPy reference: relative 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import FAST, kernel, prange
from citymesh.compute.kernels.spec import (
    ArrayInput,
    Arrays,
    Grid,
    Kernel,
    Param,
    Work,
    at_least,
    blocks,
    check_cells,
    grid_params,
    same_length,
    scaled_side,
)

MAX_CELLS = 25_000_000
MAX_SENSORS = 100_000
STEPS = 32


@kernel(fastmath=FAST)
def _idw_rows(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    vs: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    power: float,
    row0: int,
    row1: int,
    out: npt.NDArray[np.float64],
) -> None:
    n = xs.size
    nx = out.shape[1]
    half = 0.5 * power
    for r in prange(row1 - row0):
        i = row0 + r
        cy = y0 + (i + 0.5) * cell
        dy2 = np.empty(n)
        for s in range(n):
            d = cy - ys[s]
            dy2[s] = d * d
        for j in range(nx):
            cx = x0 + (j + 0.5) * cell
            num = 0.0
            den = 0.0
            if power == 2.0:
                for s in range(n):
                    dx = cx - xs[s]
                    w = 1.0 / (dx * dx + dy2[s])
                    num += w * vs[s]
                    den += w
            elif power == 1.0:
                for s in range(n):
                    dx = cx - xs[s]
                    w = 1.0 / math.sqrt(dx * dx + dy2[s])
                    num += w * vs[s]
                    den += w
            else:
                for s in range(n):
                    dx = cx - xs[s]
                    w = math.exp(-half * math.log(dx * dx + dy2[s]))
                    num += w * vs[s]
                    den += w
            if den < np.inf:
                out[i, j] = num / den
            else:  # the centre coincides with one or more sensors (1/0 = inf): their mean
                total = 0.0
                hits = 0
                for s in range(n):
                    dx = cx - xs[s]
                    if dx * dx + dy2[s] == 0.0:
                        total += vs[s]
                        hits += 1
                out[i, j] = total / hits


class IdwPlan:
    def __init__(self, arrays: Arrays, params: dict[str, float]) -> None:
        self.x, self.y, self.value = arrays["x"], arrays["y"], arrays["value"]
        self.grid = Grid.of(params)
        self.power = params["power"]
        self.field = np.empty((self.grid.ny, self.grid.nx))
        self.rows = blocks(self.grid.ny, STEPS)
        self.steps = len(self.rows)

    def step(self, i: int) -> None:
        g = self.grid
        row0, row1 = self.rows[i]
        _idw_rows(self.x, self.y, self.value, g.x0, g.y0, g.cell_m, self.power, row0, row1, self.field)

    def outputs(self) -> Arrays:
        return {"field": self.field}

    def reference(self) -> Arrays:
        g = self.grid
        cx, cy = g.centres()
        out = np.empty((g.ny, g.nx))
        xs, ys, vs = self.x, self.y, self.value
        rows_per_block = max(1, 2_000_000 // max(1, g.nx * len(xs)))
        for a in range(0, g.ny, rows_per_block):
            b = min(g.ny, a + rows_per_block)
            dx = cx[None, :, None] - xs[None, None, :]
            dy = cy[a:b, None, None] - ys[None, None, :]
            d2 = dx * dx + dy * dy
            with np.errstate(divide="ignore"):
                w = 1.0 / d2 if self.power == 2.0 else d2 ** (-0.5 * self.power)
            exact = d2 == 0.0
            hit = exact.any(axis=2)
            w[hit] = 0.0
            with np.errstate(invalid="ignore"):  # 0/0 where a centre is on a sensor: set below
                block = (w @ vs) / w.sum(axis=2)
            if hit.any():
                counts = exact.sum(axis=2)
                sums = (exact * vs).sum(axis=2)
                block[hit] = sums[hit] / counts[hit]
            out[a:b] = block
        return {"field": out}

    def work(self) -> Work:
        pairs = float(self.grid.cells) * len(self.x)
        return Work(flops=6.0 * pairs, bytes=8.0 * self.grid.cells + 24.0 * len(self.x))


def build(arrays: Arrays, params: dict[str, float]) -> IdwPlan:
    n = same_length("idw_grid", arrays, "x", "y", "value")
    at_least("idw_grid", "the number of sensors", n, 1)
    if n > MAX_SENSORS:
        from citymesh.runtime.errors import ResourceExhausted

        raise ResourceExhausted(f"idw_grid: {n:,} sensors; the limit is {MAX_SENSORS:,}")
    check_cells("idw_grid", Grid.of(params), MAX_CELLS)
    return IdwPlan(arrays, params)


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    side = scaled_side(1000, scale)
    sensors = 512 if scale >= 1 else max(1, round(512 * scale))
    extent = side * 10.0
    arrays = {
        "x": rng.uniform(0, extent, sensors),
        "y": rng.uniform(0, extent, sensors),
        "value": rng.gamma(4.0, 12.0, sensors),
    }
    return arrays, {"nx": side, "ny": side}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    return f"{int(params['ny'])}×{int(params['nx'])} cells × {len(arrays['x'])} sensors"


KERNEL = Kernel(
    name="idw_grid",
    summary="PM2.5 (or any reading) field over a grid from sensor readings, inverse-distance weighted.",
    params=(
        *grid_params(),
        Param("power", "float", 2.0, 0.5, 6.0, "Exponent of the distance in the weights (2: 1/d²)."),
    ),
    inputs=(
        ArrayInput("x", "float64", 1, "Sensor positions, metres east (same frame as x0)."),
        ArrayInput("y", "float64", 1, "Sensor positions, metres north (same frame as y0)."),
        ArrayInput("value", "float64", 1, "Sensor readings, e.g. PM2.5 in µg/m³."),
    ),
    outputs=("field",),
    bound="flops",
    max_elements=3 * MAX_SENSORS,
    build=build,
    example=example,
    size=size,
    shardable=True,
    notes="field: float64 [ny, nx]. Tolerance vs. NumPy: relative 1e-9.",
)
