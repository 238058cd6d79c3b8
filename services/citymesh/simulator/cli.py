"""`citymesh simulate`: run the simulator against a collection service, printing its progress."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from citymesh.simulator.run import run_simulation
from citymesh.simulator.stats import SimulationStats

PROGRESS_S = 5.0


def progress_line(stats: SimulationStats, readings_per_s: float) -> str:
    sim = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(stats.sim_time_ms / 1000))
        if stats.sim_time_ms
        else "-"
    )
    return (
        f"{stats.phase}: {stats.registered}/{stats.devices} devices, {readings_per_s:,.0f} readings/s, "
        f"{stats.readings_accepted:,} accepted, {stats.readings_rejected:,} rejected, "
        f"{stats.in_flight} batches in flight, sim time {sim}{' (live)' if stats.live else ''}"
    )


async def _main(args: argparse.Namespace) -> SimulationStats:
    stats = SimulationStats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    run = asyncio.create_task(
        run_simulation(
            args.collection,
            args.rate,
            args.seconds,
            stats,
            seed=args.seed,
            streams=args.streams,
            batch_size=args.batch_size,
            max_backfill_s=args.max_backfill * 3600,
            stop=stop,
            token=args.token or os.environ.get("CITYMESH_TOKEN", ""),
            detections_per_camera_hour=args.detections,
        )
    )
    last, last_t = 0, time.monotonic()
    while not run.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(run), PROGRESS_S)
        now = time.monotonic()
        rate = (stats.readings_accepted - last) / max(now - last_t, 1e-9)
        last, last_t = stats.readings_accepted, now
        print(progress_line(stats, rate), flush=True)
        if stats.last_error:
            print(f"  last error: {stats.last_error}", flush=True)
    return await run


def simulate(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    stats = asyncio.run(_main(args))
    print(f"simulation ended: {stats.summary()}", flush=True)
    nothing_stored = stats.readings_sent > 0 and stats.readings_accepted == 0
    broken = stats.registration_failures > 0 or stats.batches_failed > 0 or stats.unconfirmed_batches > 0
    return 1 if nothing_stored or broken else 0
