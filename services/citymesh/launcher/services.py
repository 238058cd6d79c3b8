"""The services `citymesh up` runs, as data: adding one (compute, governance) is one entry here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from citymesh.api.collection.v1 import collection_pb2, collection_pb2_grpc
from citymesh.api.compute.v1 import compute_pb2, compute_pb2_grpc
from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.api.governance.v1 import governance_pb2, governance_pb2_grpc, incidents_pb2, incidents_pb2_grpc

Probe = Callable[[grpc.aio.Channel], Awaitable[dict[str, float]]]
"""Reads a running service's counters for the status view."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """As in `citymesh serve <name>`; also its log file's name."""
    grpc_service: str
    """Full name of its main gRPC service: `up` waits until health says it is SERVING."""
    env: Callable[[Path], dict[str, str]]
    """CITYMESH_* variables it needs besides NATS_URL and LISTEN, given the data folder."""
    probe: Probe | None = None
    describe: Callable[[dict[str, float]], str] = lambda counters: ""
    """One short phrase of its counters for the status view."""
    command: str = ""
    """The `citymesh serve` command it runs, when not its name (the peaks: `peak`)."""
    peers: tuple[str, ...] = ()
    """The services it calls, when `up` runs them: each address goes to it as
    CITYMESH_<NAME>_ADDRESS (governance asks compute's `route` kernel for an ETA)."""


async def collection_probe(channel: grpc.aio.Channel) -> dict[str, float]:
    s = await collection_pb2_grpc.CollectionServiceStub(channel).GetIngestStats(
        collection_pb2.GetIngestStatsRequest(), timeout=1.0
    )
    return {
        "devices": s.devices,
        "batches": s.batches,
        "readings_accepted": s.readings_accepted,
        "readings_rejected": s.readings_rejected,
        "duplicate_batches": s.duplicate_batches,
        "batches_failed": s.batches_failed,
        "detections": s.detections_accepted,
    }


async def exchange_probe(channel: grpc.aio.Channel) -> dict[str, float]:
    s = await exchange_pb2_grpc.ExchangeServiceStub(channel).GetStats(
        exchange_pb2.GetStatsRequest(), timeout=1.0
    )
    newest = s.newest_reading.ToMilliseconds() if s.HasField("newest_reading") else 0
    return {"rows": s.rows, "devices": s.devices, "lag_batches": s.lag_batches, "newest_ms": newest}


async def compute_probe(channel: grpc.aio.Channel) -> dict[str, float]:
    s = await compute_pb2_grpc.ComputeServiceStub(channel).ListKernels(
        compute_pb2.ListKernelsRequest(), timeout=1.0
    )
    return {"kernels": len(s.kernels)}


async def governance_probe(channel: grpc.aio.Channel) -> dict[str, float]:
    s = await governance_pb2_grpc.GovernanceServiceStub(channel).ListPeaks(
        governance_pb2.ListPeaksRequest(), timeout=1.0
    )
    stats = await incidents_pb2_grpc.IncidentServiceStub(channel).GetIncidentStats(
        incidents_pb2.GetIncidentStatsRequest(), timeout=1.0
    )
    return {
        "peaks": len(s.peaks),
        "active": sum(p.state == governance_pb2.PEAK_STATE_ACTIVE for p in s.peaks),
        "incidents_unresolved": sum(d.open + d.acknowledged + d.dispatched for d in stats.districts),
    }


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "collection",
        "citymesh.collection.v1.CollectionService",
        env=lambda data: {},
        probe=collection_probe,
        describe=lambda c: f"{c['devices']:,.0f} devices, {c['detections']:,.0f} detections",
    ),
    ServiceSpec(
        "exchange",
        "citymesh.exchange.v1.ExchangeService",
        env=lambda data: {"CITYMESH_DB_PATH": str(data / "exchange.duckdb")},
        probe=exchange_probe,
        describe=lambda c: f"{c['devices']:,.0f} devices known",
    ),
    ServiceSpec(
        "compute",
        "citymesh.compute.v1.ComputeService",
        env=lambda data: {"CITYMESH_WORKERS": "1", "CITYMESH_WORKER_ID": "up"},
        probe=compute_probe,
        describe=lambda c: f"{c['kernels']:,.0f} kernels",
    ),
    ServiceSpec(
        "governance",
        "citymesh.governance.v1.GovernanceService",
        env=lambda data: {},
        peers=("compute",),
        probe=governance_probe,
        describe=lambda c: (
            f"{c['active']:,.0f} of {c['peaks']:,.0f} peaks active, "
            f"{c['incidents_unresolved']:,.0f} incidents unresolved"
        ),
    ),
)
"""Started together, stopped in this order (upstream first, so downstream can finish the tail)."""
