"""coverage_5g: received power and best server per grid cell from 5G base stations.

Log-distance path loss: PL(d) = FSPL(1 m, f) + 10·n·log10(max(d, d_min)), FSPL(1 m, f) =
20·log10(f_MHz) − 27.55 dB; received power = tx_dbm − PL. The best server is the station of the
highest received power (the lowest index among equals).

The Numba kernel never takes a logarithm per station: received power is highest where
d²·10^(−tx/(5n)) is lowest, so one multiply ranks a station and one log10 per cell gives the power.
Tolerance against the NumPy reference: power within 1e-9 dB; the same server wherever the two
best stations differ by more than 1e-9 dB.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange
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
from citymesh.runtime.errors import ResourceExhausted

MAX_CELLS = 25_000_000
MAX_STATIONS = 20_000
STEPS = 32


def loss_at_1m(frequency_mhz: float) -> float:
    return 20.0 * math.log10(frequency_mhz) - 27.55


@kernel()
def _coverage_rows(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    rank: npt.NDArray[np.float64],
    tx: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    min_d2: float,
    slope: float,
    pl0: float,
    row0: int,
    row1: int,
    power: npt.NDArray[np.float64],
    server: npt.NDArray[np.int32],
) -> None:
    n = xs.size
    nx = power.shape[1]
    for r in prange(row1 - row0):
        i = row0 + r
        cy = y0 + (i + 0.5) * cell
        dy2 = np.empty(n)
        for s in range(n):
            d = cy - ys[s]
            dy2[s] = d * d
        for j in range(nx):
            cx = x0 + (j + 0.5) * cell
            best = np.inf
            best_d2 = 0.0
            at = 0
            for s in range(n):
                dx = cx - xs[s]
                d2 = max(dx * dx + dy2[s], min_d2)
                score = d2 * rank[s]
                if score < best:
                    best = score
                    best_d2 = d2
                    at = s
            server[i, j] = at
            power[i, j] = tx[at] - pl0 - slope * math.log10(best_d2)


class CoveragePlan:
    def __init__(self, arrays: Arrays, params: dict[str, float]) -> None:
        self.x, self.y, self.tx = arrays["x"], arrays["y"], arrays["tx_dbm"]
        self.grid = Grid.of(params)
        self.exponent = params["exponent"]
        self.min_d = params["min_distance_m"]
        self.pl0 = loss_at_1m(params["frequency_mhz"])
        self.power = np.empty((self.grid.ny, self.grid.nx))
        self.server = np.empty((self.grid.ny, self.grid.nx), dtype=np.int32)
        self.rows = blocks(self.grid.ny, STEPS)
        self.steps = len(self.rows)

    def step(self, i: int) -> None:
        g = self.grid
        slope = 5.0 * self.exponent  # 10·n·log10(d) = 5·n·log10(d²)
        rank = 10.0 ** (-self.tx / slope)
        row0, row1 = self.rows[i]
        _coverage_rows(
            self.x, self.y, rank, self.tx, g.x0, g.y0, g.cell_m, self.min_d**2, slope, self.pl0,
            row0, row1, self.power, self.server,
        )  # fmt: skip

    def outputs(self) -> Arrays:
        return {"power_dbm": self.power, "server": self.server}

    def reference(self) -> Arrays:
        g = self.grid
        cx, cy = g.centres()
        power = np.empty((g.ny, g.nx))
        server = np.empty((g.ny, g.nx), dtype=np.int32)
        rows_per_block = max(1, 2_000_000 // max(1, g.nx * len(self.x)))
        for a in range(0, g.ny, rows_per_block):
            b = min(g.ny, a + rows_per_block)
            dx = cx[None, :, None] - self.x[None, None, :]
            dy = cy[a:b, None, None] - self.y[None, None, :]
            d = np.maximum(np.sqrt(dx * dx + dy * dy), self.min_d)
            rx = self.tx - (self.pl0 + 10.0 * self.exponent * np.log10(d))
            best = rx.argmax(axis=2)
            server[a:b] = best
            power[a:b] = np.take_along_axis(rx, best[..., None], axis=2)[..., 0]
        return {"power_dbm": power, "server": server}

    def work(self) -> Work:
        pairs = float(self.grid.cells) * len(self.x)
        return Work(flops=5.0 * pairs, bytes=12.0 * self.grid.cells + 24.0 * len(self.x))


def build(arrays: Arrays, params: dict[str, float]) -> CoveragePlan:
    n = same_length("coverage_5g", arrays, "x", "y", "tx_dbm")
    at_least("coverage_5g", "the number of base stations", n, 1)
    if n > MAX_STATIONS:
        raise ResourceExhausted(f"coverage_5g: {n:,} base stations; the limit is {MAX_STATIONS:,}")
    check_cells("coverage_5g", Grid.of(params), MAX_CELLS)
    return CoveragePlan(arrays, params)


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    side = scaled_side(1000, scale)
    stations = 256 if scale >= 1 else max(1, round(256 * scale))
    extent = side * 10.0
    arrays = {
        "x": rng.uniform(0, extent, stations),
        "y": rng.uniform(0, extent, stations),
        "tx_dbm": rng.uniform(40.0, 49.0, stations),
    }
    return arrays, {"nx": side, "ny": side}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    return f"{int(params['ny'])}×{int(params['nx'])} cells × {len(arrays['x'])} stations"


KERNEL = Kernel(
    name="coverage_5g",
    summary="Received power and best server per cell from 5G base stations (log-distance path loss).",
    params=(
        *grid_params(),
        Param("frequency_mhz", "float", 3500.0, 400.0, 100_000.0, "Carrier frequency, MHz (n78: 3500)."),
        Param("exponent", "float", 3.5, 1.6, 6.0, "Path-loss exponent n (2: free space, 3–4: urban)."),
        Param("min_distance_m", "float", 1.0, 0.01, 1000.0, "Distances below this count as this."),
    ),
    inputs=(
        ArrayInput("x", "float64", 1, "Base-station positions, metres east."),
        ArrayInput("y", "float64", 1, "Base-station positions, metres north."),
        ArrayInput("tx_dbm", "float64", 1, "Transmit power (EIRP) of each station, dBm."),
    ),
    outputs=("power_dbm", "server"),
    bound="flops",
    max_elements=3 * MAX_STATIONS,
    build=build,
    example=example,
    size=size,
    shardable=True,
    notes="power_dbm: float64 [ny, nx]; server: int32 [ny, nx], index of the best station. "
    "Tolerance vs. NumPy: 1e-9 dB.",
)
