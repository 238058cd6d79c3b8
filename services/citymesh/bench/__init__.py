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
    isolation = kinds.add_parser(
        "isolation", help="one tenant floods ingest and queries; another's p99 vs. its no-flood baseline"
    )
    isolation.add_argument(
        "--seconds", type=float, default=12.0, help="seconds measured with and without the flood (default 12)"
    )
    isolation.add_argument("--rounds", type=int, default=3, help="rounds of (no flood, flood) (default 3)")
    isolation.add_argument(
        "--ingest-limit", type=int, default=5000, help="readings/s per tenant (default 5000)"
    )
    isolation.add_argument("--query-limit", type=int, default=20, help="queries/s per tenant (default 20)")
    isolation.add_argument(
        "--flood-ingest", type=int, default=8, help="the flooder's concurrent ingest loops (default 8)"
    )
    isolation.add_argument(
        "--flood-queries", type=int, default=4, help="the flooder's concurrent query loops (default 4)"
    )
    isolation.add_argument("--json", action="store_true", help="print JSON")
    isolation.set_defaults(func=_isolation)
    kernels = kinds.add_parser(
        "kernels", help="compute kernels: Numba vs. NumPy, against this machine's measured peaks"
    )
    kernels.add_argument("names", nargs="*", help="kernels to measure (default: all)")
    kernels.add_argument("--scale", type=float, default=1.0, help="problem size × default (default 1)")
    kernels.add_argument("--repeats", type=int, default=3, help="Numba runs; the best counts (default 3)")
    kernels.add_argument("--json", action="store_true", help="print JSON")
    kernels.set_defaults(func=_kernels)
    rules = kinds.add_parser(
        "rules",
        help="incident rules over telemetry: the pipeline through JetStream vs. a plain-Python baseline",
    )
    rules.add_argument(
        "--batches", type=int, default=1200, help="seconds of the city's telemetry (default 1200)"
    )
    rules.add_argument("--readings", type=int, default=1000, help="readings per second of it (default 1000)")
    rules.add_argument("--json", action="store_true", help="print JSON")
    rules.set_defaults(func=_rules)


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


def _isolation(args: argparse.Namespace) -> int:
    from citymesh.bench.isolation import Plan, report, run

    plan = Plan(
        seconds=args.seconds,
        rounds=args.rounds,
        ingest_limit=args.ingest_limit,
        query_limit=args.query_limit,
        flood_ingest=args.flood_ingest,
        flood_queries=args.flood_queries,
    )
    result = run(plan)
    print(report(result, args.json))
    return 0 if result["holds"] else 1


def _kernels(args: argparse.Namespace) -> int:
    from citymesh.compute.bench import bench, report

    print(report(bench(args.names or None, args.scale, args.repeats), args.json))
    return 0


def _rules(args: argparse.Namespace) -> int:
    from citymesh.bench.rules import Plan, report, run

    print(report(run(Plan(batches=args.batches, readings=args.readings)), args.json))
    return 0
