"""Tenants kept apart, with real signed tokens against servers that verify them.

For every RPC that names a resource, tenant A (alibaba-cloud, Gouzhao) asks for tenant B's
(huawei, Fengyang) and gets PERMISSION_DENIED, or NOT_FOUND word for word as for a resource that
does not exist; B's resource is untouched; the denial is on the AUDIT stream. A forged, expired or
missing token is refused by every service; a suspended tenant's token stops working within
CITYMESH_AUTH_STATUS_TTL_S; a device outside the tenant's sub-district is refused. Per-item checks
(readings, detections) reject another's device as an unknown one; names shared by all tenants (a
device id, a technology) say nothing of whose they are; award claim ids are each peak's own. The
table of which RPC answers which code, and why: docs/architecture.md, "Tenant isolation on the RPCs".
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.common.v1 import common_pb2
from citymesh.api.compute.v1 import compute_pb2 as jpb
from citymesh.api.exchange.v1 import exchange_pb2 as xpb
from citymesh.api.governance.v1 import governance_pb2 as gpb
from citymesh.api.governance.v1 import incidents_pb2 as ipb
from citymesh.api.peak.v1 import peak_pb2
from citymesh.compute.convert import array_message
from citymesh.governance import convert as gconvert
from citymesh.governance import domain as gdomain
from citymesh.governance.store import AwardLedger
from citymesh.runtime import auth
from citymesh.runtime.bus import AWARDS_BUCKET, Bus
from citymesh.runtime.settings import ServiceSettings
from tests.audit import audit_records, denied
from tests.isolation.conftest import (
    ADMIN,
    ALIBABA,
    HUAWEI,
    STATUS_TTL_S,
    UNIS,
    Metadata,
    Platform,
    Tenant,
)
from tests.polling import eventually
from tests.tokens import token

pytestmark = pytest.mark.integration

FENGYANG = (113.536, 34.809)
GOUZHAO = (113.50, 34.80)
IDW = {"x": [5.0, 95.0, 40.0], "y": [5.0, 55.0, 80.0], "value": [10.0, 30.0, 22.0]}


def device(device_id: str, at: tuple[float, float], owner: str = "") -> cpb.Device:
    return cpb.Device(
        device_id=device_id,
        kind=common_pb2.DEVICE_KIND_AIR,
        position=common_pb2.GeoPoint(longitude=at[0], latitude=at[1]),
        owner_tenant=owner,
    )


def readings(batch_id: str, device_ids: list[str]) -> cpb.ReadingBatch:
    now = time.time_ns() // 1_000_000
    return cpb.ReadingBatch(
        batch_id=batch_id,
        device_ids=device_ids,
        device_index=list(range(len(device_ids))),
        time_unix_ms=[now] * len(device_ids),
        values=[12.0] * len(device_ids),
    )


async def code_of(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


async def stream_code(call: Any) -> tuple[grpc.StatusCode, str]:
    """Read a server stream to its first message (or error)."""
    try:
        await call.read()
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    finally:
        call.cancel()
    return grpc.StatusCode.OK, ""


# --- B's resources ------------------------------------------------------------------------------


async def huaweis_device(p: Platform) -> str:
    mine = device("hw-air-1", FENGYANG)
    await p.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=mine), metadata=HUAWEI.md)
    return "hw-air-1"


async def huaweis_job(p: Platform) -> str:
    request = jpb.SubmitJobRequest(
        kernel="idw_grid",
        params={"nx": 4, "ny": 4},
        inline=jpb.InlineInput(arrays=[array_message(k, np.asarray(v)) for k, v in IDW.items()]),
    )
    job = (await p.compute.SubmitJob(request, metadata=HUAWEI.md)).job
    await eventually(
        lambda: p.compute.GetJob(jpb.GetJobRequest(job_id=job.job_id), metadata=HUAWEI.md),
        lambda r: r.job.state == jpb.JOB_STATE_SUCCEEDED,
        60,
        "huawei's job done",
    )
    return str(job.job_id)


async def huaweis_dataset(p: Platform) -> str:
    request = xpb.PublishDatasetRequest(
        name="air",
        description="PM2.5 of Fengyang",
        visibility=xpb.VISIBILITY_PRIVATE,
        selection=xpb.ReadingFilter(kinds=[common_pb2.DEVICE_KIND_AIR]),
    )
    published = await p.exchange.PublishDataset(request, metadata=HUAWEI.md)
    return str(published.dataset.dataset_id)


async def huaweis_telemetry(p: Platform) -> str:
    return "telemetry.fengyang"  # its district's telemetry: its peak's by governance's projection


async def huaweis_peak(p: Platform) -> str:
    return "fengyang-5g"


async def dataset_intact(p: Platform, dataset_id: str) -> None:
    listed = await p.exchange.ListDatasets(xpb.ListDatasetsRequest(), metadata=ALIBABA.md)
    assert dataset_id not in {d.dataset_id for d in listed.datasets} or dataset_id.startswith("telemetry.")
    grants = await p.exchange.ListGrants(xpb.ListGrantsRequest(dataset_id=dataset_id), metadata=ADMIN)
    assert not [g for g in grants.grants if g.tenant == ALIBABA.name and g.state == xpb.GRANT_STATE_GRANTED]


async def peak_intact(p: Platform, peak_id: str) -> None:
    got = await p.governance.GetPeak(gpb.GetPeakRequest(peak_id=peak_id), metadata=ADMIN)
    assert got.peak.state == gpb.PEAK_STATE_ACTIVE


def last_ten_minutes() -> common_pb2.TimeRange:
    now = time.time_ns() // 1_000_000
    out = common_pb2.TimeRange()
    out.start.FromMilliseconds(now - 600_000)
    out.end.FromMilliseconds(now)
    return out


async def device_intact(p: Platform, device_id: str) -> None:
    got = await p.collection.GetDevice(cpb.GetDeviceRequest(device_id=device_id), metadata=HUAWEI.md)
    assert got.device.owner_tenant == "huawei"


async def job_intact(p: Platform, job_id: str) -> None:
    got = await p.compute.GetJob(jpb.GetJobRequest(job_id=job_id), metadata=HUAWEI.md)
    assert got.job.state == jpb.JOB_STATE_SUCCEEDED


@dataclass(frozen=True)
class Case:
    """One RPC naming B's resource, as A calls it."""

    service: str
    action: str
    make: Callable[[Platform], Awaitable[str]]
    """Creates B's resource (as B); its id."""
    ask: Callable[[Platform, str, Metadata], Awaitable[tuple[grpc.StatusCode, str]]]
    """A's call for the resource of that id."""
    intact: Callable[[Platform, str], Awaitable[None]]
    hidden: bool = True
    """NOT_FOUND, word for word as for an id that never existed (else PERMISSION_DENIED)."""
    never: str = ""
    """An id that never existed, of the resource's kind (hidden cases)."""
    owner_may: bool = True
    """The same call by the owner succeeds (not for changes only the platform may make)."""
    audited_as: str = ""
    """The action its audit record names, when not the RPC's name."""
    audited_in: str = ""
    """The service whose AUDIT records hold the denial, when not `service` (compute's exchange
    input is refused, and audited, by the exchange)."""


