"""Benchmarks: commands that print figures, each against a baseline measured in the same run."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    kinds = bench.add_subparsers(dest="bench", required=True)
    ingest = kinds.add_parser("ingest", help="ingest throughput and latency vs. raw JetStream publishing")
    ingest.add_argument("--seconds", type=float, default=10.0, help="load duration (default 10)")
    ingest.add_argument("--workers", type=int, default=2, help="load-generator processes (default 2)")
    ingest.add_argument(
        "--streams", type=int, default=8, help="StreamReadings streams per worker (default 8)"
    )
    ingest.add_argument("--window", type=int, default=8, help="batches in flight per stream (default 8)")
    ingest.add_argument("--readings", type=int, default=1000, help="readings per batch (default 1000)")
    ingest.add_argument("--json", action="store_true", help="print JSON")
    ingest.set_defaults(func=_ingest)
    kernels = kinds.add_parser(
        "kernels", help="compute kernels: Numba vs. NumPy, against this machine's measured peaks"
    )
    kernels.add_argument("names", nargs="*", help="kernels to measure (default: all)")
    kernels.add_argument("--scale", type=float, default=1.0, help="problem size × default (default 1)")
    kernels.add_argument("--repeats", type=int, default=3, help="Numba runs; the best counts (default 3)")
    kernels.add_argument("--json", action="store_true", help="print JSON")
    kernels.set_defaults(func=_kernels)


def _ingest(args: argparse.Namespace) -> int:
    from citymesh.bench.ingest import Plan, report, run

    plan = Plan(
        seconds=args.seconds,
        workers=args.workers,
        streams=args.streams,
        window=args.window,
        readings=args.readings,
    )
    print(report(run(plan), args.json))
    return 0


def _kernels(args: argparse.Namespace) -> int:
    from citymesh.compute.bench import bench, report

    print(report(bench(args.names or None, args.scale, args.repeats), args.json))
    return 0
