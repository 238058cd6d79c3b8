"""`citymesh incidents`: the incident pipeline from a terminal.

    citymesh incidents [--state open --district gouzhao --type flood --limit 50]   the incidents
    citymesh incidents stats | rules | units                                        the other tables
    citymesh incidents ack ID | dispatch ID [--unit U] | resolve ID --note TEXT     act on one

The address is --address, else CITYMESH_GOVERNANCE_ADDRESS, else the one `citymesh up` wrote to
.citymesh/run/ports.json. The caller is the token of --token, else CITYMESH_TOKEN; against a
development platform (CITYMESH_AUTH_DEV_HEADERS) it is --tenant / --district / --roles, unchecked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import grpc
from google.protobuf.json_format import MessageToDict

from citymesh import clients
from citymesh import convert as city
from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.city import DISTRICTS
from citymesh.governance.cli import address, table

STATES = {
    "open": pb.INCIDENT_STATE_OPEN,
    "acknowledged": pb.INCIDENT_STATE_ACKNOWLEDGED,
    "dispatched": pb.INCIDENT_STATE_DISPATCHED,
    "resolved": pb.INCIDENT_STATE_RESOLVED,
}
STATE_NAMES = {v: k for k, v in STATES.items()}
SEVERITY_NAMES = {v: k.removeprefix("INCIDENT_SEVERITY_").lower() for k, v in pb.IncidentSeverity.items()}
AGGREGATE_NAMES = {v: k.removeprefix("RULE_AGGREGATE_").lower() for k, v in pb.RuleAggregate.items()}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("incidents", help="the incident pipeline: incidents, statistics, rules, units; act")
    clients.add_arguments(p, "governance")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--state", action="append", choices=sorted(STATES), default=[], help="only this state")
    p.add_argument(
        "--in",
        dest="districts",
        action="append",
        choices=DISTRICTS,
        default=[],
        help="only this sub-district",
    )
    p.add_argument("--type", dest="types", action="append", default=[], help="only this incident type")
    p.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    p.set_defaults(func=_run)
    verbs = p.add_subparsers(dest="verb")
    for name, text in (
        ("list", "the incidents, newest first (the default)"),
        ("stats", "per sub-district: incidents by state, mean time to acknowledge and resolve"),
        ("rules", "the rules, the correlation and the SLA of each severity"),
        ("units", "the responder units"),
    ):
        verbs.add_parser(name, help=text).set_defaults(verb=name)
    ack = verbs.add_parser("ack", help="acknowledge an open incident")
    ack.add_argument("incident_id")
    dispatch = verbs.add_parser("dispatch", help="dispatch a unit (default: the responsible one)")
    dispatch.add_argument("incident_id")
    dispatch.add_argument("--unit", default="", help="the unit to send (see `citymesh incidents units`)")
    resolve = verbs.add_parser("resolve", help="close an incident with a resolution note")
    resolve.add_argument("incident_id")
    resolve.add_argument("--note", required=True, help="what was found and done")


metadata = clients.metadata


def _district(value: int) -> str:
    try:
        return city.district_from_proto(value) or "-"
    except ValueError:
        return "?"


def _ago(ts: Any, now_s: float) -> str:
    if not ts.seconds:
        return "-"
    s = max(0, int(now_s - ts.seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}" if seconds else "-"


def incidents_table(response: pb.ListIncidentsResponse, out: TextIO, now_s: float | None = None) -> None:
    now = time.time() if now_s is None else now_s
    rows = []
    for i in response.incidents:
        unit = i.dispatched_unit_id or i.unit_id or "-"
        eta = f"{i.eta_s / 60:.1f} min ({i.eta_source.split(' ')[0]})" if i.dispatched_unit_id else "-"
        rows.append(
            [
                i.incident_id,
                _district(i.district),
                i.type,
                SEVERITY_NAMES.get(i.severity, "?"),
                STATE_NAMES.get(i.state, "?") + ("  ▲" * i.escalation_level),
                _ago(i.opened, now),
                str(i.triggers),
                f"{i.peak_value:.4g}",
                unit,
                eta,
                i.resolution or i.description,
            ]
        )
    header = ["incident", "sub-district", "type", "severity", "state", "opened", "triggers", "peak"]
    table([*header, "unit", "ETA", "what"], rows, out, frozenset({5, 6, 7}))
    if response.truncated:
        print("(more incidents match: raise --limit or narrow the filter)", file=out)


def stats_table(response: pb.GetIncidentStatsResponse, out: TextIO) -> None:
    rows = [
        [
            _district(s.district),
            str(s.open),
            str(s.acknowledged),
            str(s.dispatched),
            str(s.resolved),
            str(s.escalated),
            _minutes(s.mean_time_to_acknowledge_s),
            _minutes(s.mean_time_to_resolve_s),
        ]
        for s in response.districts
    ]
    header = ["sub-district", "open", "acknowledged", "dispatched", "resolved", "escalated"]
    table([*header, "MTTA min", "MTTR min"], rows, out, frozenset(range(1, 8)))


def rules_table(response: pb.ListIncidentRulesResponse, out: TextIO) -> None:
    rows = []
    for r in response.rules:
        each = r.aggregate == pb.RULE_AGGREGATE_VALUE
        detection = bool(r.detection_label)
        if detection:
            count = f", count ≥ {r.detection_min_count}" if r.detection_min_count else ""
            aggregate = f"each {r.detection_label} detection{count}"
        else:
            aggregate = (
                "each reading" if each else f"{AGGREGATE_NAMES.get(r.aggregate, '?')} over {r.window_s:g} s"
            )
        rows.append(
            [
                r.rule_id,
                r.type,
                city.kind_from_proto(r.kind) or "?",
                aggregate,
                f"confidence ≥ {r.threshold:g}"
                if detection
                else f"{'>' if r.above else '<'} {r.threshold:g}",
                SEVERITY_NAMES.get(r.severity, "?"),
                r.description,
            ]
        )
    table(["rule", "type", "kind", "aggregate", "trigger", "severity", "what"], rows, out)
    print(
        f"\ncorrelation: same type within {response.correlation_radius_m:g} m, last triggered within "
        f"{response.correlation_window_s:g} s  (rules: {response.source})",
        file=out,
    )
    slas = [
        [SEVERITY_NAMES.get(s.severity, "?"), _minutes(s.acknowledge_s), _minutes(s.resolve_s)]
        for s in response.slas
    ]
    table(["severity", "acknowledge within min", "resolve within min"], slas, out, frozenset({1, 2}))


def units_table(response: pb.ListResponderUnitsResponse, out: TextIO) -> None:
    rows = [
        [
            u.unit_id,
            _district(u.district),
            u.name,
            ", ".join(u.types),
            f"{u.position.longitude:.4f}, {u.position.latitude:.4f}",
        ]
        for u in response.units
    ]
    table(["unit", "sub-district", "name", "responds to", "station (lon, lat)"], rows, out)


async def _call(args: argparse.Namespace) -> Any:
    md = metadata(args)
    async with grpc.aio.insecure_channel(address(args)) as channel:
        stub = incidents_pb2_grpc.IncidentServiceStub(channel)
        try:
            if args.verb == "stats":
                return await stub.GetIncidentStats(pb.GetIncidentStatsRequest(), metadata=md, timeout=10)
            if args.verb == "rules":
                return await stub.ListIncidentRules(pb.ListIncidentRulesRequest(), metadata=md, timeout=10)
            if args.verb == "units":
                return await stub.ListResponderUnits(pb.ListResponderUnitsRequest(), metadata=md, timeout=10)
            if args.verb == "ack":
                request = pb.AcknowledgeIncidentRequest(incident_id=args.incident_id)
                return await stub.AcknowledgeIncident(request, metadata=md, timeout=10)
            if args.verb == "dispatch":
                dispatch = pb.DispatchIncidentRequest(incident_id=args.incident_id, unit_id=args.unit)
                return await stub.DispatchIncident(dispatch, metadata=md, timeout=60)
            if args.verb == "resolve":
                resolve = pb.ResolveIncidentRequest(incident_id=args.incident_id, resolution=args.note)
                return await stub.ResolveIncident(resolve, metadata=md, timeout=10)
            wanted = pb.IncidentFilter(
                districts=[city.district_to_proto(d) for d in args.districts],
                types=args.types,
                states=[STATES[s] for s in args.state],
            )
            return await stub.ListIncidents(
                pb.ListIncidentsRequest(filter=wanted, limit=args.limit), metadata=md, timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            raise SystemExit(f"governance: {exc.code().name}: {exc.details()}") from None


def _run(args: argparse.Namespace) -> int:
    args.verb = args.verb or "list"
    response = asyncio.run(_call(args))
    if args.json:
        print(json.dumps(MessageToDict(response), indent=2, ensure_ascii=False))
        return 0
    renders: dict[str, Callable[[Any, TextIO], None]] = {
        "list": incidents_table,
        "stats": stats_table,
        "rules": rules_table,
        "units": units_table,
    }
    render = renders.get(args.verb)
    if render is not None:
        render(response, sys.stdout)
    else:
        incidents_table(pb.ListIncidentsResponse(incidents=[response.incident]), sys.stdout)
    return 0