CASES = [
    Case(
        "collection",
        "GetDevice",
        huaweis_device,
        lambda p, i, md: code_of(p.collection.GetDevice(cpb.GetDeviceRequest(device_id=i), metadata=md)),
        device_intact,
    ),
    Case(
        "collection",
        "DeregisterDevice",
        huaweis_device,
        lambda p, i, md: code_of(
            p.collection.DeregisterDevice(cpb.DeregisterDeviceRequest(device_id=i), metadata=md)
        ),
        device_intact,
    ),
    Case(
        "collection",
        "ListDevices",
        huaweis_device,
        lambda p, i, md: code_of(
            p.collection.ListDevices(
                cpb.ListDevicesRequest(district=common_pb2.DISTRICT_FENGYANG), metadata=md
            )
        ),
        device_intact,
        hidden=False,
    ),
    Case(
        "compute",
        "GetJob",
        huaweis_job,
        lambda p, i, md: code_of(p.compute.GetJob(jpb.GetJobRequest(job_id=i), metadata=md)),
        job_intact,
    ),
    Case(
        "compute",
        "WatchJob",
        huaweis_job,
        lambda p, i, md: stream_code(p.compute.WatchJob(jpb.WatchJobRequest(job_id=i), metadata=md)),
        job_intact,
    ),
    Case(
        "compute",
        "CancelJob",
        huaweis_job,
        lambda p, i, md: code_of(p.compute.CancelJob(jpb.CancelJobRequest(job_id=i), metadata=md)),
        job_intact,
    ),
    Case(
        "compute",
        "GetResult",
        huaweis_job,
        lambda p, i, md: stream_code(p.compute.GetResult(jpb.GetResultRequest(job_id=i), metadata=md)),
        job_intact,
    ),
]


FENGYANG_FILTER = xpb.ReadingFilter(districts=[common_pb2.DISTRICT_FENGYANG])
CASES += [
    Case(
        "exchange",
        "Query",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.exchange.Query(
                xpb.QueryRequest(time_range=last_ten_minutes(), filter=FENGYANG_FILTER), metadata=md
            )
        ),
        dataset_intact,
        hidden=False,
    ),
    Case(
        "exchange",
        "Query",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.exchange.Query(xpb.QueryRequest(time_range=last_ten_minutes(), dataset_id=i), metadata=md)
        ),
        dataset_intact,
        never="huawei.never-existed",
    ),
    Case(
        "exchange",
        "Subscribe",
        huaweis_telemetry,
        lambda p, i, md: stream_code(
            p.exchange.Subscribe(xpb.SubscribeRequest(filter=FENGYANG_FILTER), metadata=md, timeout=2)
        ),
        dataset_intact,
        hidden=False,
        owner_may=False,  # a live stream: its first message waits for a reading
    ),
    Case(
        "exchange",
        "ExportReadings",
        huaweis_telemetry,
        lambda p, i, md: stream_code(
            p.exchange.ExportReadings(
                xpb.ExportReadingsRequest(time_range=last_ten_minutes(), filter=FENGYANG_FILTER), metadata=md
            )
        ),
        dataset_intact,
        hidden=False,
    ),
    Case(
        "exchange",
        "ExportReadings",
        huaweis_dataset,
        lambda p, i, md: stream_code(
            p.exchange.ExportReadings(
                xpb.ExportReadingsRequest(time_range=last_ten_minutes(), dataset_id=i), metadata=md
            )
        ),
        dataset_intact,
        never="huawei.never-existed",
    ),
    Case(
        "exchange",
        "RequestAccess",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.exchange.RequestAccess(xpb.RequestAccessRequest(dataset_id=i, purpose="peek"), metadata=md)
        ),
        dataset_intact,
        never="huawei.never-existed",
        owner_may=False,
    ),
    Case(
        "exchange",
        "GrantAccess",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.exchange.GrantAccess(
                xpb.GrantAccessRequest(dataset_id=i, tenant="alibaba-cloud", ttl=Duration(seconds=600)),
                metadata=md,
            )
        ),
        dataset_intact,
        hidden=False,
        owner_may=False,  # (its own grant would pass dataset_intact's check)
    ),
    Case(
        "exchange",
        "RevokeGrant",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.exchange.RevokeGrant(xpb.RevokeGrantRequest(dataset_id=i, tenant="unisplendour"), metadata=md)
        ),
        dataset_intact,
        hidden=False,
        owner_may=False,
    ),
    Case(
        "governance",
        "GetPeak",
        huaweis_peak,
        lambda p, i, md: code_of(p.governance.GetPeak(gpb.GetPeakRequest(peak_id=i), metadata=md)),
        peak_intact,
        hidden=False,
    ),
    Case(
        "governance",
        "TransitionPeak",
        huaweis_peak,
        lambda p, i, md: code_of(
            p.governance.TransitionPeak(
                gpb.TransitionPeakRequest(peak_id=i, target=gpb.PEAK_STATE_SUSPENDED, reason="x"), metadata=md
            )
        ),
        peak_intact,
        hidden=False,
        owner_may=False,
    ),
    Case(
        "governance",
        "ListAwards",
        huaweis_peak,
        lambda p, i, md: code_of(p.governance.ListAwards(gpb.ListAwardsRequest(peak_id=i), metadata=md)),
        peak_intact,
        hidden=False,
    ),
    Case(
        "governance",
        "GetEconomyIndex",
        huaweis_peak,
        lambda p, i, md: code_of(
            p.governance.GetEconomyIndex(gpb.GetEconomyIndexRequest(peak_id=i), metadata=md)
        ),
        peak_intact,
        hidden=False,
    ),
    Case(
        "governance",
        "IssueToken",
        huaweis_peak,
        lambda p, i, md: code_of(
            p.governance.IssueToken(gpb.IssueTokenRequest(tenant="huawei"), metadata=md)
        ),
        peak_intact,
        hidden=False,
        owner_may=False,
    ),
    Case(
        "governance",
        "ListIncidents",
        huaweis_peak,
        lambda p, i, md: code_of(
            p.incidents.ListIncidents(
                ipb.ListIncidentsRequest(filter=ipb.IncidentFilter(districts=[common_pb2.DISTRICT_FENGYANG])),
                metadata=md,
            )
        ),
        peak_intact,
        hidden=False,
        audited_as="list",
    ),
]


