"""`citymesh peaks`, `citymesh awards` and `citymesh index`: the governance center's tables in a
terminal.

The address is --address, else CITYMESH_GOVERNANCE_ADDRESS, else the one `citymesh up` wrote to
.citymesh/run/ports.json. The caller is the token of --token, else CITYMESH_TOKEN; against a
development platform (CITYMESH_AUTH_DEV_HEADERS) it is --tenant and --roles, else CITYMESH_TENANT
and CITYMESH_ROLES (e.g. `--tenant zone --roles zone-admin`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import grpc

from citymesh import clients
from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.api.governance.v1 import governance_pb2_grpc

STATE_NAMES = {v: k.removeprefix("PEAK_STATE_").lower() for k, v in pb.PeakState.items()}
KIND_NAMES = {v: k.removeprefix("AWARD_KIND_").lower().replace("_", "-") for k, v in pb.AwardKind.items()}


def add_parser(sub: Any) -> None:
    for name, help_text, func in (
        ("peaks", "the peaks of each sub-district and their state", _peaks),
        ("awards", "the award ledger: every decision, the rule applied and why", _awards),
        ("index", "the digital-economy index of each peak and of the zone", _index),
    ):
        p = sub.add_parser(name, help=help_text)
        clients.add_arguments(p, "governance")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "awards":
            p.add_argument("--enterprise", default="", help="only this enterprise's decisions")
            p.add_argument("--peak", default="", help="only the decisions of this peak's claims")
        if name == "index":
            p.add_argument("--peak", default="", help="only this peak")
        p.set_defaults(func=func)

    token = sub.add_parser("token", help="governance keys and tokens, offline (the first zone-admin token)")
    steps = token.add_subparsers(dest="token", required=True)
    keys = steps.add_parser("keys", help="write a new Ed25519 key pair (signing-key.pem, public-key.pem)")
    keys.add_argument("--out", type=Path, default=Path("."), help="folder to write them in (default: here)")
    keys.set_defaults(func=_token_keys)
    sign = steps.add_parser("sign", help="print a token signed with the governance signing key")
    sign.add_argument("--signing-key", type=Path, required=True, help="the PEM file of `citymesh token keys`")
    sign.add_argument("--tenant", default="zone", help="whose token (default: zone, the zone's staff)")
    sign.add_argument("--district", default="", help="the tenant's sub-district, for a peak's token")
    sign.add_argument("--roles", default="zone-admin", help="comma-separated roles (default: zone-admin)")
    sign.add_argument("--ttl", type=int, default=3600, help="seconds it stays valid (default: 3600)")
    sign.set_defaults(func=_token_sign)


def address(args: argparse.Namespace) -> str:
    return clients.address(args, "governance")


metadata = clients.metadata


def table(header: list[str], rows: list[list[str]], out: TextIO, right: frozenset[int] = frozenset()) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print(line(r), file=out)


def cny(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"


def peaks_table(response: pb.ListPeaksResponse, out: TextIO) -> None:
    rows = [
        [
            p.district,
            p.peak_id,
            p.name or "-",
            p.enterprise or ("candidates: " + ", ".join(p.candidates) if p.candidates else "-"),
            STATE_NAMES.get(p.state, "?"),
            str(p.version),
        ]
        for p in response.peaks
    ]
    table(["sub-district", "peak", "name", "enterprise", "state", "version"], rows, out, frozenset({5}))


def awards_table(response: pb.ListAwardsResponse, out: TextIO) -> None:
    rows = [
        [
            d.claim.claim_id,
            d.claim.enterprise,
            KIND_NAMES.get(d.claim.kind, "?"),
            "granted" if d.granted else "refused",
            cny(d.amount_fen),
            d.explanation,
        ]
        for d in response.decisions
    ]
    table(["claim", "enterprise", "rule", "decision", "CNY", "why"], rows, out, frozenset({4}))
    print(f"total awarded: {cny(response.total_fen)} CNY", file=out)


async def _call(args: argparse.Namespace) -> Any:
    async with grpc.aio.insecure_channel(address(args)) as channel:
        stub = governance_pb2_grpc.GovernanceServiceStub(channel)
        try:
            if args.command == "peaks":
                return await stub.ListPeaks(pb.ListPeaksRequest(), metadata=metadata(args), timeout=10)
            if args.command == "index":
                return await stub.GetEconomyIndex(
                    pb.GetEconomyIndexRequest(peak_id=args.peak), metadata=metadata(args), timeout=30
                )
            return await stub.ListAwards(
                pb.ListAwardsRequest(enterprise=args.enterprise, peak_id=args.peak),
                metadata=metadata(args),
                timeout=10,
            )
        except grpc.aio.AioRpcError as exc:
            raise SystemExit(f"governance: {exc.code().name}: {exc.details()}") from None


def _print(args: argparse.Namespace, response: Any, render: Any) -> int:
    if args.json:
        from google.protobuf.json_format import MessageToDict

        print(json.dumps(MessageToDict(response), indent=2))
    else:
        render(response, sys.stdout)
    return 0


def _peaks(args: argparse.Namespace) -> int:
    return _print(args, asyncio.run(_call(args)), peaks_table)


def _awards(args: argparse.Namespace) -> int:
    return _print(args, asyncio.run(_call(args)), awards_table)


def _index(args: argparse.Namespace) -> int:
    return _print(args, asyncio.run(_call(args)), index_table)


INDICATORS = (
    (pb.ECONOMY_INDICATOR_INFRASTRUCTURE, "infrastructure"),
    (pb.ECONOMY_INDICATOR_CITY_SERVICES, "services"),
    (pb.ECONOMY_INDICATOR_CITY_GOVERNANCE, "governance"),
    (pb.ECONOMY_INDICATOR_INDUSTRY_INTEGRATION, "industry"),
)


def index_table(response: pb.GetEconomyIndexResponse, out: TextIO) -> None:
    units = list(response.peaks)
    if response.HasField("zone"):
        units.append(response.zone)

    def name(u: pb.EconomyIndex) -> str:
        return u.peak_id or "(zone)"

    def indicator(u: pb.EconomyIndex, which: int) -> str:
        found = next((i for i in u.indicators if i.indicator == which), None)
        return f"{found.score:.1f}" if found is not None and found.measured else "-"

    rows = [
        [
            str(u.rank) if u.peak_id else "",
            name(u),
            u.district or "all",
            *(indicator(u, which) for which, _ in INDICATORS),
            f"{u.score:.1f}",
            f"{100 * u.measured_weight:.0f}%",
        ]
        for u in units
    ]
    header = ["rank", "peak", "sub-district", *(label for _, label in INDICATORS), "index", "measured"]
    table(header, rows, out, frozenset(range(3, 9)))
    print(file=out)
    figures = [
        [
            name(u),
            f"{u.figures.devices:,}",
            str(u.figures.device_kinds),
            f"{u.figures.telemetry_batches:,}",
            f"{u.figures.compute_jobs_succeeded:,}/{u.figures.compute_jobs:,}",
            f"{u.figures.compute_core_seconds:,.0f}",
            f"{u.figures.incidents_acknowledged:,}/{u.figures.incidents_resolved:,}/{u.figures.incidents:,}",
            _minutes(u.figures.mean_time_to_acknowledge_s, u.figures.incidents_acknowledged),
            f"{u.figures.awards_granted:,}",
            cny(u.figures.awarded_fen),
        ]
        for u in units
    ]
    header = [
        "peak",
        "devices",
        "kinds",
        "batches",
        "jobs ok/all",
        "core-s",
        "incidents ack/res/all",
        "MTTA min",
        "awards",
        "CNY",
    ]
    table(header, figures, out, frozenset(range(1, 10)))
    print(
        "scores 0-100; '-': nothing to measure yet; four indicators of 25% each (docs/governance.md)",
        file=out,
    )


def _minutes(seconds: float, count: int) -> str:
    return f"{seconds / 60:,.1f}" if count else "-"


def _token_keys(args: argparse.Namespace) -> int:
    from citymesh.runtime.auth import new_key_pair

    private, public = new_key_pair()
    args.out.mkdir(parents=True, exist_ok=True)
    signing = args.out / "signing-key.pem"
    if signing.exists():
        print(f"citymesh token keys: {signing} exists; not overwriting it", file=sys.stderr)
        return 1
    signing.touch(mode=0o600)
    signing.write_text(private)
    (args.out / "public-key.pem").write_text(public)
    print(
        f"wrote {signing} (keep it secret: governance's CITYMESH_SIGNING_KEY) and "
        f"{args.out / 'public-key.pem'} (every service's CITYMESH_AUTH_PUBLIC_KEY)"
    )
    return 0


def _token_sign(args: argparse.Namespace) -> int:
    import time

    from citymesh.runtime.auth import Identity, load_private_key, sign
    from citymesh.runtime.errors import InvalidArgument

    try:
        key = load_private_key(args.signing_key.read_text())
    except (OSError, InvalidArgument) as exc:
        print(f"citymesh token sign: {exc}", file=sys.stderr)
        return 2
    roles = frozenset(r.strip() for r in args.roles.split(",") if r.strip())
    print(sign(key, Identity(args.tenant, args.district, roles), time.time() + args.ttl))
    return 0
