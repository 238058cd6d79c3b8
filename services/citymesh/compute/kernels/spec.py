"""What every kernel declares (parameters, input arrays, outputs, limits) and the checks they share.

A kernel is validated once (`Kernel.prepare`: arrays and parameters → a `Plan`), then run as a
sequence of steps (`Plan.step(i)` for i in range(plan.steps)): the job runner reports progress and
honours a cancel between steps, so a step is a slice of the work (rows of a grid, time steps,
devices, targets) taking a small fraction of the whole. `Plan.reference()` computes the same
outputs with NumPy only: the tests compare the two, the benchmark times them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from citymesh.runtime.errors import InvalidArgument, ResourceExhausted

Arrays = dict[str, npt.NDArray[Any]]
Dtype = Literal["float64", "int64"]


@dataclass(frozen=True)
class Param:
    """A scalar parameter: its kind, default and inclusive range."""

    name: str
    kind: Literal["float", "int"]
    default: float
    minimum: float
    maximum: float
    description: str


@dataclass(frozen=True)
class ArrayInput:
    """An input array: its element type and number of dimensions."""

    name: str
    dtype: Dtype
    ndim: int
    description: str
    required: bool = True


@dataclass(frozen=True)
class Work:
    """What one run costs: floating-point operations and the bytes it must move to or from memory."""

    flops: float
    bytes: float


class Plan(Protocol):
    """A validated problem, ready to run step by step."""

    steps: int

    def step(self, i: int) -> None:
        """Run step i (steps run in order, 0 first)."""

    def outputs(self) -> Arrays:
        """The outputs, once every step ran."""

    def reference(self) -> Arrays:
        """The same outputs computed with NumPy only (no Numba)."""

    def work(self) -> Work:
        """The work of the whole run, for GFLOP/s and GB/s."""


@dataclass(frozen=True)
class Kernel:
    """One kernel of the library: its contract and how to prepare it."""

    name: str
    summary: str
    params: tuple[Param, ...]
    inputs: tuple[ArrayInput, ...]
    outputs: tuple[str, ...]
    bound: Literal["flops", "bytes"]
    """Which peak its speed is compared with: the FLOP peak or the memory bandwidth."""
    max_elements: int
    """Most elements of all inputs together, and of all outputs together."""
    build: Callable[[Arrays, dict[str, float]], Plan]
    example: Callable[[float, np.random.Generator], tuple[Arrays, dict[str, float]]]
    """Inputs and parameters of a random problem at `scale` × the default size (1.0 = default)."""
    size: Callable[[Arrays, dict[str, float]], str]
    """A short description of a problem's size, e.g. "1000×1000 cells × 512 sensors"."""
    shardable: bool = False
    """Whether its outputs split by grid rows, so a large job can run as an Indexed Kubernetes Job."""
    notes: str = ""
    param_index: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "param_index", {p.name: p for p in self.params})

    def resolve_params(self, given: Mapping[str, float]) -> dict[str, float]:
        """The parameters with defaults filled in, each checked against its kind and range."""
        unknown = sorted(set(given) - set(self.param_index))
        if unknown:
            raise InvalidArgument(
                f"{self.name}: unknown parameter(s) {unknown}; known: {sorted(self.param_index)}"
            )
        values: dict[str, float] = {}
        for p in self.params:
            value = float(given.get(p.name, p.default))
            if not math.isfinite(value):
                raise InvalidArgument(f"{self.name}: parameter {p.name} is {value}; it must be finite")
            if p.kind == "int" and value != int(value):
                raise InvalidArgument(f"{self.name}: parameter {p.name} is {value}; it must be an integer")
            if not p.minimum <= value <= p.maximum:
                raise InvalidArgument(
                    f"{self.name}: parameter {p.name} is {value:g}; it must be in [{p.minimum:g}, {p.maximum:g}]"
                )
            values[p.name] = value
        return values

    def prepare(self, arrays: Mapping[str, Any], params: Mapping[str, float]) -> Plan:
        """(`arrays`: NumPy arrays or anything np.asarray takes.)"""
        """Validate inputs and parameters (InvalidArgument / ResourceExhausted) and plan the run."""
        resolved = self.resolve_params(params)
        known = {a.name for a in self.inputs}
        unknown = sorted(set(arrays) - known)
        if unknown:
            raise InvalidArgument(f"{self.name}: unknown input(s) {unknown}; known: {sorted(known)}")
        checked: Arrays = {}
        total = 0
        for spec in self.inputs:
            if spec.name not in arrays:
                if spec.required:
                    raise InvalidArgument(f"{self.name}: input {spec.name} is required ({spec.description})")
                continue
            checked[spec.name] = as_array(self.name, spec, arrays[spec.name])
            total += checked[spec.name].size
        if total > self.max_elements:
            raise ResourceExhausted(
                f"{self.name}: inputs hold {total:,} elements; the limit is {self.max_elements:,}"
            )
        return self.build(checked, resolved)


