"""`citymesh bench kernels`: every kernel at its default size, Numba against its NumPy reference.

Measured in one run, on this machine: the peaks first (a STREAM-like triad for bandwidth, an
FMA-dense loop for FLOP/s), then per kernel the first call (JIT compile, or loading the compiled
kernel from NUMBA_CACHE_DIR) apart, the best of `repeats` Numba runs, the best of up to `repeats`
NumPy runs (as many as fit in NUMPY_BUDGET_S: on a machine shared with other work, the best run of
each side is the one least disturbed), their ratio, and the achieved GFLOP/s or GB/s as a fraction
of the matching peak. Preparing a problem (validation, and building the road graph's adjacency for
`route`) is timed by neither side.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from citymesh.compute.kernels import KERNELS, run
from citymesh.compute.kernels.peak import Peaks, measure
from citymesh.compute.kernels.spec import Kernel

TARGET_SPEEDUP = 10.0
TARGET_IDW_S = 1.0
TARGET_ANOMALY_FRACTION = 0.5
NUMPY_BUDGET_S = 1.0
"""NumPy runs of a kernel stop once they took this long (the best one counts, as for Numba)."""


@dataclass(frozen=True)
class KernelFigures:
    kernel: str
    size: str
    numba_s: float
    numpy_s: float
    speedup: float
    first_call_s: float
    """The first Numba run: compiling (or loading from the cache) plus one run."""
    bound: str
    achieved: float
    """GFLOP/s when bound is "flops", GB/s when "bytes"."""
    peak: float
    fraction_of_peak: float
    gflops: float
    gbs: float


def measure_kernel(k: Kernel, peaks: Peaks, scale: float, repeats: int, seed: int = 1) -> KernelFigures:
    arrays, params = k.example(scale, np.random.default_rng(seed))
    plan = k.prepare(arrays, params)
    start = time.perf_counter()
    run(plan)
    first = time.perf_counter() - start
    best = np.inf
    for _ in range(repeats):
        plan = k.prepare(arrays, params)
        start = time.perf_counter()
        run(plan)
        best = min(best, time.perf_counter() - start)
    numpy_s = np.inf
    spent = 0.0
    for _ in range(repeats):  # the best of as many NumPy runs as fit in NUMPY_BUDGET_S (one at least)
        start = time.perf_counter()
        plan.reference()
        numpy_s = min(numpy_s, time.perf_counter() - start)
        spent += time.perf_counter() - start
        if spent > NUMPY_BUDGET_S:
            break
    work = plan.work()
    gflops = work.flops / best / 1e9
    gbs = work.bytes / best / 1e9
    achieved, peak = (gflops, peaks.gflops) if k.bound == "flops" else (gbs, peaks.bandwidth_gbs)
    return KernelFigures(
        kernel=k.name,
        size=k.size(arrays, k.resolve_params(params)),
        numba_s=best,
        numpy_s=numpy_s,
        speedup=numpy_s / best,
        first_call_s=first,
        bound=k.bound,
        achieved=achieved,
        peak=peak,
        fraction_of_peak=achieved / peak,
        gflops=gflops,
        gbs=gbs,
    )


def targets(figures: list[KernelFigures]) -> dict[str, bool]:
    by_name = {f.kernel: f for f in figures}
    checks = {f"{f.kernel}: speedup ≥ {TARGET_SPEEDUP:g}×": f.speedup >= TARGET_SPEEDUP for f in figures}
    if "idw_grid" in by_name:
        checks[f"idw_grid: under {TARGET_IDW_S:g} s"] = by_name["idw_grid"].numba_s < TARGET_IDW_S
    if "anomaly_scan" in by_name:
        checks[f"anomaly_scan: ≥ {TARGET_ANOMALY_FRACTION:.0%} of bandwidth"] = (
            by_name["anomaly_scan"].fraction_of_peak >= TARGET_ANOMALY_FRACTION
        )
    return checks


def bench(names: list[str] | None = None, scale: float = 1.0, repeats: int = 3) -> dict[str, Any]:
    peaks = measure()
    figures = [measure_kernel(KERNELS[n], peaks, scale, repeats) for n in (names or list(KERNELS))]
    return {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": peaks.threads,
            "peak_gbs": peaks.bandwidth_gbs,
            "peak_gflops": peaks.gflops,
        },
        "scale": scale,
        "kernels": [asdict(f) for f in figures],
        "targets": targets(figures) if scale == 1.0 else {},
    }


def report(result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2, ensure_ascii=False)
    m = result["machine"]
    lines = [
        f"peaks on {m['threads']} threads: triad {m['peak_gbs']:.1f} GB/s, FMA {m['peak_gflops']:.1f} GFLOP/s",
        "",
        f"{'kernel':<16} {'size':<58} {'numba s':>9} {'numpy s':>9} {'speedup':>8} {'1st call':>9} "
        f"{'achieved':>16} {'of peak':>8}",
    ]
    for f in result["kernels"]:
        unit = "GFLOP/s" if f["bound"] == "flops" else "GB/s"
        lines.append(
            f"{f['kernel']:<16} {f['size']:<58} {f['numba_s']:>9.4f} {f['numpy_s']:>9.3f} "
            f"{f['speedup']:>7.1f}× {f['first_call_s']:>8.2f}s {f['achieved']:>8.2f} {unit:<7} "
            f"{f['fraction_of_peak']:>7.1%}"
        )
    if result["targets"]:
        lines.append("")
        lines.extend(f"{'met ' if ok else 'MISSED'} {name}" for name, ok in result["targets"].items())
    return "\n".join(lines)
