"""`citymesh bench kernels` at a tiny scale: every figure the issue asks for, per kernel, as JSON."""

from __future__ import annotations

import json

from citymesh.compute.bench import KernelFigures, bench, report, targets


def test_bench_reports_every_kernel_with_the_figures_asked_for() -> None:
    result = bench(["anomaly_scan", "density_heatmap"], scale=1e-3, repeats=2)
    assert result["machine"]["peak_gbs"] > 0
    assert result["machine"]["peak_gflops"] > 0
    assert result["targets"] == {}  # judged at the default size only
    rows = {row["kernel"]: row for row in json.loads(report(result, as_json=True))["kernels"]}
    assert set(rows) == {"anomaly_scan", "density_heatmap"}
    for row in rows.values():
        for key in ("kernel", "size", "numba_s", "numpy_s", "speedup", "fraction_of_peak", "first_call_s"):
            assert key in row
        assert row["numba_s"] > 0
        assert row["numpy_s"] > 0
        assert row["speedup"] == row["numpy_s"] / row["numba_s"]
    assert rows["anomaly_scan"]["bound"] == "bytes"
    assert "anomaly_scan" in report(result, as_json=False)


def test_targets_name_what_was_missed() -> None:
    result = bench(["anomaly_scan"], scale=1e-3, repeats=1)
    (row,) = result["kernels"]
    figures = KernelFigures(**(row | {"speedup": 9.0, "fraction_of_peak": 0.49}))
    checks = targets([figures])
    assert checks == {"anomaly_scan: speedup ≥ 10×": False, "anomaly_scan: ≥ 50% of bandwidth": False}