# --- more of B's resources: incidents, a dataset others asked for, a claim --------------------------

NEVER_INCIDENT = "inc-000000000000"
"""An incident id of the right form that no incident has."""
SHARED = "air-shared"


def camera(device_id: str, at: tuple[float, float]) -> cpb.Device:
    return cpb.Device(
        device_id=device_id,
        kind=common_pb2.DEVICE_KIND_CAMERA,
        position=common_pb2.GeoPoint(longitude=at[0], latitude=at[1]),
    )


def fire(device_id: str) -> cpb.Detection:
    return cpb.Detection(
        device_id=device_id,
        time_unix_ms=time.time_ns() // 1_000_000,
        label=cpb.DETECTION_LABEL_FIRE,
        confidence=0.95,
    )


def detections(batch_id: str, *device_ids: str) -> cpb.ReportDetectionsRequest:
    batch = cpb.DetectionBatch(batch_id=batch_id, detections=[fire(d) for d in device_ids])
    return cpb.ReportDetectionsRequest(batch=batch)


async def incident_of(p: Platform, tenant: Tenant, at: tuple[float, float]) -> str:
    """A fire the tenant's own camera saw, opened by governance's pipeline in its sub-district."""
    cam = f"{tenant.name}-cam-1"
    await p.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=camera(cam, at)), metadata=tenant.md)
    answer = await p.collection.ReportDetections(detections(f"{cam}-fire", cam), metadata=tenant.md)
    assert (answer.accepted, answer.rejected) == (1, 0)
    found = await eventually(
        lambda: p.incidents.ListIncidents(ipb.ListIncidentsRequest(), metadata=tenant.md),
        lambda r: len(r.incidents) == 1,
        30,
        f"{tenant.name}'s fire opened as an incident",
    )
    return str(found.incidents[0].incident_id)


async def huaweis_incident(p: Platform) -> str:
    return await incident_of(p, HUAWEI, FENGYANG)


async def incident_intact(p: Platform, incident_id: str) -> None:
    got = (
        await p.incidents.GetIncident(ipb.GetIncidentRequest(incident_id=incident_id), metadata=HUAWEI.md)
    ).incident
    assert got.state == ipb.INCIDENT_STATE_OPEN
    assert (got.acknowledged_by, got.dispatched_by, got.resolved_by) == ("", "", "")
    theirs = await p.incidents.ListIncidents(ipb.ListIncidentsRequest(), metadata=ALIBABA.md)
    assert incident_id not in {i.incident_id for i in theirs.incidents}


async def huaweis_requested_dataset(p: Platform) -> str:
    """Huawei's shared dataset, with unisplendour's request for it pending."""
    request = xpb.PublishDatasetRequest(name=SHARED, visibility=xpb.VISIBILITY_SHARED)
    dataset_id = str((await p.exchange.PublishDataset(request, metadata=HUAWEI.md)).dataset.dataset_id)
    ask = xpb.RequestAccessRequest(dataset_id=dataset_id, purpose="air quality near the lake")
    await p.exchange.RequestAccess(ask, metadata=UNIS.md)
    return dataset_id


async def request_pending(p: Platform, dataset_id: str) -> None:
    grants = await p.exchange.ListGrants(xpb.ListGrantsRequest(dataset_id=dataset_id), metadata=ADMIN)
    assert [(g.tenant, g.state) for g in grants.grants] == [(UNIS.name, xpb.GRANT_STATE_REQUESTED)]


async def nothing_published(p: Platform, dataset_id: str) -> None:
    listed = await p.exchange.ListDatasets(xpb.ListDatasetsRequest(owner_tenant=ALIBABA.name), metadata=ADMIN)
    assert not [d.dataset_id for d in listed.datasets if not d.telemetry]


async def no_award_for(p: Platform, peak_id: str) -> None:
    await peak_intact(p, peak_id)
    ledger = await p.governance.ListAwards(gpb.ListAwardsRequest(peak_id=peak_id), metadata=ADMIN)
    assert not ledger.decisions


def exchange_job(query: xpb.QueryRequest) -> jpb.SubmitJobRequest:
    query.bucket.FromSeconds(60)
    query.group_by.append(xpb.GROUP_BY_DEVICE)
    return jpb.SubmitJobRequest(kernel="anomaly_scan", exchange=jpb.ExchangeInput(query=query))


def subsidy_claim(claim_id: str, peak_id: str = "", enterprise: str = "Alibaba Cloud") -> gpb.AwardClaim:
    return gpb.AwardClaim(
        claim_id=claim_id,
        enterprise=enterprise,
        project="lake-sensors",
        kind=gpb.AWARD_KIND_PROJECT_SUBSIDY,
        project_subsidy=gpb.ProjectClaim(
            local_enterprise=True, total_investment_fen=1_000_000_00, result=gpb.PROJECT_RESULT_COMPLETED
        ),
        peak_id=peak_id,
    )


