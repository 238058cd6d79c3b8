"""This machine's peaks, measured in the same run as the kernels they judge.

Bandwidth: a STREAM-like triad, a[i] = b[i] + s·c[i] over arrays far larger than the caches,
counting 24 bytes per element as STREAM does. FLOP/s: fused multiply-adds over values in the L1 cache
(a polynomial by Horner's rule, vectorised across values) on every thread; 2 FLOPs per multiply-add.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange, threads

LANES = 1024
"""Values per thread, updated in place: 8 KiB, in the L1 cache; the loop over them vectorises."""
DEPTH = 16
"""Multiply-adds per value and round (Horner's rule of a degree-16 polynomial)."""


@kernel()
def _triad(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], c: npt.NDArray[np.float64], s: float
) -> None:
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


@kernel(fastmath=True)
def _fma(rounds: int, out: npt.NDArray[np.float64]) -> None:
    for t in prange(out.shape[0]):
        acc = np.empty(LANES)
        for j in range(LANES):
            acc[j] = 0.5 + j * 1e-4 + t * 1e-3
        for _ in range(rounds):
            for j in range(LANES):
                x = acc[j]
                y = x * 0.9 + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                y = y * x + 0.1
                acc[j] = y * x + 0.1
        total = 0.0
        for j in range(LANES):
            total += acc[j]
        out[t] = total


@dataclass(frozen=True)
class Peaks:
    bandwidth_gbs: float
    gflops: float
    threads: int


def triad_gbs(elements: int = 20_000_000, repeats: int = 5) -> float:
    a = np.zeros(elements)
    b = np.ones(elements)
    c = np.full(elements, 2.0)
    _triad(a, b, c, 3.0)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _triad(a, b, c, 3.0)
        best = min(best, time.perf_counter() - start)
    return 24.0 * elements / best / 1e9


def fma_gflops(rounds: int = 20_000, repeats: int = 3) -> float:
    n = threads()
    out = np.zeros(n)
    _fma(1, out)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _fma(rounds, out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * DEPTH * LANES * rounds * n / best / 1e9


def measure() -> Peaks:
    return Peaks(bandwidth_gbs=triad_gbs(), gflops=fma_gflops(), threads=threads())
