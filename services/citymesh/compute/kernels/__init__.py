"""The compute service's kernel library: each kernel a Numba implementation and a NumPy reference.

`KERNELS` names them; `run` executes a prepared plan step by step, reporting progress and
stopping between steps when asked to. No transport and no bus here: the worker calls it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from citymesh.compute.kernels import anomaly, coverage, density, flood, idw, route
from citymesh.compute.kernels.spec import Arrays, Kernel, Plan
from citymesh.runtime.errors import NotFound

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (idw.KERNEL, coverage.KERNEL, anomaly.KERNEL, density.KERNEL, flood.KERNEL, route.KERNEL)
}


_STEP = threading.Lock()
"""One step at a time per process: each step already uses every core (Numba's threads), and
Numba's workqueue threading layer (the one always present) must not be entered from two threads."""


class Cancelled(Exception):
    """The run was asked to stop; it stopped between two steps."""


def kernel(name: str) -> Kernel:
    try:
        return KERNELS[name]
    except KeyError:
        raise NotFound(f"no kernel {name!r}; known: {sorted(KERNELS)}") from None


def run(
    plan: Plan,
    progress: Callable[[int, int], None] = lambda done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Arrays:
    """Run every step of `plan`; `progress(done, total)` after each, Cancelled when asked."""
    for i in range(plan.steps):
        if cancelled():
            raise Cancelled(f"cancelled after {i} of {plan.steps} steps")
        with _STEP:
            plan.step(i)
        progress(i + 1, plan.steps)
    return plan.outputs()