CASES += [
    Case(
        "collection",
        "RegisterDevice",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.collection.RegisterDevice(
                cpb.RegisterDeviceRequest(device=device("lake-air-9", FENGYANG)), metadata=md
            )
        ),
        dataset_intact,
        hidden=False,
    ),
    Case(
        "compute",
        "SubmitJob",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.compute.SubmitJob(
                exchange_job(xpb.QueryRequest(time_range=last_ten_minutes(), dataset_id=i)), metadata=md
            )
        ),
        dataset_intact,
        never="huawei.never-existed",
        audited_in="exchange",
        audited_as="Query",
    ),
    Case(
        "compute",
        "SubmitJob",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.compute.SubmitJob(
                exchange_job(xpb.QueryRequest(time_range=last_ten_minutes(), filter=FENGYANG_FILTER)),
                metadata=md,
            )
        ),
        dataset_intact,
        hidden=False,
        audited_in="exchange",
        audited_as="Query",
    ),
    Case(
        "exchange",
        "Subscribe",
        huaweis_dataset,
        lambda p, i, md: stream_code(
            p.exchange.Subscribe(xpb.SubscribeRequest(dataset_id=i), metadata=md, timeout=2)
        ),
        dataset_intact,
        never="huawei.never-existed",
        owner_may=False,  # a live stream: its first message waits for a reading
    ),
    Case(
        "exchange",
        "PublishDataset",
        huaweis_telemetry,
        lambda p, i, md: code_of(
            p.exchange.PublishDataset(
                xpb.PublishDatasetRequest(
                    name="fengyang-air", visibility=xpb.VISIBILITY_PUBLIC, selection=FENGYANG_FILTER
                ),
                metadata=md,
            )
        ),
        nothing_published,
        hidden=False,
    ),
    Case(
        "exchange",
        "GrantAccess",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.exchange.GrantAccess(
                xpb.GrantAccessRequest(dataset_id=i, tenant="alibaba-cloud", ttl=Duration(seconds=600)),
                metadata=md,
            )
        ),
        dataset_intact,
        never="huawei.never-existed",
        owner_may=False,  # (its own grant would pass dataset_intact's check)
    ),
    Case(
        "exchange",
        "DenyAccess",
        huaweis_requested_dataset,
        lambda p, i, md: code_of(
            p.exchange.DenyAccess(
                xpb.DenyAccessRequest(dataset_id=i, tenant="unisplendour", reason="mine now"), metadata=md
            )
        ),
        request_pending,
        hidden=False,
    ),
    Case(
        "exchange",
        "DenyAccess",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.exchange.DenyAccess(
                xpb.DenyAccessRequest(dataset_id=i, tenant="unisplendour", reason="mine now"), metadata=md
            )
        ),
        dataset_intact,
        never="huawei.never-existed",
        owner_may=False,  # no request pending on it
    ),
    Case(
        "exchange",
        "RevokeGrant",
        huaweis_dataset,
        lambda p, i, md: code_of(
            p.exchange.RevokeGrant(
                xpb.RevokeGrantRequest(dataset_id=i, tenant="unisplendour", reason="mine now"), metadata=md
            )
        ),
        dataset_intact,
        never="huawei.never-existed",
        owner_may=False,  # no grant to revoke
    ),
    Case(
        "exchange",
        "ListGrants",
        huaweis_requested_dataset,
        lambda p, i, md: code_of(p.exchange.ListGrants(xpb.ListGrantsRequest(dataset_id=i), metadata=md)),
        request_pending,
        hidden=False,
    ),
    Case(
        "exchange",
        "ListGrants",
        huaweis_dataset,
        lambda p, i, md: code_of(p.exchange.ListGrants(xpb.ListGrantsRequest(dataset_id=i), metadata=md)),
        dataset_intact,
        never="huawei.never-existed",
    ),
    Case(
        "exchange",
        "ListGrants",
        huaweis_telemetry,
        lambda p, i, md: code_of(p.exchange.ListGrants(xpb.ListGrantsRequest(dataset_id=i), metadata=md)),
        dataset_intact,
        hidden=False,
    ),
    Case(
        "governance",
        "SubmitAwardClaim",
        huaweis_peak,
        lambda p, i, md: code_of(
            p.governance.SubmitAwardClaim(
                gpb.SubmitAwardClaimRequest(claim=subsidy_claim("iso-1", peak_id=i)), metadata=md
            )
        ),
        no_award_for,
        hidden=False,
    ),
    Case(
        "governance",
        "GetIncident",
        huaweis_incident,
        lambda p, i, md: code_of(p.incidents.GetIncident(ipb.GetIncidentRequest(incident_id=i), metadata=md)),
        incident_intact,
        never=NEVER_INCIDENT,
        audited_as="get",
    ),
    Case(
        "governance",
        "AcknowledgeIncident",
        huaweis_incident,
        lambda p, i, md: code_of(
            p.incidents.AcknowledgeIncident(ipb.AcknowledgeIncidentRequest(incident_id=i), metadata=md)
        ),
        incident_intact,
        never=NEVER_INCIDENT,
        audited_as="acknowledge",
    ),
    Case(
        "governance",
        "DispatchIncident",
        huaweis_incident,
        lambda p, i, md: code_of(
            p.incidents.DispatchIncident(ipb.DispatchIncidentRequest(incident_id=i), metadata=md)
        ),
        incident_intact,
        never=NEVER_INCIDENT,
        audited_as="dispatch",
    ),
    Case(
        "governance",
        "ResolveIncident",
        huaweis_incident,
        lambda p, i, md: code_of(
            p.incidents.ResolveIncident(
                ipb.ResolveIncidentRequest(incident_id=i, resolution="nothing there"), metadata=md
            )
        ),
        incident_intact,
        never=NEVER_INCIDENT,
        audited_as="resolve",
    ),
    Case(
        "governance",
        "WatchIncidents",
        huaweis_incident,
        lambda p, i, md: stream_code(
            p.incidents.WatchIncidents(
                ipb.WatchIncidentsRequest(
                    filter=ipb.IncidentFilter(districts=[common_pb2.DISTRICT_FENGYANG]), include_current=True
                ),
                metadata=md,
                timeout=10,
            )
        ),
        incident_intact,
        hidden=False,
        audited_as="watch",
    ),
    Case(
        "governance",
        "GetIncidentStats",
        huaweis_incident,
        lambda p, i, md: code_of(
            p.incidents.GetIncidentStats(
                ipb.GetIncidentStatsRequest(districts=[common_pb2.DISTRICT_FENGYANG]), metadata=md
            )
        ),
        incident_intact,
        hidden=False,
        audited_as="stats",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.service}.{c.action}.{c.make.__name__}")
async def test_a_tenant_asking_for_another_tenants_resource_is_refused_and_audited(
    platform: Platform, case: Case
) -> None:
    resource = await case.make(platform)
    code, details = await case.ask(platform, resource, ALIBABA.md)
    if case.hidden:
        assert code == grpc.StatusCode.NOT_FOUND, details
        never = case.never or ("never-existed-1" if case.service == "collection" else "0" * 26)
        missing_code, missing = await case.ask(platform, never, ALIBABA.md)
        assert missing_code == grpc.StatusCode.NOT_FOUND
        assert details == missing.replace(never, resource), "a hidden resource reads like a missing one"
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED, details
    await case.intact(platform, resource)
    if case.owner_may:
        assert (await case.ask(platform, resource, HUAWEI.md))[0] == grpc.StatusCode.OK
    records = await eventually(
        lambda: audit_records(platform.nats_url, case.audited_in or case.service, allowed=False),
        lambda r: bool(denied(r, ALIBABA.name, case.audited_as or case.action)),
        10,
        f"{case.action} denial on AUDIT",
    )
    mine = denied(records, ALIBABA.name, case.audited_as or case.action)
    (record,) = [r for r in mine if resource in r["resource"]] or mine
    assert record["district"] == "gouzhao"
    assert record["reason"]


