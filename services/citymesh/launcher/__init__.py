"""`citymesh up`: run the whole platform on this machine (nats-server, every service, the city
simulator) with a live status; Ctrl-C stops it all, and `up` again resumes on the same data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from citymesh.launcher.services import SERVICES, ServiceSpec
from citymesh.launcher.up import Launcher, Options, up
from citymesh.simulator.fleet import DEFAULT_SEED

__all__ = ["SERVICES", "Launcher", "Options", "ServiceSpec", "add_parser", "up"]


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "up", help="run the platform here: nats-server, every service, the simulator", description=__doc__
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path(".citymesh"),
        help="data folder (default .citymesh); kept between runs",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1); above 1 the simulator replays the recent "
        "past faster than real time until it reaches the present",
    )
    p.add_argument("--no-simulator", action="store_true", help="run the platform without the simulator")
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"simulator fleet seed (default {DEFAULT_SEED})"
    )
    p.set_defaults(func=_up)


def _up(args: argparse.Namespace) -> int:
    if args.rate <= 0:
        raise SystemExit("citymesh up: --rate must be positive")
    return up(Options(data_dir=args.data, rate=args.rate, simulator=not args.no_simulator, seed=args.seed))
