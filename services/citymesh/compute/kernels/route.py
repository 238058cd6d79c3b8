"""route: shortest travel times from responders to incident points over a road graph.

The road graph is a list of directed edges (from, to, travel time in seconds) between `nodes`
intersections. For each target (an incident's nearest intersection) the kernel runs Dijkstra's
algorithm backwards from the target, over the reversed edges, and stops once every responder is
settled: `time_s[t, k]` is the shortest time from responder k to target t (inf when it cannot get
there), `nearest[t]` the fastest responder (−1 when none can). Governance's dispatch calls it.

Targets run in parallel (one Dijkstra per thread). The reference is the same algorithm in Python
with heapq over NumPy arrays: NumPy has no graph search, and this is what one writes without a
compiler. Times are sums of the same edge times in possibly different orders: tolerance relative
1e-12.
"""

from __future__ import annotations

import heapq

import numpy as np
import numpy.typing as npt

from citymesh.compute.kernels.jit import kernel, prange, serial
from citymesh.compute.kernels.spec import ArrayInput, Arrays, Kernel, Param, Work, blocks, same_length
from citymesh.runtime.errors import InvalidArgument

MAX_NODES = 20_000_000
MAX_EDGES = 100_000_000
MAX_PAIRS = 10_000_000
STEPS = 16


def reversed_csr(
    nodes: int, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64], cost: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The edges grouped by their head: for node v, the edges into it are start[v]:start[v+1]."""
    order = np.argsort(dst, kind="stable")
    start = np.zeros(nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=nodes), out=start[1:])
    return start, np.ascontiguousarray(src[order]), np.ascontiguousarray(cost[order])


@serial
def _push(heap_d: npt.NDArray[np.float64], heap_v: npt.NDArray[np.int64], size: int, d: float, v: int) -> int:
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_d[parent] <= d:
            break
        heap_d[i] = heap_d[parent]
        heap_v[i] = heap_v[parent]
        i = parent
    heap_d[i] = d
    heap_v[i] = v
    return size + 1


@serial
def _pop(heap_d: npt.NDArray[np.float64], heap_v: npt.NDArray[np.int64], size: int) -> int:
    """Remove the root (read it before calling); returns the new size."""
    size -= 1
    d = heap_d[size]
    v = heap_v[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] < heap_d[child]:
            child += 1
        if heap_d[child] >= d:
            break
        heap_d[i] = heap_d[child]
        heap_v[i] = heap_v[child]
        i = child
    if size > 0:
        heap_d[i] = d
        heap_v[i] = v
    return size


@kernel()
def _dijkstra_targets(
    start: npt.NDArray[np.int64],
    tail: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    responders: npt.NDArray[np.int64],
    targets: npt.NDArray[np.int64],
    t0: int,
    t1: int,
    out: npt.NDArray[np.float64],
) -> None:
    nodes = start.size - 1
    edges = tail.size
    for q in prange(t1 - t0):
        t = t0 + q
        dist = np.full(nodes, np.inf)
        done = np.zeros(nodes, dtype=np.uint8)
        wanted = np.zeros(nodes, dtype=np.uint8)
        remaining = 0
        for k in range(responders.size):
            if wanted[responders[k]] == 0:
                wanted[responders[k]] = 1
                remaining += 1
        heap_d = np.empty(edges + 1)
        heap_v = np.empty(edges + 1, dtype=np.int64)
        size = 0
        dist[targets[t]] = 0.0
        size = _push(heap_d, heap_v, size, 0.0, targets[t])
        while size > 0 and remaining > 0:
            d = heap_d[0]
            v = heap_v[0]
            size = _pop(heap_d, heap_v, size)
            if done[v]:
                continue
            done[v] = 1
            if wanted[v]:
                remaining -= 1
            for e in range(start[v], start[v + 1]):
                u = tail[e]
                nd = d + cost[e]
                if nd < dist[u]:
                    dist[u] = nd
                    size = _push(heap_d, heap_v, size, nd, u)
        for k in range(responders.size):
            out[t, k] = dist[responders[k]]


class RoutePlan:
    def __init__(self, nodes: int, arrays: Arrays) -> None:
        self.nodes = nodes
        self.src, self.dst, self.cost = arrays["edge_from"], arrays["edge_to"], arrays["edge_time_s"]
        self.responders, self.targets = arrays["responders"], arrays["targets"]
        self.csr = reversed_csr(nodes, self.src, self.dst, self.cost)
        self.time = np.empty((len(self.targets), len(self.responders)))
        self.parts = blocks(len(self.targets), STEPS) if len(self.targets) else []
        self.steps = len(self.parts)

    def step(self, i: int) -> None:
        start, tail, cost = self.csr
        t0, t1 = self.parts[i]
        _dijkstra_targets(start, tail, cost, self.responders, self.targets, t0, t1, self.time)

    def outputs(self) -> Arrays:
        return {"time_s": self.time, "nearest": nearest(self.time)}

    def reference(self) -> Arrays:
        start, tail, cost = self.csr
        wanted = set(self.responders.tolist())
        time = np.empty((len(self.targets), len(self.responders)))
        for t, target in enumerate(self.targets.tolist()):
            dist = np.full(self.nodes, np.inf)
            dist[target] = 0.0
            done = np.zeros(self.nodes, dtype=bool)
            remaining = set(wanted)
            heap = [(0.0, target)]
            while heap and remaining:
                d, v = heapq.heappop(heap)
                if done[v]:
                    continue
                done[v] = True
                remaining.discard(v)
                for e in range(start[v], start[v + 1]):
                    u = tail[e]
                    nd = d + cost[e]
                    if nd < dist[u]:
                        dist[u] = nd
                        heapq.heappush(heap, (nd, u))
            time[t] = dist[self.responders]
        return {"time_s": time, "nearest": nearest(time)}

    def work(self) -> Work:
        # Each target may touch every edge once: its head, tail, time and the tail's distance.
        per_target = 32.0 * len(self.src) + 17.0 * self.nodes
        return Work(flops=2.0 * len(self.src) * len(self.targets), bytes=per_target * len(self.targets))


def nearest(time: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    if time.shape[1] == 0:
        return np.full(time.shape[0], -1, dtype=np.int64)
    best: npt.NDArray[np.int64] = time.argmin(axis=1).astype(np.int64)
    best[~np.isfinite(time.min(axis=1))] = -1
    return best


def build(arrays: Arrays, params: dict[str, float]) -> RoutePlan:
    nodes = int(params["nodes"])
    m = same_length("route", arrays, "edge_from", "edge_to", "edge_time_s")
    if m > MAX_EDGES:
        raise InvalidArgument(f"route: {m:,} edges; the limit is {MAX_EDGES:,}")
    for name in ("edge_from", "edge_to", "responders", "targets"):
        ids = arrays[name]
        if ids.size and (ids.min() < 0 or ids.max() >= nodes):
            bad = int(np.flatnonzero((ids < 0) | (ids >= nodes))[0])
            raise InvalidArgument(
                f"route: {name}[{bad}] is {int(ids[bad])}; node ids run from 0 to nodes − 1 = {nodes - 1}"
            )
    times = arrays["edge_time_s"]
    if times.size and times.min() < 0:
        bad = int(np.flatnonzero(times < 0)[0])
        raise InvalidArgument(f"route: edge_time_s[{bad}] is {times[bad]}; travel times are ≥ 0")
    pairs = len(arrays["responders"]) * len(arrays["targets"])
    if pairs > MAX_PAIRS:
        raise InvalidArgument(f"route: {pairs:,} responder × target pairs; the limit is {MAX_PAIRS:,}")
    return RoutePlan(nodes, arrays)


def grid_roads(
    side: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A side × side street grid, both directions, 100 m blocks at 20–60 km/h."""
    ids = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate(
        [
            np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1),
            np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1),
        ]
    )
    src = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(np.int64)
    speed = rng.uniform(20.0, 60.0, len(src)) / 3.6
    return src, dst, 100.0 / speed