async def test_readings_for_another_tenants_device_are_rejected_beside_own_ones_and_audited(
    platform: Platform,
) -> None:
    theirs = await huaweis_device(platform)
    own = device("ali-air-1", GOUZHAO)
    await platform.collection.RegisterDevice(cpb.RegisterDeviceRequest(device=own), metadata=ALIBABA.md)
    ack = (
        await platform.collection.Ingest(
            cpb.IngestRequest(batch=readings("a-1", ["ali-air-1", theirs])), metadata=ALIBABA.md
        )
    ).ack
    assert (ack.accepted, ack.rejected) == (1, 1)
    assert ack.rejections[0].device_id == theirs
    assert ack.rejections[0].reason == common_pb2.REJECTION_REASON_UNKNOWN_DEVICE

    async def stream() -> Any:
        yield cpb.StreamReadingsRequest(batch=readings("a-2", [theirs]))

    acks = [r.ack async for r in platform.collection.StreamReadings(stream(), metadata=ALIBABA.md)]
    assert [(a.accepted, a.rejected) for a in acks] == [(0, 1)]
    records = await eventually(
        lambda: audit_records(platform.nats_url, "collection", allowed=False),
        lambda r: len(denied(r, ALIBABA.name, "Ingest")) >= 2,
        10,
        "both ingest attempts audited",
    )
    assert all(r["resource"] == f"devices {theirs}" for r in denied(records, ALIBABA.name, "Ingest"))
    # Huawei's own readings of it land.
    ack = (
        await platform.collection.Ingest(
            cpb.IngestRequest(batch=readings("h-1", [theirs])), metadata=HUAWEI.md
        )
    ).ack
    assert (ack.accepted, ack.rejected) == (1, 0)


async def test_a_device_outside_the_tenants_district_is_refused(platform: Platform) -> None:
    request = cpb.RegisterDeviceRequest(device=device("ali-air-9", FENGYANG))
    code, details = await code_of(platform.collection.RegisterDevice(request, metadata=ALIBABA.md))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to district gouzhao, not fengyang" in details
    code, _ = await code_of(
        platform.collection.GetDevice(cpb.GetDeviceRequest(device_id="ali-air-9"), metadata=ADMIN)
    )
    assert code == grpc.StatusCode.NOT_FOUND  # nothing was registered
    records = await eventually(
        lambda: audit_records(platform.nats_url, "collection", allowed=False),
        lambda r: bool(denied(r, ALIBABA.name, "RegisterDevice")),
        10,
        "the refusal audited",
    )
    assert denied(records, ALIBABA.name, "RegisterDevice")[0]["resource"] == "device ali-air-9"


async def test_headers_name_nobody_when_tokens_are_on(platform: Platform) -> None:
    """A tenant's token beside development headers claiming the platform stays the tenant."""
    spoofed = (*ALIBABA.md, ("x-citymesh-tenant", "huawei"), ("x-citymesh-roles", "zone-admin,service"))
    theirs = await huaweis_device(platform)
    code, _ = await code_of(
        platform.collection.GetDevice(cpb.GetDeviceRequest(device_id=theirs), metadata=spoofed)
    )
    assert code == grpc.StatusCode.NOT_FOUND
    request = jpb.SubmitJobRequest(
        kernel="idw_grid",
        params={"nx": 4, "ny": 4},
        inline=jpb.InlineInput(arrays=[array_message(k, np.asarray(v)) for k, v in IDW.items()]),
    )
    job = (await platform.compute.SubmitJob(request, metadata=spoofed)).job
    assert job.tenant == "alibaba-cloud"  # the token's, not the header's


def forged_tokens() -> dict[str, Metadata]:
    other_key, _ = auth.new_key_pair()
    return {
        "none": (),
        "not a JWT": auth.bearer("not-a-jwt"),
        "not a bearer": (("authorization", "Basic YWRtaW46YWRtaW4="),),
        "signed by another key": auth.bearer(token("zone", roles=["zone-admin"], key=other_key)),
        "expired": auth.bearer(token("zone", roles=["zone-admin"], expires_in=-5)),
        "tampered": auth.bearer(_tampered(token("alibaba-cloud", "gouzhao"))),
    }


def _tampered(t: str) -> str:
    """The same token with its claims swapped for the zone administrator's, signature kept."""
    import base64
    import json

    header, claims, signature = t.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    decoded.update(sub="zone", roles=["zone-admin"], district="")
    raw = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


def cheap_calls(p: Platform) -> dict[str, Callable[[Metadata], Awaitable[Any]]]:
    """One call per service that any valid token may make."""
    return {
        "collection": lambda md: p.collection.GetIngestStats(cpb.GetIngestStatsRequest(), metadata=md),
        "compute": lambda md: p.compute.ListKernels(jpb.ListKernelsRequest(), metadata=md),
        "exchange": lambda md: p.exchange.GetStats(xpb.GetStatsRequest(), metadata=md),
        "governance": lambda md: p.governance.ListPeaks(gpb.ListPeaksRequest(), metadata=md),
    }


async def test_a_forged_expired_or_missing_token_is_refused_by_every_service(platform: Platform) -> None:
    calls = cheap_calls(platform)
    for service, call in calls.items():
        assert (await code_of(call(ADMIN)))[0] == grpc.StatusCode.OK, service
        for why, metadata in forged_tokens().items():
            code, details = await code_of(call(metadata))
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{service} with {why}: {code} {details}"
        health = health_pb2_grpc.HealthStub(platform.channels[service])
        reply = await health.Check(health_pb2.HealthCheckRequest())  # probes need no token
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_suspended_tenants_token_stops_working_within_the_status_ttl(platform: Platform) -> None:
    """The bound: CITYMESH_AUTH_STATUS_TTL_S (here 1 s; 2 s by default) after governance stored
    the suspension, plus one read of the tenants bucket."""
    calls = cheap_calls(platform)
    tenant_calls = {name: calls[name] for name in ("collection", "compute")}
    tenant_calls["exchange"] = lambda md: platform.exchange.ListDatasets(
        xpb.ListDatasetsRequest(), metadata=md
    )
    for call in tenant_calls.values():  # every service has cached huawei as active
        await call(HUAWEI.md)
    suspend = gpb.TransitionPeakRequest(
        peak_id="fengyang-5g", target=gpb.PEAK_STATE_SUSPENDED, reason="audit"
    )
    await platform.governance.TransitionPeak(suspend, metadata=ADMIN)
    suspended_at = time.monotonic()

    async def refused_after(call: Callable[[Metadata], Awaitable[Any]]) -> float:
        while True:
            code, details = await code_of(call(HUAWEI.md))
            if code == grpc.StatusCode.PERMISSION_DENIED:
                assert "suspended" in details
                return time.monotonic() - suspended_at
            assert code == grpc.StatusCode.OK
            assert time.monotonic() - suspended_at < 10 * STATUS_TTL_S, "the suspension never took effect"
            await asyncio.sleep(0.02)

    took = await asyncio.gather(*(refused_after(c) for c in tenant_calls.values()))
    print("suspension took effect after", {k: round(v, 3) for k, v in zip(tenant_calls, took, strict=True)})
    assert max(took) <= STATUS_TTL_S + 0.5, dict(zip(tenant_calls, took, strict=True))
    # Other tenants are not affected; and the suspended one stays out.
    assert (await code_of(tenant_calls["collection"](ALIBABA.md)))[0] == grpc.StatusCode.OK
    for call in tenant_calls.values():
        assert (await code_of(call(HUAWEI.md)))[0] == grpc.StatusCode.PERMISSION_DENIED


