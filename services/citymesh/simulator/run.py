"""A whole simulation run: build the fleet, register it, stream it through its gateways."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import grpc

from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.runtime import auth
from citymesh.simulator.detections import DETECTIONS_PER_CAMERA_HOUR
from citymesh.simulator.fleet import DEFAULT_SEED, Fleet
from citymesh.simulator.gateway import Gateway, register_fleet
from citymesh.simulator.report import DetectionReporter
from citymesh.simulator.schedule import MAX_BACKFILL_S, SimClock, backfill_s, wall_ms
from citymesh.simulator.stats import Checkpoint, SimulationStats

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]


def gateway_id(seed: int, part: str) -> str:
    """A gateway's id, the prefix of its batch ids: which fleet and which part of it."""
    return f"sim{seed}-{part}"


def start_of(
    name: str,
    now_ms: int,
    rate: float,
    seconds: float | None,
    resume: Mapping[str, int],
    max_backfill_s: float,
) -> int:
    """Where a gateway's simulated time starts: where it stopped last time, when that is known and
    not older than max_backfill_s; else its backfill before now."""
    oldest = now_ms - int(max_backfill_s * 1000)
    if name in resume:
        return min(now_ms, max(oldest, resume[name]))
    return now_ms - int(backfill_s(rate, seconds, max_backfill_s) * 1000)


async def run_simulation(
    target: str,
    rate: float = 1.0,
    seconds: float | None = None,
    stats: SimulationStats | None = None,
    *,
    seed: int = DEFAULT_SEED,
    streams: int = 0,
    batch_size: int = 1000,
    window: int = 32,
    resume: Checkpoint | None = None,
    max_backfill_s: float = MAX_BACKFILL_S,
    stop: asyncio.Event | None = None,
    drain_s: float = 10.0,
    token: str = "",
    detections_per_camera_hour: float = DETECTIONS_PER_CAMERA_HOUR,
) -> SimulationStats:
    """Register the seed's fleet with the collection service at `target` (host:port) and stream its
    readings for `seconds` of real time after registering (None: until `stop` is set), `rate` times faster than real
    time. Returns `stats` (updated while it runs). After the end it waits up to drain_s for the
    acks of batches in flight. `resume` is where an earlier run stopped (stats.checkpoint()); it
    is ignored when made with another seed. `token` is the simulator's (a `service` token
    governance signed: it registers and feeds every district's devices); empty against a
    collection in development mode. The cameras also report `detections_per_camera_hour`
    detections per hour of simulated time each (ReportDetections; 0: none)."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    stats = stats if stats is not None else SimulationStats()
    stop = stop if stop is not None else asyncio.Event()
    fleet = Fleet.build(seed)
    stats.devices = len(fleet)
    stats.seed = seed
    if resume is not None and resume.seed != seed:
        resume = None
    loop = asyncio.get_running_loop()
    async with grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.CollectionServiceStub(channel)
        stats.phase = "registering"
        metadata = auth.bearer(token)
        await register_fleet(stub, fleet, stats, stop, metadata=metadata)
        if stop.is_set():
            stats.phase = "stopped"
            return stats
        now = wall_ms()
        parts = {gateway_id(seed, part): devices for part, devices in fleet.split(streams).items()}
        cursors = resume.cursors if resume is not None else {}
        reporter_name = gateway_id(seed, "detections")
        names = [*parts, reporter_name] if detections_per_camera_hour > 0 else list(parts)
        starts = {name: start_of(name, now, rate, seconds, cursors, max_backfill_s) for name in names}
        clock = SimClock.starting(min(starts.values()), rate)
        gateways = [
            Gateway(
                name,
                devices,
                clock,
                starts[name],
                stats,
                stop,
                pending=resume.pending.get(name) if resume else None,
                batch_size=batch_size,
                window=window,
                drain_s=drain_s,
                metadata=metadata,
            )
            for name, devices in parts.items()
        ]
        stats.phase = "streaming"
        deadline = None if seconds is None else loop.time() + seconds
        tasks = [asyncio.create_task(g.run(stub, deadline)) for g in gateways]
        if reporter_name in starts:
            reporter = DetectionReporter(
                reporter_name,
                fleet,
                clock,
                starts[reporter_name],
                stats,
                stop,
                per_camera_hour=detections_per_camera_hour,
                drain_s=drain_s,
                metadata=metadata,
            )
            tasks.append(asyncio.create_task(reporter.run(stub, deadline)))
        try:
            waiting: asyncio.Future[Any] = asyncio.gather(*tasks)
            stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
            await asyncio.wait([waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                stats.phase = "draining"
            await waiting
            stopped.cancel()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    stats.phase = "stopped"
    return stats
