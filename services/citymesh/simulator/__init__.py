"""The city simulator: the seed's 2,003 camera channels and 512 sensors, streaming readings with
plausible daily patterns to the collection service (`citymesh simulate`), and the cameras' AI
reporting a few detections (fire, crowds, accidents, ...: 0.1 per camera per simulated hour by
default, seeded; simulator/detections.py).

Library use (the launcher, benchmarks): `Fleet.build(seed)` and
`await run_simulation("host:port", rate, seconds, stats)`.
"""

from __future__ import annotations

import argparse
from typing import Any

from citymesh.simulator.detections import DETECTIONS_PER_CAMERA_HOUR
from citymesh.simulator.fleet import DEFAULT_SEED, Fleet
from citymesh.simulator.run import run_simulation
from citymesh.simulator.schedule import MAX_BACKFILL_S
from citymesh.simulator.stats import Checkpoint, SimulationStats

__all__ = ["DEFAULT_SEED", "Checkpoint", "Fleet", "SimulationStats", "add_parser", "run_simulation"]


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="stream the simulated city's readings to a collection service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--collection", required=True, metavar="HOST:PORT", help="collection service address")
    p.add_argument(
        "--rate",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1: cameras read every 10 s, sensors every "
        "60 s). Simulated time never passes the wall clock, so a run at rate > 1 starts in the past "
        "and reaches the present at its end (an endless run: after an hour)",
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="stream this long, then stop (default: until Ctrl-C)"
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"fleet seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--streams", type=int, default=0, help="StreamReadings streams (default: one per sub-district)"
    )
    p.add_argument(
        "--token",
        default="",
        help="the simulator's token, a `service` token from governance (default: CITYMESH_TOKEN; "
        "`citymesh token sign --roles service` makes one)",
    )
    p.add_argument("--batch-size", type=int, default=1000, help="readings per batch at most (default 1000)")
    p.add_argument(
        "--detections",
        type=float,
        default=DETECTIONS_PER_CAMERA_HOUR,
        metavar="PER_CAMERA_HOUR",
        help="camera detections per camera per hour of simulated time (default %(default)g; 0: none)",
    )
    p.add_argument(
        "--max-backfill",
        type=float,
        default=MAX_BACKFILL_S / 3600,
        metavar="HOURS",
        help="start at most this far in the past (default %(default)g)",
    )
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from citymesh.simulator.cli import simulate

    return simulate(args)