async def test_an_unknown_tenants_token_is_refused_even_if_governance_signed_it(platform: Platform) -> None:
    stranger = Tenant("nobody-inc", "shifo")
    for service, call in cheap_calls(platform).items():
        if service == "governance":
            continue
        code, details = await code_of(call(stranger.md))
        assert code == grpc.StatusCode.PERMISSION_DENIED, service
        assert "unknown" in details


def filled(message: Message, depth: int = 0) -> Message:
    """`message` with every field set to something plausible (strings "x1", numbers counting up,
    nested messages filled), so that a check of a missing field does not answer before the
    tenant check."""
    for f in message.DESCRIPTOR.fields:
        if f.is_repeated:
            continue
        if f.type == f.TYPE_STRING:
            setattr(message, f.name, "x1")
        elif f.type in (f.TYPE_INT64, f.TYPE_UINT64, f.TYPE_INT32, f.TYPE_UINT32) and f.name != "nanos":
            filled.counter += 1  # type: ignore[attr-defined]
            setattr(message, f.name, 1_700_000_000 + filled.counter)  # type: ignore[attr-defined]
        elif f.type == f.TYPE_MESSAGE and depth < 3:
            filled(getattr(message, f.name), depth + 1)
            getattr(message, f.name).SetInParent()
    return message


filled.counter = 0  # type: ignore[attr-defined]


async def test_every_rpc_of_a_peak_refuses_another_tenant_and_audits_it(platform: Platform) -> None:
    service = peak_pb2.DESCRIPTOR.services_by_name["PeakService"]
    refused = []
    for method in service.methods:
        request = filled(peak_pb2.__dict__[method.input_type.name]())
        call = getattr(platform.huaweis_peak, method.name)
        if method.server_streaming:
            code, details = await stream_code(call(request, metadata=ALIBABA.md))
        else:
            code, details = await code_of(call(request, metadata=ALIBABA.md))
        assert code == grpc.StatusCode.PERMISSION_DENIED, f"{method.name}: {code} {details}"
        refused.append(method.name)
    assert (
        await code_of(platform.huaweis_peak.DescribePeak(peak_pb2.DescribePeakRequest(), metadata=HUAWEI.md))
    )[0] == grpc.StatusCode.OK
    records = await eventually(
        lambda: audit_records(platform.nats_url, "peak", allowed=False),
        lambda r: {x["action"] for x in r if x["tenant"] == ALIBABA.name} >= set(refused),
        10,
        "every refusal audited",
    )
    assert all("huawei" in r["resource"] for r in records if r["tenant"] == ALIBABA.name)


# --- RPCs whose denial is per item, or names a second resource ------------------------------------


async def test_detections_for_another_districts_camera_are_rejected_as_unknown_and_audited(
    platform: Platform,
) -> None:
    """Each detection is checked on its own: another district's camera is rejected in the very
    words of a camera that does not exist, beside the tenant's own accepted one."""
    theirs, never = "huawei-cam-1", "never-cam-1"
    await platform.collection.RegisterDevice(
        cpb.RegisterDeviceRequest(device=camera(theirs, FENGYANG)), metadata=HUAWEI.md
    )
    mine = "alibaba-cloud-cam-1"
    await platform.collection.RegisterDevice(
        cpb.RegisterDeviceRequest(device=camera(mine, GOUZHAO)), metadata=ALIBABA.md
    )
    answer = await platform.collection.ReportDetections(
        detections("ali-1", mine, theirs, never), metadata=ALIBABA.md
    )
    assert (answer.accepted, answer.rejected) == (1, 2)
    rejected = {r.device_id: r for r in answer.rejections}
    assert {r.reason for r in rejected.values()} == {cpb.DETECTION_REJECTION_REASON_UNKNOWN_DEVICE}
    assert rejected[theirs].message == rejected[never].message.replace(never, theirs)
    records = await eventually(
        lambda: audit_records(platform.nats_url, "collection", allowed=False),
        lambda r: bool(denied(r, ALIBABA.name, "ReportDetections")),
        10,
        "the rejected detection audited",
    )
    (record,) = denied(records, ALIBABA.name, "ReportDetections")
    assert record["resource"] == f"devices {theirs}"  # the one that exists, not the missing one
    assert "ali-1" in record["reason"]
    # Only alibaba's own fire became an incident; huawei's camera still reports for huawei.
    found = await eventually(
        lambda: platform.incidents.ListIncidents(ipb.ListIncidentsRequest(), metadata=ADMIN),
        lambda r: len(r.incidents) >= 1,
        30,
        "alibaba's fire opened",
    )
    assert [i.district for i in found.incidents] == [common_pb2.DISTRICT_GOUZHAO]
    own = await platform.collection.ReportDetections(detections("hw-1", theirs), metadata=HUAWEI.md)
    assert (own.accepted, own.rejected) == (1, 0)


async def test_registering_another_tenants_device_id_says_only_that_it_is_taken(platform: Platform) -> None:
    """Device ids are one namespace: a tenant reusing another's id learns it is taken, not where or
    whose it is (the same words whichever tenant and district hold it), the device stays as it
    was, and the attempt is audited."""
    theirs = await huaweis_device(platform)
    ask = cpb.RegisterDeviceRequest(device=device(theirs, GOUZHAO))
    code, details = await code_of(platform.collection.RegisterDevice(ask, metadata=ALIBABA.md))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert details == f"device id {theirs} is taken; register your device under another id"
    assert "huawei" not in details
    assert "fengyang" not in details
    await device_intact(platform, theirs)
    records = await eventually(
        lambda: audit_records(platform.nats_url, "collection", allowed=False),
        lambda r: bool(denied(r, ALIBABA.name, "RegisterDevice")),
        10,
        "the attempt audited",
    )
    assert [r["resource"] for r in denied(records, ALIBABA.name, "RegisterDevice")] == [f"device {theirs}"]