def as_array(kernel: str, spec: ArrayInput, value: Any) -> npt.NDArray[Any]:
    """The input as a C-contiguous array of its declared type; InvalidArgument when it cannot be."""
    array = np.asarray(value)
    if array.ndim != spec.ndim:
        raise InvalidArgument(
            f"{kernel}: input {spec.name} has {array.ndim} dimension(s) {array.shape}; it must have {spec.ndim}"
        )
    if spec.dtype == "float64":
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise InvalidArgument(f"{kernel}: input {spec.name} is {array.dtype}; it must hold numbers")
        out = np.ascontiguousarray(array, dtype=np.float64)
        if out.size and not np.isfinite(out).all():
            bad = int(np.flatnonzero(~np.isfinite(out.ravel()))[0])
            raise InvalidArgument(
                f"{kernel}: input {spec.name} holds a value that is not finite "
                f"(NaN or ±inf) at flat index {bad}"
            )
        return out
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if (
            np.issubdtype(array.dtype, np.floating)
            and np.all(np.isfinite(array))
            and np.all(array == np.round(array))
        ):
            return np.ascontiguousarray(array, dtype=np.int64)
        raise InvalidArgument(f"{kernel}: input {spec.name} is {array.dtype}; it must hold integers")
    return np.ascontiguousarray(array, dtype=np.int64)


def same_length(kernel: str, arrays: Mapping[str, npt.NDArray[Any]], *names: str) -> int:
    """The common length of 1-D inputs; InvalidArgument naming them when they differ."""
    lengths = {n: len(arrays[n]) for n in names if n in arrays}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{n}: {k}" for n, k in lengths.items())
        raise InvalidArgument(f"{kernel}: inputs {', '.join(lengths)} must have the same length ({shown})")
    return next(iter(lengths.values()))


def at_least(kernel: str, what: str, n: int, minimum: int) -> None:
    if n < minimum:
        raise InvalidArgument(f"{kernel}: {what} is {n}; at least {minimum} needed")


def blocks(total: int, most: int) -> list[tuple[int, int]]:
    """[start, end) ranges splitting `total` items into at most `most` nearly equal blocks."""
    count = max(1, min(most, total))
    edges = np.linspace(0, total, count + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist())]


@dataclass(frozen=True)
class Grid:
    """A regular grid of cells in zone-local metres: cell (i, j) has its centre at
    (x0 + (j + 0.5)·cell_m, y0 + (i + 0.5)·cell_m); i is the row (y), j the column (x)."""

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int

    @classmethod
    def of(cls, p: Mapping[str, float]) -> Grid:
        return cls(p["x0"], p["y0"], p["cell_m"], int(p["nx"]), int(p["ny"]))

    @property
    def cells(self) -> int:
        return self.nx * self.ny

    def centres(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        xs = self.x0 + (np.arange(self.nx, dtype=np.float64) + 0.5) * self.cell_m
        ys = self.y0 + (np.arange(self.ny, dtype=np.float64) + 0.5) * self.cell_m
        return xs, ys


def grid_params(nx: int = 1000, ny: int = 1000, max_side: int = 20_000) -> tuple[Param, ...]:
    """The parameters of a grid (defaults: 10 m cells over 10 km × 10 km, about the zone's 99 km²)."""
    return (
        Param("x0", "float", 0.0, -1e7, 1e7, "West edge of the grid, metres (zone-local)."),
        Param("y0", "float", 0.0, -1e7, 1e7, "South edge of the grid, metres (zone-local)."),
        Param("cell_m", "float", 10.0, 0.01, 10_000.0, "Side of a cell, metres."),
        Param("nx", "int", nx, 1, max_side, "Cells west to east (columns)."),
        Param("ny", "int", ny, 1, max_side, "Cells south to north (rows)."),
    )


def check_cells(kernel: str, grid: Grid, most: int) -> None:
    if grid.cells > most:
        raise ResourceExhausted(f"{kernel}: the grid has {grid.cells:,} cells; the limit is {most:,}")


def scaled_side(default: int, scale: float) -> int:
    """A grid side scaled so that the number of cells scales by `scale`."""
    return max(1, round(default * math.sqrt(scale)))
