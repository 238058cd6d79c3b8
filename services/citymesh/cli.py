"""The `citymesh` command: run a service, the simulator, the whole platform, or a benchmark."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from citymesh.runtime.settings import ServiceSettings, settings_table

SERVICES = {
    "collection": "citymesh.collection.app",
    "exchange": "citymesh.exchange.app",
    "compute": "citymesh.compute.app",
    "governance": "citymesh.governance.app",
    "peak": "citymesh.peak.app",
}
"""Service name → module with `Settings` (a ServiceSettings) and `App(settings)`."""

PROCESSES = {
    "compute-worker": "citymesh.compute.worker_app",
}
"""Processes `citymesh serve` also runs that are part of a service, not one with an API of their own
(they serve only health): name → module with `Settings` and `App`. `citymesh up` runs SERVICES."""


def settings_classes() -> list[type[ServiceSettings]]:
    return [importlib.import_module(module).Settings for module in {**SERVICES, **PROCESSES}.values()]


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from citymesh.runtime.server import serve

    module = importlib.import_module({**SERVICES, **PROCESSES}[args.service])
    try:
        settings = module.Settings()
    except ValidationError as exc:
        missing = ", ".join(
            f"CITYMESH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        print(f"citymesh {args.service}: bad settings: {missing}", file=sys.stderr)
        return 2
    asyncio.run(serve(module.App(settings), settings))
    return 0


def _settings(args: argparse.Namespace) -> int:
    print(settings_table(settings_classes()))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="citymesh", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service (configured by CITYMESH_* variables)")
    serve.add_argument("service", choices=sorted({**SERVICES, **PROCESSES}))
    serve.set_defaults(func=_serve)

    table = sub.add_parser("settings", help="print the table of CITYMESH_* variables")
    table.set_defaults(func=_settings)

    for module in (
        "citymesh.simulator",
        "citymesh.launcher",
        "citymesh.bench",
        "citymesh.compute.cli",
        "citymesh.exchange.cli",
        "citymesh.governance.cli",
        "citymesh.governance.incidents.cli",
    ):
        importlib.import_module(module).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