async def test_dispatching_another_districts_unit_to_an_own_incident_is_refused_and_audited(
    platform: Platform,
) -> None:
    mine = await incident_of(platform, ALIBABA, GOUZHAO)
    ask = ipb.DispatchIncidentRequest(incident_id=mine, unit_id="fengyang-emergency")
    code, details = await code_of(platform.incidents.DispatchIncident(ask, metadata=ALIBABA.md))
    assert code == grpc.StatusCode.PERMISSION_DENIED, details
    assert "fengyang" in details
    got = await platform.incidents.GetIncident(ipb.GetIncidentRequest(incident_id=mine), metadata=ALIBABA.md)
    assert (got.incident.state, got.incident.dispatched_unit_id) == (ipb.INCIDENT_STATE_OPEN, "")
    records = await eventually(
        lambda: audit_records(platform.nats_url, "governance", allowed=False),
        lambda r: bool(denied(r, ALIBABA.name, "dispatch")),
        10,
        "the refusal audited",
    )
    assert [r["resource"] for r in denied(records, ALIBABA.name, "dispatch")] == ["unit fengyang-emergency"]
    own = ipb.DispatchIncidentRequest(incident_id=mine, unit_id="gouzhao-emergency")
    sent = await platform.incidents.DispatchIncident(own, metadata=ALIBABA.md)
    assert sent.incident.dispatched_unit_id == "gouzhao-emergency"


async def test_claim_ids_are_each_peaks_own(platform: Platform) -> None:
    """A claim id another peak used neither answers differently (ALREADY_EXISTS would say it
    exists) nor blocks: the peak's claim ids are predictable (`<tenant>_<project>_subsidy`), so a
    tenant could otherwise probe another's projects, or take an id first and refuse its subsidy."""
    used, not_yet = "huawei_lamp_subsidy", "huawei_lamp2_subsidy"
    first = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim(used, enterprise="Huawei")), metadata=HUAWEI.md
    )
    assert first.decision.claim.peak_id == "fengyang-5g"
    answers = {}
    for claim_id in (used, not_yet, "never-used-1"):
        claim = subsidy_claim(claim_id)
        got = await platform.governance.SubmitAwardClaim(
            gpb.SubmitAwardClaimRequest(claim=claim), metadata=ALIBABA.md
        )
        answers[claim_id] = (got.duplicate, got.decision.claim.peak_id, got.decision.amount_fen)
    assert set(answers.values()) == {(False, "tianjian-lake", 400_000_00)}, answers
    # Huawei's id taken "first" by alibaba is still huawei's to use; its first decision is intact.
    later = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim(not_yet, enterprise="Huawei")), metadata=HUAWEI.md
    )
    assert (later.duplicate, later.decision.claim.peak_id) == (False, "fengyang-5g")
    again = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim(used, enterprise="Huawei")), metadata=HUAWEI.md
    )
    assert (again.duplicate, again.decision) == (True, first.decision)
    huaweis = await platform.governance.ListAwards(gpb.ListAwardsRequest(), metadata=HUAWEI.md)
    assert sorted(d.claim.claim_id for d in huaweis.decisions) == [not_yet, used]
    alibabas = await platform.governance.ListAwards(gpb.ListAwardsRequest(), metadata=ALIBABA.md)
    assert {d.claim.peak_id for d in alibabas.decisions} == {"tianjian-lake"}
    # The platform filing for a peak shares that peak's ids: paid once.
    zone = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim(used, peak_id="fengyang-5g", enterprise="Huawei")),
        metadata=ADMIN,
    )
    assert zone.duplicate


async def test_a_tenant_naming_another_tenants_resource_through_its_own_peak_gets_what_the_service_says(
    platform: Platform,
) -> None:
    """A peak adds no power of its own: huawei, through its own peak, naming alibaba's job,
    incident or private dataset gets the same NOT_FOUND, word for word, as for one that does not
    exist, audited by the service that holds it."""
    peak = platform.huaweis_peak
    job = (
        await platform.compute.SubmitJob(
            jpb.SubmitJobRequest(
                kernel="idw_grid",
                params={"nx": 4, "ny": 4},
                inline=jpb.InlineInput(arrays=[array_message(k, np.asarray(v)) for k, v in IDW.items()]),
            ),
            metadata=ALIBABA.md,
        )
    ).job.job_id
    incident = await incident_of(platform, ALIBABA, GOUZHAO)
    private = xpb.PublishDatasetRequest(name="lake", visibility=xpb.VISIBILITY_PRIVATE)
    dataset = (await platform.exchange.PublishDataset(private, metadata=ALIBABA.md)).dataset.dataset_id
    asks: dict[str, tuple[str, str, Callable[[str], Awaitable[Any]]]] = {
        "GetJob": (
            job,
            "0" * 26,
            lambda i: peak.GetJob(peak_pb2.GetJobRequest(job_id=i), metadata=HUAWEI.md),
        ),
        "CancelJob": (
            job,
            "0" * 26,
            lambda i: peak.CancelJob(peak_pb2.CancelJobRequest(job_id=i), metadata=HUAWEI.md),
        ),
        "AcknowledgeIncident": (
            incident,
            NEVER_INCIDENT,
            lambda i: peak.AcknowledgeIncident(
                peak_pb2.AcknowledgeIncidentRequest(incident_id=i), metadata=HUAWEI.md
            ),
        ),
        "ResolveIncident": (
            incident,
            NEVER_INCIDENT,
            lambda i: peak.ResolveIncident(
                peak_pb2.ResolveIncidentRequest(incident_id=i, resolution="not ours"), metadata=HUAWEI.md
            ),
        ),
        "ListGrants": (
            dataset,
            "alibaba-cloud.never-existed",
            lambda i: peak.ListGrants(
                peak_pb2.ListGrantsRequest(request=xpb.ListGrantsRequest(dataset_id=i)), metadata=HUAWEI.md
            ),
        ),
        "DenyAccess": (
            dataset,
            "alibaba-cloud.never-existed",
            lambda i: peak.DenyAccess(
                peak_pb2.DenyAccessRequest(
                    request=xpb.DenyAccessRequest(dataset_id=i, tenant="unisplendour", reason="x")
                ),
                metadata=HUAWEI.md,
            ),
        ),
        "QueryData": (
            dataset,
            "alibaba-cloud.never-existed",
            lambda i: peak.QueryData(
                peak_pb2.QueryDataRequest(
                    query=xpb.QueryRequest(time_range=last_ten_minutes(), dataset_id=i)
                ),
                metadata=HUAWEI.md,
            ),
        ),
    }
    for rpc, (theirs, never, ask) in asks.items():
        code, details = await code_of(ask(theirs))
        assert code == grpc.StatusCode.NOT_FOUND, f"{rpc}: {code} {details}"
        missing_code, missing = await code_of(ask(never))
        assert (missing_code, details) == (grpc.StatusCode.NOT_FOUND, missing.replace(never, theirs)), rpc
    got = await platform.compute.GetJob(jpb.GetJobRequest(job_id=job), metadata=ALIBABA.md)
    assert got.job.state != jpb.JOB_STATE_CANCELLED
    assert not got.job.cancel_requested
    open_ = await platform.incidents.GetIncident(
        ipb.GetIncidentRequest(incident_id=incident), metadata=ALIBABA.md
    )
    assert open_.incident.state == ipb.INCIDENT_STATE_OPEN
    wanted = {"compute": {"GetJob"}, "governance": {"get"}, "exchange": {"ListGrants", "DenyAccess", "Query"}}
    for service, actions in wanted.items():
        mine = await eventually(
            functools.partial(huaweis_denials, platform.nats_url, service),
            functools.partial(covers, actions),
            10,
            f"{service} audited huawei's attempts",
        )
        named = [r["resource"] for r in mine]
        assert all(job in n or incident in n or dataset in n for n in named), named