def example(scale: float, rng: np.random.Generator) -> tuple[Arrays, dict[str, float]]:
    side = max(2, round(300 * np.sqrt(scale)))
    src, dst, cost = grid_roads(side, rng)
    nodes = side * side
    arrays = {
        "edge_from": src,
        "edge_to": dst,
        "edge_time_s": cost,
        "responders": rng.integers(0, nodes, 64),
        "targets": rng.integers(0, nodes, 4),
    }
    return arrays, {"nodes": nodes}


def size(arrays: Arrays, params: dict[str, float]) -> str:
    return (
        f"{int(params['nodes']):,} nodes, {len(arrays['edge_from']):,} edges, "
        f"{len(arrays['responders'])} responders × {len(arrays['targets'])} targets"
    )


KERNEL = Kernel(
    name="route",
    summary="Shortest travel times from responders to incident points over a road graph (Dijkstra).",
    params=(Param("nodes", "int", 1, 1, MAX_NODES, "Number of intersections; node ids are 0 … nodes − 1."),),
    inputs=(
        ArrayInput("edge_from", "int64", 1, "Road segments: the intersection each starts at."),
        ArrayInput("edge_to", "int64", 1, "Road segments: the intersection each ends at."),
        ArrayInput("edge_time_s", "float64", 1, "Road segments: travel time, seconds (≥ 0)."),
        ArrayInput("responders", "int64", 1, "The intersection where each responder is."),
        ArrayInput("targets", "int64", 1, "The intersection of each incident."),
    ),
    outputs=("time_s", "nearest"),
    bound="bytes",
    max_elements=3 * MAX_EDGES + 2 * MAX_PAIRS,
    build=build,
    example=example,
    size=size,
    notes="time_s: float64 [targets, responders] (inf: unreachable); nearest: int64 [targets] "
    "(−1: none). Tolerance vs. reference: relative 1e-12.",
)
