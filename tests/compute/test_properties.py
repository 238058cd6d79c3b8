"""Property tests: on any small finite input, Numba and NumPy agree (idw_grid, density_heatmap)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from citymesh.compute.kernels import kernel, run

# Coordinates on a 2.5 m lattice: coincident sensors and sensors on cell centres are frequent.
coords = st.integers(-8, 48).map(lambda k: k * 2.5)


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.tuples(coords, coords, st.floats(0, 500)), min_size=1, max_size=12),
    power=st.sampled_from([1.0, 2.0, 2.5]),
)
def test_idw_agrees_with_numpy(points: list[tuple[float, float, float]], power: float) -> None:
    x, y, v = (np.array(c) for c in zip(*points, strict=True))
    plan = kernel("idw_grid").prepare({"x": x, "y": y, "value": v}, {"nx": 9, "ny": 7, "power": power})
    np.testing.assert_allclose(run(plan)["field"], plan.reference()["field"], rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    xy=arrays(np.float64, st.tuples(st.integers(0, 60), st.just(2)), elements=st.floats(-30, 130)),
    sigma=st.sampled_from([0.0, 0.5, 1.3]),
)
def test_density_agrees_with_numpy(xy: np.ndarray, sigma: float) -> None:
    plan = kernel("density_heatmap").prepare(
        {"x": xy[:, 0], "y": xy[:, 1]}, {"nx": 10, "ny": 8, "sigma_cells": sigma}
    )
    fast, ref = run(plan)["density"], plan.reference()["density"]
    np.testing.assert_allclose(fast, ref, atol=1e-12 * max(1.0, float(ref.max(initial=0.0))))
    # Inside as the kernel defines it: the cell ⌊(x − x0)·(1/cell_m)⌋ exists (so a tiny negative x
    # that rounds to -0.0 falls in column 0, in both implementations).
    cell = np.floor(xy * (1.0 / 10.0))
    inside = ((cell >= 0) & (cell < [10, 8])).all(axis=1).sum() if len(xy) else 0
    assert fast.sum() <= inside + 1e-9