def covers(actions: set[str], records: list[dict[str, Any]]) -> bool:
    return {r["action"] for r in records} >= actions


async def huaweis_denials(nats_url: str, service: str) -> list[dict[str, Any]]:
    return [r for r in await audit_records(nats_url, service, allowed=False) if r["tenant"] == HUAWEI.name]


async def test_a_claim_decided_before_ids_were_per_peak_is_still_paid_once(platform: Platform) -> None:
    """Ledgers written before claim ids were per peak hold `claim.<id>` and `recognition.<digest>`:
    such a decision still answers its own peak's resubmission (paid once), and an old recognition
    still stops its own peak's project from being paid again; neither says anything to another
    peak."""
    old = subsidy_claim("old-1", peak_id="fengyang-5g", enterprise="Huawei")
    subsidy = gdomain.Decision(
        gconvert.claim(old), True, 1, "project-subsidy", "decided long ago", 1, "huawei"
    )
    recognised = gpb.AwardClaim(
        claim_id="old-rec",
        enterprise="Huawei",
        project="Smart Lamp Posts",
        kind=gpb.AWARD_KIND_RECOGNITION,
        recognition=gpb.RecognitionClaim(level=gpb.RECOGNITION_LEVEL_NATIONAL),
        peak_id="fengyang-5g",
    )
    recognition = gdomain.Decision(
        gconvert.claim(recognised), True, 1_000_000_00, "recognition", "national", 1
    )
    bus = await Bus.connect(
        ServiceSettings(nats_url=platform.nats_url), name="old-ledger", resources=[AWARDS_BUCKET]
    )
    try:
        ledger = AwardLedger(await bus.kv(AWARDS_BUCKET))
        await ledger.append(gdomain.claim_key("old-1"), subsidy)
        await ledger.append(gdomain.claim_key("old-rec"), recognition)
        paid = gdomain.Recognised(
            gdomain.RecognitionLevel.NATIONAL, 1_000_000_00, {"old-rec": (1_000_000_00, "national")}
        )
        await ledger.set_recognised(gdomain.recognition_guard_key("Smart Lamp Posts"), paid, None)
    finally:
        await bus.close()
    again = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim("old-1", enterprise="Huawei")), metadata=HUAWEI.md
    )
    assert (again.duplicate, again.decision.amount_fen, again.decision.explanation) == (
        True,
        1,
        "decided long ago",
    )
    theirs = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=subsidy_claim("old-1")), metadata=ALIBABA.md
    )
    assert (theirs.duplicate, theirs.decision.claim.peak_id) == (False, "tianjian-lake")
    lower = gpb.AwardClaim()
    lower.CopyFrom(recognised)
    lower.claim_id, lower.peak_id = "new-rec", ""
    lower.recognition.level = gpb.RECOGNITION_LEVEL_PROVINCIAL
    refused = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=lower), metadata=HUAWEI.md
    )
    assert (refused.decision.granted, refused.decision.amount_fen) == (False, 0)
    lower.enterprise = "Alibaba Cloud"
    other = await platform.governance.SubmitAwardClaim(
        gpb.SubmitAwardClaimRequest(claim=lower), metadata=ALIBABA.md
    )
    assert (other.decision.granted, other.decision.amount_fen) == (True, 800_000_00)


async def test_a_peaks_award_decisions_say_nothing_of_another_peaks_claims(platform: Platform) -> None:
    """A recognition counts per peak's project (another peak's project of the same name neither
    lowers the award nor shows what that peak was paid); a technology's first application is
    awarded once in the whole zone, and the refusal does not name another peak's claim, nor does
    reusing that claim's id get around it."""

    async def submit(claim: gpb.AwardClaim, md: Metadata) -> gpb.AwardDecision:
        answer = await platform.governance.SubmitAwardClaim(
            gpb.SubmitAwardClaimRequest(claim=claim), metadata=md
        )
        decision: gpb.AwardDecision = answer.decision
        return decision

    def recognition(claim_id: str, enterprise: str, level: int) -> gpb.AwardClaim:
        return gpb.AwardClaim(
            claim_id=claim_id,
            enterprise=enterprise,
            project="Smart Lamp Posts",
            kind=gpb.AWARD_KIND_RECOGNITION,
            recognition=gpb.RecognitionClaim(level=level),  # type: ignore[arg-type]
        )

    def first(claim_id: str, enterprise: str) -> gpb.AwardClaim:
        return gpb.AwardClaim(
            claim_id=claim_id,
            enterprise=enterprise,
            kind=gpb.AWARD_KIND_FIRST_APPLICATION,
            first_application=gpb.FirstApplicationClaim(technology="lidar kit", contract_fen=2_000_000_00),
        )

    national = await submit(recognition("hw-rec-1", "Huawei", gpb.RECOGNITION_LEVEL_NATIONAL), HUAWEI.md)
    assert national.amount_fen == 1_000_000_00
    municipal = await submit(
        recognition("ali-rec-1", "Alibaba Cloud", gpb.RECOGNITION_LEVEL_MUNICIPAL), ALIBABA.md
    )
    assert (municipal.granted, municipal.amount_fen) == (True, 500_000_00), municipal.explanation
    assert "1,000,000" not in municipal.explanation
    again = await submit(
        recognition("ali-rec-2", "Alibaba Cloud", gpb.RECOGNITION_LEVEL_MUNICIPAL), ALIBABA.md
    )
    assert (again.granted, again.amount_fen) == (False, 0)  # its own project's levels still do not stack

    held = "huawei_lamp_first_c1"
    assert (await submit(first(held, "Huawei"), HUAWEI.md)).granted
    for claim_id in ("ali-fa-1", held):
        refused = await submit(first(claim_id, "Alibaba Cloud"), ALIBABA.md)
        assert (refused.granted, refused.amount_fen) == (False, 0), claim_id
        assert held not in refused.explanation
        assert "of another claimant" in refused.explanation
    own = await submit(first("huawei_lamp_first_c2", "Huawei"), HUAWEI.md)
    assert not own.granted
    assert held in own.explanation  # its own earlier claim is named
