"""Every kernel matches its NumPy reference within its stated tolerance, on random and edge inputs,
and refuses bad input with a message that names the problem."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from numba import njit

from citymesh.compute.kernels import KERNELS, Cancelled, kernel, run
from citymesh.compute.kernels import anomaly as anomaly_kernel
from citymesh.compute.kernels.spec import Arrays
from citymesh.runtime.errors import InvalidArgument, NotFound, ResourceExhausted

RNG_SEED = 20201119


def both(name: str, arrays: dict[str, Any], params: dict[str, float] | None = None) -> tuple[Arrays, Arrays]:
    """(Numba outputs, NumPy reference outputs) of one problem."""
    plan = kernel(name).prepare(arrays, params or {})
    fast = run(plan)
    return fast, plan.reference()


def close(a: npt.NDArray[Any], b: npt.NDArray[Any], rtol: float = 0.0, atol: float = 0.0) -> None:
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def small(name: str, seed: int = RNG_SEED, scale: float = 2e-4) -> tuple[dict[str, Any], dict[str, float]]:
    arrays, params = KERNELS[name].example(scale, np.random.default_rng(seed))
    return arrays, params


# --- idw_grid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [2.0, 1.0, 3.0])
def test_idw_matches_reference_on_random_sensors(power: float) -> None:
    rng = np.random.default_rng(1)
    arrays = {"x": rng.uniform(0, 300, 40), "y": rng.uniform(0, 200, 40), "value": rng.gamma(4, 12, 40)}
    fast, ref = both("idw_grid", arrays, {"nx": 30, "ny": 20, "power": power})
    close(fast["field"], ref["field"], rtol=1e-9)


def test_idw_one_sensor_gives_a_constant_field() -> None:
    fast, ref = both("idw_grid", {"x": [12.0], "y": [7.0], "value": [35.5]}, {"nx": 9, "ny": 4})
    close(fast["field"], np.full((4, 9), 35.5), rtol=1e-12)
    close(ref["field"], fast["field"], rtol=1e-9)


def test_idw_cell_on_coincident_sensors_takes_their_mean() -> None:
    # Two sensors exactly on the centre of cell (0, 0) and one elsewhere.
    arrays = {"x": [5.0, 5.0, 95.0], "y": [5.0, 5.0, 95.0], "value": [10.0, 20.0, 100.0]}
    fast, ref = both("idw_grid", arrays, {"nx": 10, "ny": 10})
    assert fast["field"][0, 0] == 15.0
    close(fast["field"], ref["field"], rtol=1e-9)


def test_idw_refuses_no_sensors_nan_and_ragged_inputs() -> None:
    idw = kernel("idw_grid")
    with pytest.raises(InvalidArgument, match="at least 1"):
        idw.prepare({"x": [], "y": [], "value": []}, {})
    with pytest.raises(InvalidArgument, match="not finite"):
        idw.prepare({"x": [1.0, np.nan], "y": [1.0, 2.0], "value": [1.0, 2.0]}, {})
    with pytest.raises(InvalidArgument, match="same length"):
        idw.prepare({"x": [1.0, 2.0], "y": [1.0], "value": [1.0, 2.0]}, {})
    with pytest.raises(InvalidArgument, match="power"):
        idw.prepare({"x": [1.0], "y": [1.0], "value": [1.0]}, {"power": 99})
    with pytest.raises(ResourceExhausted, match="cells"):
        idw.prepare({"x": [1.0], "y": [1.0], "value": [1.0]}, {"nx": 20_000, "ny": 20_000})


# --- coverage_5g --------------------------------------------------------------------------------


def assert_coverage(fast: Arrays, ref: Arrays, tx: npt.NDArray[np.float64]) -> None:
    close(fast["power_dbm"], ref["power_dbm"], atol=1e-9)
    assert fast["server"].dtype == np.int32
    # The same server, except where the best two are within the tolerance of each other.
    differ = fast["server"] != ref["server"]
    if differ.any():
        close(fast["power_dbm"][differ], ref["power_dbm"][differ], atol=1e-9)


def test_coverage_matches_reference_on_random_stations() -> None:
    rng = np.random.default_rng(3)
    arrays = {"x": rng.uniform(0, 400, 30), "y": rng.uniform(0, 300, 30), "tx_dbm": rng.uniform(40, 49, 30)}
    fast, ref = both("coverage_5g", arrays, {"nx": 40, "ny": 30, "exponent": 3.2})
    assert_coverage(fast, ref, arrays["tx_dbm"])


def test_coverage_one_station_serves_every_cell_and_coincident_ones_pick_the_first() -> None:
    fast, ref = both("coverage_5g", {"x": [50.0], "y": [50.0], "tx_dbm": [46.0]}, {"nx": 10, "ny": 10})
    assert (fast["server"] == 0).all()
    assert_coverage(fast, ref, np.array([46.0]))
    # Two identical stations on a cell centre: equal everywhere, the lower index wins.
    fast, ref = both(
        "coverage_5g", {"x": [55.0, 55.0], "y": [55.0, 55.0], "tx_dbm": [46.0, 46.0]}, {"nx": 10, "ny": 10}
    )
    assert (fast["server"] == 0).all()
    assert (ref["server"] == 0).all()
    # At the station, distance counts as min_distance_m: tx − FSPL(1 m, 3.5 GHz).
    assert fast["power_dbm"][5, 5] == pytest.approx(46.0 - (20 * np.log10(3500.0) - 27.55), abs=1e-9)


def test_coverage_refuses_no_stations_and_infinite_power() -> None:
    cov = kernel("coverage_5g")
    with pytest.raises(InvalidArgument, match="at least 1"):
        cov.prepare({"x": [], "y": [], "tx_dbm": []}, {})
    with pytest.raises(InvalidArgument, match=r"tx_dbm.*not finite"):
        cov.prepare({"x": [1.0], "y": [1.0], "tx_dbm": [np.inf]}, {})


# --- anomaly_scan -------------------------------------------------------------------------------


def assert_anomalies(fast: Arrays, ref: Arrays, threshold: float) -> None:
    np.testing.assert_array_equal(fast["count"], ref["count"])
    np.testing.assert_array_equal(fast["index"], ref["index"])
    close(fast["z"], ref["z"], rtol=1e-6)
    assert (np.abs(fast["z"]) > threshold * (1 - 1e-6)).all()


def test_anomaly_matches_reference_on_devices_of_different_lengths() -> None:
    rng = np.random.default_rng(5)
    lengths = [0, 3, 61, 500, 4000, 9000]
    values = rng.standard_normal(sum(lengths)) * 2.0 + 400.0
    values[rng.choice(len(values), 40, replace=False)] += 25.0
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    fast, ref = both("anomaly_scan", {"values": values, "offsets": offsets}, {"window": 60})
    assert fast["count"].sum() >= 30
    assert_anomalies(fast, ref, 3.0)


def test_anomaly_finds_a_spike_after_a_flat_series() -> None:
    values = np.full(100, 7.0)
    values[80] = 7.5
    fast, ref = both("anomaly_scan", {"values": values}, {"window": 10})
    assert fast["index"].tolist() == [80]
    assert fast["count"].tolist() == [1]
    assert_anomalies(fast, ref, 3.0)


def test_anomaly_of_empty_and_short_series_is_empty() -> None:
    for values, offsets in (([], [0]), ([1.0], [0, 1]), ([1.0, 2.0, 3.0], [0, 3])):
        fast, ref = both("anomaly_scan", {"values": values, "offsets": offsets}, {"window": 5})
        assert fast["index"].size == 0
        assert_anomalies(fast, ref, 3.0)


def test_anomaly_refuses_bad_offsets_and_nan() -> None:
    scan = kernel("anomaly_scan")
    with pytest.raises(InvalidArgument, match="end at len"):
        scan.prepare({"values": [1.0, 2.0], "offsets": [0, 1]}, {})
    with pytest.raises(InvalidArgument, match="not decrease"):
        scan.prepare({"values": [1.0, 2.0], "offsets": [0, 2, 1, 2]}, {})
    with pytest.raises(InvalidArgument, match="not finite"):
        scan.prepare({"values": [1.0, np.nan]}, {})
    with pytest.raises(InvalidArgument, match="integers"):
        scan.prepare({"values": [1.0, 2.0], "offsets": [0.0, 1.5, 2.0]}, {})


@pytest.mark.parametrize("window", [2, 3, 5, 7, 60, 61, 300])
def test_anomaly_matches_reference_for_windows_and_lane_boundaries(window: int) -> None:
    # The kernel scores 4 segments of each device side by side, 4 readings at a time, the rest one
    # at a time: devices whose scored readings end on either side of those boundaries, windows
    # under 4 (the leaving reading is one of the same 4), not a multiple of 4, past the ring's start.
    # A floor on std: a window of 2 or 3 nearly equal readings has a variance the reference's
    # cumulative sums cannot resolve to 1e-6, the floor keeps z well-conditioned.
    rng = np.random.default_rng(window)
    lengths = [window + extra for extra in (0, 1, 3, 4, 15, 16, 17, 19, 20, 33, 64, 1000)] + [7000]
    values = rng.standard_normal(sum(lengths)) * 3.0 + 50.0
    values[rng.choice(len(values), 60, replace=False)] += rng.choice([-30.0, 30.0], 60)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    params = {"window": window, "min_std": 0.3}
    fast, ref = both("anomaly_scan", {"values": values, "offsets": offsets}, params)
    assert fast["count"].sum() >= 40
    assert_anomalies(fast, ref, 3.0)


def test_anomaly_with_a_window_longer_than_the_ring() -> None:
    # Past RING readings the leaving readings are loaded again instead of kept in a ring.
    window = anomaly_kernel.RING + 10
    rng = np.random.default_rng(3)
    values = rng.standard_normal(40_000) + 10.0
    values[rng.choice(40_000, 60, replace=False)] += 8.0
    fast, ref = both("anomaly_scan", {"values": values, "offsets": [0, 15_000, 40_000]}, {"window": window})
    assert fast["count"].sum() >= 40
    assert_anomalies(fast, ref, 3.0)


def test_anomaly_splits_a_long_device_into_pieces_scored_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anomaly_kernel, "PIECE", 1000)
    rng = np.random.default_rng(4)
    values = rng.standard_normal(25_000)
    values[rng.choice(25_000, 80, replace=False)] *= 9.0
    plan = kernel("anomaly_scan").prepare({"values": values, "offsets": [0, 20_000, 25_000]}, {"window": 50})
    assert isinstance(plan, anomaly_kernel.AnomalyPlan)
    assert len(plan.lo) == 25  # ⌈19,950 / 1000⌉ + ⌈4,950 / 1000⌉
    fast, ref = run(plan), plan.reference()
    assert fast["count"].sum() >= 50
    assert_anomalies(fast, ref, 3.0)


def test_anomaly_of_a_flat_window_without_a_floor_is_infinite() -> None:
    values = np.full(40, 7.0)
    values[30] = 7.5
    fast, ref = both("anomaly_scan", {"values": values}, {"window": 10, "min_std": 0.0})
    assert fast["index"].tolist() == ref["index"].tolist() == [30]
    assert fast["z"].tolist() == ref["z"].tolist() == [np.inf]


def test_kernels_give_the_same_results_from_kept_scratch() -> None:
    # Per-thread grids and rooms are kept between plans (dirty): a second run must not see the first.
    rng = np.random.default_rng(8)
    for n in (5000, 3000):
        values = rng.standard_normal(n)
        fast, ref = both("anomaly_scan", {"values": values, "offsets": [0, n // 3, n]}, {"window": 20})
        assert_anomalies(fast, ref, 3.0)
        x, y = rng.uniform(0, 300, n), rng.uniform(0, 200, n)
        fast, ref = both("density_heatmap", {"x": x, "y": y}, {"nx": 30, "ny": 20})
        close(fast["density"], ref["density"], atol=1e-12 * ref["density"].max())


# --- density_heatmap ----------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.0, 0.7, 2.0])
def test_density_matches_reference(sigma: float) -> None:
    rng = np.random.default_rng(7)
    arrays = {
        "x": rng.uniform(-50, 450, 3000),
        "y": rng.uniform(-50, 350, 3000),
        "weight": rng.uniform(0, 3, 3000),
    }
    fast, ref = both("density_heatmap", arrays, {"nx": 40, "ny": 30, "sigma_cells": sigma})
    close(fast["density"], ref["density"], atol=1e-12 * ref["density"].max())


@pytest.mark.parametrize(("nx", "ny", "sigma"), [(7, 5, 3.0), (1, 40, 2.0), (33, 1, 1.5), (64, 50, 0.5)])
def test_density_without_weights_counts_and_matches_reference(nx: int, ny: int, sigma: float) -> None:
    # Counted (int32) without weights, the same as with weights of 1; small grids under wide blurs
    # (the ring of rows longer than the grid), single rows and columns, thousands of detections.
    rng = np.random.default_rng(11)
    x = rng.uniform(-20, nx * 10 + 20, 5000)
    y = rng.uniform(-20, ny * 10 + 20, 5000)
    params = {"nx": nx, "ny": ny, "sigma_cells": sigma}
    fast, ref = both("density_heatmap", {"x": x, "y": y}, params)
    close(fast["density"], ref["density"], atol=1e-12 * ref["density"].max())
    weighted, _ = both("density_heatmap", {"x": x, "y": y, "weight": np.ones(5000)}, params)
    close(fast["density"], weighted["density"], atol=1e-12 * ref["density"].max())


def test_density_of_no_detection_is_zero_and_one_detection_keeps_its_mass() -> None:
    fast, ref = both("density_heatmap", {"x": [], "y": []}, {"nx": 8, "ny": 8})
    assert not fast["density"].any()
    fast, ref = both("density_heatmap", {"x": [45.0], "y": [45.0]}, {"nx": 9, "ny": 9, "sigma_cells": 1.0})
    assert fast["density"].sum() == pytest.approx(1.0, rel=1e-12)
    assert fast["density"].argmax() == 4 * 9 + 4
    close(fast["density"], ref["density"], atol=1e-12)
    # Coincident detections add up.
    fast, _ = both(
        "density_heatmap", {"x": [5.0, 5.0, 5.0], "y": [5.0, 5.0, 5.0]}, {"nx": 3, "ny": 3, "sigma_cells": 0}
    )
    assert fast["density"][0, 0] == 3.0


# --- flood_sim ----------------------------------------------------------------------------------


def test_flood_matches_reference_and_conserves_water() -> None:
    arrays, params = small("flood_sim", scale=1e-3)
    params["steps"] = 30
    fast, ref = both("flood_sim", arrays, params)
    deepest = ref["max_depth"].max()
    close(fast["depth"], ref["depth"], atol=1e-9 * deepest)
    close(fast["max_depth"], ref["max_depth"], atol=1e-9 * deepest)
    expected = arrays["depth"].sum() + params["rain_m"] * params["steps"] * arrays["depth"].size
    assert fast["depth"].sum() == pytest.approx(expected, rel=1e-12)
    assert fast["depth"].min() > -1e-12


def test_flood_water_runs_downhill_into_a_hollow() -> None:
    terrain = np.array([[3.0, 2.0, 1.0, 0.0]])
    depth = np.array([[1.0, 0.0, 0.0, 0.0]])
    fast, ref = both("flood_sim", {"terrain": terrain, "depth": depth}, {"steps": 2000})
    assert fast["depth"][0, 3] > 0.99
    close(fast["depth"], ref["depth"], atol=1e-9)


def test_flood_one_cell_and_refusals() -> None:
    fast, _ = both("flood_sim", {"terrain": [[5.0]]}, {"steps": 3, "rain_m": 0.01})
    assert fast["depth"][0, 0] == pytest.approx(0.03)
    flood = kernel("flood_sim")
    with pytest.raises(InvalidArgument, match="shape of terrain"):
        flood.prepare({"terrain": np.zeros((2, 2)), "depth": np.zeros((2, 3))}, {})
    with pytest.raises(InvalidArgument, match="negative"):
        flood.prepare({"terrain": np.zeros((2, 2)), "depth": -np.ones((2, 2))}, {})
    with pytest.raises(InvalidArgument, match="must have 2"):
        flood.prepare({"terrain": np.zeros(4)}, {})
    with pytest.raises(InvalidArgument, match="rate"):
        flood.prepare({"terrain": np.zeros((2, 2))}, {"rate": 0.5})


# --- route --------------------------------------------------------------------------------------


def test_route_matches_reference_on_a_street_grid() -> None:
    arrays, params = small("route", scale=0.01)
    fast, ref = both("route", arrays, params)
    close(fast["time_s"], ref["time_s"], rtol=1e-12)
    np.testing.assert_array_equal(fast["nearest"], ref["nearest"])


def test_route_unreachable_responder_and_responder_at_the_target() -> None:
    # 0 → 1 → 2, and node 3 cut off.
    arrays = {
        "edge_from": [0, 1],
        "edge_to": [1, 2],
        "edge_time_s": [10.0, 5.0],
        "responders": [0, 3, 2],
        "targets": [2, 0],
    }
    fast, ref = both("route", arrays, {"nodes": 4})
    assert fast["time_s"].tolist() == [[15.0, np.inf, 0.0], [0.0, np.inf, np.inf]]
    assert fast["nearest"].tolist() == [2, 0]
    close(fast["time_s"], ref["time_s"])


def test_route_with_no_edges_or_no_responders() -> None:
    fast, _ = both(
        "route",
        {"edge_from": [], "edge_to": [], "edge_time_s": [], "responders": [0], "targets": [0, 1]},
        {"nodes": 2},
    )
    assert fast["time_s"].tolist() == [[0.0], [np.inf]]
    fast, _ = both(
        "route",
        {"edge_from": [0], "edge_to": [1], "edge_time_s": [1.0], "responders": [], "targets": [1]},
        {"nodes": 2},
    )
    assert fast["time_s"].shape == (1, 0)
    assert fast["nearest"].tolist() == [-1]


def test_route_refuses_bad_ids_and_negative_times() -> None:
    route = kernel("route")
    good = {"edge_from": [0], "edge_to": [1], "edge_time_s": [1.0], "responders": [0], "targets": [1]}
    with pytest.raises(InvalidArgument, match="edge_to"):
        route.prepare(good | {"edge_to": [2]}, {"nodes": 2})
    with pytest.raises(InvalidArgument, match="≥ 0"):
        route.prepare(good | {"edge_time_s": [-1.0]}, {"nodes": 2})
    with pytest.raises(InvalidArgument, match="not finite"):
        route.prepare(good | {"edge_time_s": [np.nan]}, {"nodes": 2})


# --- the library --------------------------------------------------------------------------------


def test_unknown_kernel_input_and_parameter_are_named() -> None:
    with pytest.raises(NotFound, match="no kernel 'fft'"):
        kernel("fft")
    with pytest.raises(InvalidArgument, match=r"unknown input\(s\) \['z'\]"):
        kernel("idw_grid").prepare({"x": [1.0], "y": [1.0], "value": [1.0], "z": [1.0]}, {})
    with pytest.raises(InvalidArgument, match=r"unknown parameter\(s\) \['speed'\]"):
        kernel("idw_grid").prepare({"x": [1.0], "y": [1.0], "value": [1.0]}, {"speed": 1})
    with pytest.raises(InvalidArgument, match="integer"):
        kernel("idw_grid").prepare({"x": [1.0], "y": [1.0], "value": [1.0]}, {"nx": 2.5})


def test_a_run_reports_progress_and_stops_between_steps_when_cancelled() -> None:
    arrays, params = small("flood_sim", scale=1e-3)
    plan = kernel("flood_sim").prepare(arrays, params | {"steps": 20})
    seen: list[tuple[int, int]] = []
    with pytest.raises(Cancelled, match="after 3 of"):
        run(plan, progress=lambda done, total: seen.append((done, total)), cancelled=lambda: len(seen) == 3)
    assert [d for d, _ in seen] == [1, 2, 3]
    assert seen[0][1] == plan.steps > 3


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_kernel_example_runs_and_matches_at_a_tiny_scale(name: str) -> None:
    arrays, params = small(name, seed=11, scale=1e-3)
    fast, ref = both(name, arrays, params)
    assert set(fast) == set(ref) == set(KERNELS[name].outputs)
    for key in fast:
        assert fast[key].shape == ref[key].shape
        if fast[key].dtype.kind == "f":
            scale = max(1.0, float(np.abs(ref[key][np.isfinite(ref[key])]).max(initial=0.0)))
            close(fast[key], ref[key], atol=1e-6 * scale)


def test_anomaly_when_most_readings_are_anomalies() -> None:
    # More anomalies than the first pass has room for: the second pass must give them all, in order.
    rng = np.random.default_rng(9)
    values = rng.standard_normal(5000)
    offsets = [0, 1000, 1003, 5000]
    fast, ref = both("anomaly_scan", {"values": values, "offsets": offsets}, {"window": 2, "threshold": 0.5})
    assert fast["count"].sum() > 2000
    assert_anomalies(fast, ref, 0.5)


def test_simd_quad_loads_four_rows_transposed() -> None:
    from citymesh.compute.kernels.simd import fma, fma1, lane, lowest_bit, quad, signs, splat, vor

    def _columns(a: npt.NDArray[np.float64], i0: int, i1: int, i2: int, i3: int) -> npt.NDArray[np.float64]:
        out = np.empty((4, 4))
        c0, c1, c2, c3 = quad(a, i0, i1, i2, i3)
        for k in range(4):
            out[0, k], out[1, k], out[2, k], out[3, k] = lane(c0, k), lane(c1, k), lane(c2, k), lane(c3, k)
        return out

    def _bits(a: float, b: float, c: float) -> tuple[int, int, float, float]:
        v = fma(splat(a), splat(b), splat(c))
        return signs(vor(v, splat(-c))), lowest_bit(40), lane(v, 2), fma1(a, b, c)

    columns: Any = njit(_columns)
    bits: Any = njit(_bits)
    a = np.arange(40.0)
    np.testing.assert_array_equal(
        columns(a, 3, 20, 7, 36), [[3, 20, 7, 36], [4, 21, 8, 37], [5, 22, 9, 38], [6, 23, 10, 39]]
    )
    eps = 2.0**-30
    # (1 + ε)(1 − ε) − 1 = −ε² exactly when fused; 0 when the product is rounded first.
    assert bits(1 + eps, 1 - eps, -1.0) == (0b1111, 3, -(eps**2), -(eps**2))
    assert bits(1.0, 1.0, -0.5)[0] == 0  # no sign bit in 1 · 1 − 0.5, nor in 0.5
