"""Data sharing and isolation on a real exchange: tenants named by the development headers, the
catalog and its grants in their KV buckets, denials and cross-tenant reads on the AUDIT stream.

The test plays collection (devices and readings) and governance (the tenants bucket, whose
active peaks own their districts' telemetry).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2

from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.runtime.bus import AUDIT_STREAM, TENANTS_BUCKET, Bus
from tests.exchange.conftest import Exchange, StartExchange, Tenant
from tests.exchange.harness import BASE_MS, ZONE, Dev, Metadata, Reading, caught_up, publish, register
from tests.exchange.test_exchange_servicer import time_range

AIR, NOISE = common_pb2.DEVICE_KIND_AIR, common_pb2.DEVICE_KIND_NOISE
GOUZHAO, FENGYANG, WUTONG = (
    common_pb2.DISTRICT_GOUZHAO,
    common_pb2.DISTRICT_FENGYANG,
    common_pb2.DISTRICT_WUTONG,
)
DEVICES = [
    Dev("gz-air", AIR, GOUZHAO),
    Dev("gz-noise", NOISE, GOUZHAO),
    Dev("fy-air", AIR, FENGYANG),
    Dev("wt-air", AIR, WUTONG),
]
READINGS: list[Reading] = [
    ("gz-air", BASE_MS, 10.0),
    ("gz-air", BASE_MS + 1, 20.0),
    ("gz-noise", BASE_MS + 2, 50.0),
]
FY_READINGS: list[Reading] = [("fy-air", BASE_MS + 3, 70.0), ("fy-air", BASE_MS + 4, 90.0)]
WHOLE = time_range(BASE_MS, BASE_MS + 60_000)


async def city(exchange: Exchange, bus: Bus, metadata: Metadata = ZONE) -> tuple[Tenant, Tenant, Tenant]:
    """Three peaks (alibaba-cloud in gouzhao, huawei in fengyang, unisplendour in wutong), their
    devices and a few readings; returns the three tenants' views (`metadata`: the zone's
    credentials, to wait for the readings)."""
    tenants = await bus.kv(TENANTS_BUCKET)
    for tenant, district in (
        ("alibaba-cloud", "gouzhao"),
        ("huawei", "fengyang"),
        ("unisplendour", "wutong"),
    ):
        record = {"tenant": tenant, "district": district, "status": "active"}
        await tenants.put(tenant, json.dumps(record).encode())
    await register(bus, *DEVICES)
    await publish(bus, READINGS, GOUZHAO)
    await publish(bus, FY_READINGS, FENGYANG)
    await caught_up(exchange.stub, len(READINGS) + len(FY_READINGS), metadata=metadata)
    return (
        exchange.as_tenant("alibaba-cloud", "gouzhao"),
        exchange.as_tenant("huawei", "fengyang"),
        exchange.as_tenant("unisplendour", "wutong"),
    )


async def audit(bus: Bus, allowed: bool) -> list[dict[str, Any]]:
    """Every audit record the exchange published, allowed or denied."""
    info = await bus.js.stream_info(AUDIT_STREAM)
    subject = f"audit.exchange.{'allowed' if allowed else 'denied'}"
    records = []
    for seq in range(max(1, info.state.first_seq), info.state.last_seq + 1):
        msg = await bus.js.get_msg(AUDIT_STREAM, seq)
        if msg.subject == subject:
            records.append(json.loads(msg.data or b""))
    return records


async def refused(call: Any, code: grpc.StatusCode) -> str:
    """Await a call (or a stream's read) that must fail with `code`; its details."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    return info.value.details() or ""


def query(dataset_id: str = "", **filter: Any) -> pb.QueryRequest:
    return pb.QueryRequest(
        time_range=WHOLE,
        dataset_id=dataset_id,
        filter=pb.ReadingFilter(**filter),
        group_by=[pb.GROUP_BY_DEVICE],
    )


def counts(response: pb.QueryResponse) -> dict[str, int]:
    return {row.device_id: row.count for row in response.rows}


async def test_a_tenant_reads_its_own_district_and_another_district_is_refused_and_audited(
    exchange: Exchange, bus: Bus
) -> None:
    alibaba, _, _ = await city(exchange, bus)

    own = await alibaba.stub.Query(query())
    named = await alibaba.stub.Query(query(districts=[GOUZHAO]))
    probing = await alibaba.stub.Query(query(device_ids=["fy-air"]))
    details = await refused(
        alibaba.stub.Query(query(districts=[FENGYANG])), grpc.StatusCode.PERMISSION_DENIED
    )
    mixed = await refused(
        alibaba.stub.Query(query(districts=[GOUZHAO, FENGYANG])), grpc.StatusCode.PERMISSION_DENIED
    )
    streamed = await refused(
        alibaba.stub.Subscribe(pb.SubscribeRequest(filter=pb.ReadingFilter(districts=[FENGYANG]))).read(),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert counts(own) == counts(named) == {"gz-air": 2, "gz-noise": 1}
    assert counts(probing) == {}, "a device of another district is outside the caller's reach"
    assert "telemetry.fengyang" in details
    assert "RequestAccess" in details
    assert "telemetry.fengyang" in mixed
    assert "telemetry.fengyang" in streamed
    denied = await audit(bus, allowed=False)
    assert [(r["tenant"], r["district"], r["action"], r["resource"]) for r in denied] == [
        ("alibaba-cloud", "gouzhao", "Query", "dataset telemetry.fengyang"),
        ("alibaba-cloud", "gouzhao", "Query", "dataset telemetry.fengyang"),
        ("alibaba-cloud", "gouzhao", "Subscribe", "dataset telemetry.fengyang"),
    ]
    assert await audit(bus, allowed=True) == [], "reading its own district leaves no trace"
    zone = await exchange.stub.Query(query())
    assert counts(zone) == {"gz-air": 2, "gz-noise": 1, "fy-air": 2}


async def test_request_grant_read_then_the_expiry_cuts_access_at_once(exchange: Exchange, bus: Bus) -> None:
    alibaba, huawei, unisplendour = await city(exchange, bus)
    fengyang = "telemetry.fengyang"

    asked = (
        await alibaba.stub.RequestAccess(pb.RequestAccessRequest(dataset_id=fengyang, purpose="PM2.5 model"))
    ).grant
    assert (asked.state, asked.tenant, asked.purpose) == (
        pb.GRANT_STATE_REQUESTED,
        "alibaba-cloud",
        "PM2.5 model",
    )
    waiting = await refused(alibaba.stub.Query(query(fengyang)), grpc.StatusCode.PERMISSION_DENIED)
    assert "waiting" in waiting
    for outsider in (alibaba, unisplendour):
        await refused(
            outsider.stub.GrantAccess(
                pb.GrantAccessRequest(
                    dataset_id=fengyang, tenant="alibaba-cloud", ttl=duration_pb2.Duration(seconds=60)
                )
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    [owned] = (await huawei.stub.ListDatasets(pb.ListDatasetsRequest(owner_tenant="huawei"))).datasets
    assert (owned.dataset_id, owned.telemetry, owned.readable) == (fengyang, True, True)

    granted = (
        await huawei.stub.GrantAccess(
            pb.GrantAccessRequest(
                dataset_id=fengyang,
                tenant="alibaba-cloud",
                ttl=duration_pb2.Duration(seconds=60),
                note="for a year",
            )
        )
    ).grant
    assert (granted.state, granted.decided_by, granted.purpose) == (
        pb.GRANT_STATE_GRANTED,
        "huawei",
        "PM2.5 model",
    )

    through_dataset = await alibaba.stub.Query(query(fengyang))
    through_filter = await alibaba.stub.Query(query(districts=[FENGYANG, GOUZHAO]))
    assert counts(through_dataset) == {"fy-air": 2}
    assert counts(through_filter) == {"gz-air": 2, "gz-noise": 1, "fy-air": 2}
    listed = {d.dataset_id: d for d in (await alibaba.stub.ListDatasets(pb.ListDatasetsRequest())).datasets}
    assert listed[fengyang].readable
    assert listed[fengyang].grant_expires_at == granted.expires_at
    assert not listed["telemetry.wutong"].readable
    allowed = await audit(bus, allowed=True)
    reads = [(r["tenant"], r["action"], r["resource"]) for r in allowed if r["action"] == "Query"]
    assert reads == [("alibaba-cloud", "Query", f"dataset {fengyang}")] * 2

    exchange.clock.advance(60)

    expired = await refused(alibaba.stub.Query(query(fengyang)), grpc.StatusCode.PERMISSION_DENIED)
    assert "expired" in expired
    await refused(alibaba.stub.Query(query(districts=[FENGYANG])), grpc.StatusCode.PERMISSION_DENIED)
    [grant] = (await alibaba.stub.ListGrants(pb.ListGrantsRequest())).grants
    assert grant.state == pb.GRANT_STATE_EXPIRED
    again = (
        await alibaba.stub.RequestAccess(
            pb.RequestAccessRequest(dataset_id=fengyang, purpose="one more month")
        )
    ).grant
    assert again.state == pb.GRANT_STATE_REQUESTED


async def test_a_private_dataset_is_invisible_to_others_until_its_owner_grants_it(
    exchange: Exchange, bus: Bus
) -> None:
    alibaba, huawei, unisplendour = await city(exchange, bus)
    published = await alibaba.stub.PublishDataset(
        pb.PublishDatasetRequest(
            name="air",
            description="PM2.5 of Tianjian Lake",
            visibility=pb.VISIBILITY_PRIVATE,
            selection=pb.ReadingFilter(kinds=[AIR]),
        )
    )
    assert published.created
    assert (published.dataset.dataset_id, published.dataset.owner_tenant) == (
        "alibaba-cloud.air",
        "alibaba-cloud",
    )
    assert list(published.dataset.selection.districts) == [GOUZHAO], "a tenant's dataset lies in its district"

    listed = [d.dataset_id for d in (await huawei.stub.ListDatasets(pb.ListDatasetsRequest())).datasets]
    assert "alibaba-cloud.air" not in listed
    assert [d for d in listed if d.startswith("telemetry.")] == [
        "telemetry.fengyang",
        "telemetry.gouzhao",
        "telemetry.shifo",
        "telemetry.shuangqiao",
        "telemetry.wutong",
    ]
    hidden = await refused(huawei.stub.Query(query("alibaba-cloud.air")), grpc.StatusCode.NOT_FOUND)
    absent = await refused(huawei.stub.Query(query("alibaba-cloud.nothing")), grpc.StatusCode.NOT_FOUND)
    assert hidden.replace("air", "X") == absent.replace("nothing", "X"), (
        "a hidden dataset reads as a missing one"
    )
    await refused(
        huawei.stub.RequestAccess(pb.RequestAccessRequest(dataset_id="alibaba-cloud.air", purpose="x")),
        grpc.StatusCode.NOT_FOUND,
    )
    assert counts(await alibaba.stub.Query(query("alibaba-cloud.air"))) == {"gz-air": 2}
    denied = [r["resource"] for r in await audit(bus, allowed=False)]
    assert denied == ["dataset alibaba-cloud.air"] * 2

    await alibaba.stub.GrantAccess(
        pb.GrantAccessRequest(
            dataset_id="alibaba-cloud.air", tenant="huawei", ttl=duration_pb2.Duration(seconds=600)
        )
    )

    seen = [d.dataset_id for d in (await huawei.stub.ListDatasets(pb.ListDatasetsRequest())).datasets]
    assert "alibaba-cloud.air" in seen
    narrowed = await huawei.stub.Query(query("alibaba-cloud.air", districts=[GOUZHAO, FENGYANG]))
    assert counts(narrowed) == {"gz-air": 2}, "the dataset's selection bounds what a grant reads"
    assert counts(await huawei.stub.Query(query("alibaba-cloud.air", kinds=[NOISE]))) == {}
    still_hidden = [
        d.dataset_id for d in (await unisplendour.stub.ListDatasets(pb.ListDatasetsRequest())).datasets
    ]
    assert "alibaba-cloud.air" not in still_hidden


async def test_a_revoked_grant_ends_reads_and_a_live_stream(start_exchange: StartExchange, bus: Bus) -> None:
    async with start_exchange(grant_recheck_s=0.05) as exchange:
        alibaba, huawei, _ = await city(exchange, bus)
        await alibaba.stub.PublishDataset(
            pb.PublishDatasetRequest(
                name="noise", visibility=pb.VISIBILITY_SHARED, selection=pb.ReadingFilter(kinds=[NOISE])
            )
        )
        await huawei.stub.RequestAccess(
            pb.RequestAccessRequest(dataset_id="alibaba-cloud.noise", purpose="5G siting")
        )
        await alibaba.stub.GrantAccess(
            pb.GrantAccessRequest(
                dataset_id="alibaba-cloud.noise", tenant="huawei", ttl=duration_pb2.Duration(seconds=3600)
            )
        )
        stream = huawei.stub.Subscribe(pb.SubscribeRequest(dataset_id="alibaba-cloud.noise"))
        await stream.initial_metadata()
        await publish(bus, [("gz-air", BASE_MS + 10, 1.0), ("gz-noise", BASE_MS + 11, 60.0)], GOUZHAO)
        first = await asyncio.wait_for(stream.read(), 20)
        assert [(r.device_id, r.value) for r in first.readings] == [("gz-noise", 60.0)]

        revoked = (
            await alibaba.stub.RevokeGrant(
                pb.RevokeGrantRequest(
                    dataset_id="alibaba-cloud.noise", tenant="huawei", reason="project over"
                )
            )
        ).grant
        assert (revoked.state, revoked.reason) == (pb.GRANT_STATE_REVOKED, "project over")
        await publish(bus, [("gz-noise", BASE_MS + 12, 61.0)], GOUZHAO)

        ended = await refused(asyncio.wait_for(stream.read(), 20), grpc.StatusCode.PERMISSION_DENIED)
        assert "revoked" in ended
        assert "project over" in ended
        details = await refused(
            huawei.stub.Query(query("alibaba-cloud.noise")), grpc.StatusCode.PERMISSION_DENIED
        )
        assert "revoked by alibaba-cloud" in details
        await refused(
            alibaba.stub.RevokeGrant(
                pb.RevokeGrantRequest(dataset_id="alibaba-cloud.noise", tenant="huawei", reason="twice")
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )


async def test_a_live_stream_through_a_grant_ends_at_its_expiry(exchange: Exchange, bus: Bus) -> None:
    alibaba, huawei, _ = await city(exchange, bus)
    await huawei.stub.GrantAccess(
        pb.GrantAccessRequest(
            dataset_id="telemetry.fengyang", tenant="alibaba-cloud", ttl=duration_pb2.Duration(seconds=30)
        )
    )
    stream = alibaba.stub.Subscribe(pb.SubscribeRequest(filter=pb.ReadingFilter(districts=[FENGYANG])))
    await stream.initial_metadata()
    await publish(bus, [("fy-air", BASE_MS + 20, 5.0)], FENGYANG)
    assert [r.device_id for r in (await asyncio.wait_for(stream.read(), 20)).readings] == ["fy-air"]

    exchange.clock.advance(30)
    await publish(bus, [("fy-air", BASE_MS + 21, 6.0)], FENGYANG)

    ended = await refused(asyncio.wait_for(stream.read(), 20), grpc.StatusCode.PERMISSION_DENIED)
    assert "expired" in ended


async def test_a_public_dataset_is_read_by_every_tenant_and_each_read_audited(
    exchange: Exchange, bus: Bus
) -> None:
    alibaba, huawei, unisplendour = await city(exchange, bus)
    await alibaba.stub.PublishDataset(
        pb.PublishDatasetRequest(name="open-air", visibility=pb.VISIBILITY_PUBLIC)
    )

    for reader in (huawei, unisplendour):
        assert counts(await reader.stub.Query(query("alibaba-cloud.open-air"))) == {
            "gz-air": 2,
            "gz-noise": 1,
        }
    await refused(
        huawei.stub.RequestAccess(pb.RequestAccessRequest(dataset_id="alibaba-cloud.open-air", purpose="x")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    reads = [(r["tenant"], r["resource"]) for r in await audit(bus, allowed=True) if r["action"] == "Query"]
    assert reads == [
        ("huawei", "dataset alibaba-cloud.open-air"),
        ("unisplendour", "dataset alibaba-cloud.open-air"),
    ]


async def test_only_the_owner_or_the_zone_decides_and_a_denial_needs_a_request(
    exchange: Exchange, bus: Bus
) -> None:
    alibaba, huawei, unisplendour = await city(exchange, bus)
    shifo = "telemetry.shifo"  # no peak: the zone owns it
    await alibaba.stub.RequestAccess(pb.RequestAccessRequest(dataset_id=shifo, purpose="flood model"))
    await refused(
        huawei.stub.DenyAccess(pb.DenyAccessRequest(dataset_id=shifo, tenant="alibaba-cloud", reason="no")),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    denied = (
        await exchange.stub.DenyAccess(
            pb.DenyAccessRequest(dataset_id=shifo, tenant="alibaba-cloud", reason="under negotiation")
        )
    ).grant
    assert (denied.state, denied.decided_by) == (pb.GRANT_STATE_DENIED, "zone")
    await refused(
        exchange.stub.DenyAccess(
            pb.DenyAccessRequest(dataset_id=shifo, tenant="alibaba-cloud", reason="again")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    details = await refused(alibaba.stub.Query(query(shifo)), grpc.StatusCode.PERMISSION_DENIED)
    assert "under negotiation" in details

    await huawei.stub.RequestAccess(pb.RequestAccessRequest(dataset_id="telemetry.gouzhao", purpose="5G"))
    mine = {(g.dataset_id, g.tenant) for g in (await alibaba.stub.ListGrants(pb.ListGrantsRequest())).grants}
    theirs = {
        (g.dataset_id, g.tenant) for g in (await unisplendour.stub.ListGrants(pb.ListGrantsRequest())).grants
    }
    everything = {
        (g.dataset_id, g.tenant) for g in (await exchange.stub.ListGrants(pb.ListGrantsRequest())).grants
    }
    assert mine == {(shifo, "alibaba-cloud"), ("telemetry.gouzhao", "huawei")}, (
        "asked for, and on its own data"
    )
    assert theirs == set()
    assert everything == mine
    changes = [(r["tenant"], r["action"]) for r in await audit(bus, allowed=True)]
    assert changes == [
        ("alibaba-cloud", "RequestAccess"),
        ("zone", "DenyAccess"),
        ("huawei", "RequestAccess"),
    ]


async def test_queries_are_limited_per_tenant(start_exchange: StartExchange, bus: Bus) -> None:
    async with start_exchange(tenant_queries_per_s=3) as exchange:
        alibaba, huawei, _ = await city(exchange, bus)
        for _ in range(3):
            await alibaba.stub.Query(query())

        details = await refused(alibaba.stub.Query(query()), grpc.StatusCode.RESOURCE_EXHAUSTED)

        assert "alibaba-cloud" in details
        assert "3 queries per second" in details
        await huawei.stub.Query(query())
        for _ in range(10):
            await exchange.stub.Query(query())


async def test_get_stats_is_for_the_platform(exchange: Exchange, bus: Bus) -> None:
    alibaba, _, _ = await city(exchange, bus)

    await refused(alibaba.stub.GetStats(pb.GetStatsRequest()), grpc.StatusCode.PERMISSION_DENIED)

    service = exchange.as_tenant("compute", roles=("service",))
    assert (await service.stub.GetStats(pb.GetStatsRequest())).rows == len(READINGS) + len(FY_READINGS)
    [record] = await audit(bus, allowed=False)
    assert (record["tenant"], record["action"]) == ("alibaba-cloud", "GetStats")


async def test_a_call_without_an_identity_is_refused_and_audited(exchange: Exchange, bus: Bus) -> None:
    calls = [
        exchange.raw.Query(query()),
        exchange.raw.ListDatasets(pb.ListDatasetsRequest()),
        exchange.raw.GetStats(pb.GetStatsRequest()),
        exchange.raw.Subscribe(pb.SubscribeRequest()).read(),
        exchange.raw.RequestAccess(pb.RequestAccessRequest(dataset_id="telemetry.wutong", purpose="x")),
    ]
    for call in calls:
        await refused(call, grpc.StatusCode.UNAUTHENTICATED)
    assert len(await audit(bus, allowed=False)) == len(calls)


async def test_a_tenant_publishes_only_its_own_district(exchange: Exchange, bus: Bus) -> None:
    alibaba, _, _ = await city(exchange, bus)
    request = pb.PublishDatasetRequest(
        name="theirs", visibility=pb.VISIBILITY_PUBLIC, selection=pb.ReadingFilter(districts=[FENGYANG])
    )

    details = await refused(alibaba.stub.PublishDataset(request), grpc.StatusCode.PERMISSION_DENIED)

    assert "gouzhao" in details
    zone = (await exchange.stub.PublishDataset(request)).dataset
    assert (zone.dataset_id, list(zone.selection.districts)) == ("zone.theirs", [FENGYANG])
    again = await alibaba.stub.PublishDataset(
        pb.PublishDatasetRequest(name="mine", visibility=pb.VISIBILITY_SHARED)
    )
    changed = await alibaba.stub.PublishDataset(
        pb.PublishDatasetRequest(name="mine", visibility=pb.VISIBILITY_PUBLIC, description="now open")
    )
    assert again.created
    assert not changed.created
    assert (changed.dataset.visibility, changed.dataset.description) == (pb.VISIBILITY_PUBLIC, "now open")


BAD_CATALOG_CALLS = {
    "PublishDataset no name": ("PublishDataset", pb.PublishDatasetRequest(visibility=pb.VISIBILITY_SHARED)),
    "PublishDataset bad name": (
        "PublishDataset",
        pb.PublishDatasetRequest(name="Air Quality", visibility=pb.VISIBILITY_SHARED),
    ),
    "PublishDataset no visibility": ("PublishDataset", pb.PublishDatasetRequest(name="air")),
    "PublishDataset unknown visibility": (
        "PublishDataset",
        pb.PublishDatasetRequest(name="air", visibility=9),  # type: ignore[arg-type]
    ),
    "PublishDataset long description": (
        "PublishDataset",
        pb.PublishDatasetRequest(name="air", visibility=pb.VISIBILITY_SHARED, description="x" * 2001),
    ),
    "ListDatasets bad owner": ("ListDatasets", pb.ListDatasetsRequest(owner_tenant="Not A Tenant")),
    "RequestAccess no dataset": ("RequestAccess", pb.RequestAccessRequest(purpose="x")),
    "RequestAccess bad dataset": ("RequestAccess", pb.RequestAccessRequest(dataset_id="nodot", purpose="x")),
    "RequestAccess unknown district": (
        "RequestAccess",
        pb.RequestAccessRequest(dataset_id="telemetry.atlantis", purpose="x"),
    ),
    "RequestAccess no purpose": ("RequestAccess", pb.RequestAccessRequest(dataset_id="telemetry.wutong")),
    "GrantAccess no end": (
        "GrantAccess",
        pb.GrantAccessRequest(dataset_id="telemetry.gouzhao", tenant="huawei"),
    ),
    "GrantAccess two ends": (
        "GrantAccess",
        pb.GrantAccessRequest(
            dataset_id="telemetry.gouzhao",
            tenant="huawei",
            ttl=duration_pb2.Duration(seconds=60),
            expires_at=time_range(BASE_MS, BASE_MS + 1).end,
        ),
    ),
    "GrantAccess past end": (
        "GrantAccess",
        pb.GrantAccessRequest(
            dataset_id="telemetry.gouzhao", tenant="huawei", expires_at=time_range(BASE_MS, BASE_MS + 1).end
        ),
    ),
    "GrantAccess too long": (
        "GrantAccess",
        pb.GrantAccessRequest(
            dataset_id="telemetry.gouzhao", tenant="huawei", ttl=duration_pb2.Duration(seconds=400 * 86400)
        ),
    ),
    "GrantAccess bad tenant": (
        "GrantAccess",
        pb.GrantAccessRequest(
            dataset_id="telemetry.gouzhao", tenant="", ttl=duration_pb2.Duration(seconds=60)
        ),
    ),
    "GrantAccess to the owner": (
        "GrantAccess",
        pb.GrantAccessRequest(
            dataset_id="telemetry.gouzhao", tenant="alibaba-cloud", ttl=duration_pb2.Duration(seconds=60)
        ),
    ),
    "DenyAccess no reason": (
        "DenyAccess",
        pb.DenyAccessRequest(dataset_id="telemetry.gouzhao", tenant="huawei"),
    ),
    "RevokeGrant no reason": (
        "RevokeGrant",
        pb.RevokeGrantRequest(dataset_id="telemetry.gouzhao", tenant="huawei"),
    ),
    "ListGrants bad dataset": ("ListGrants", pb.ListGrantsRequest(dataset_id="a.b.c")),
    "Query bad dataset": ("Query", pb.QueryRequest(time_range=WHOLE, dataset_id="telemetry")),
}


async def test_bad_catalog_requests_are_invalid_argument_with_a_reason(exchange: Exchange, bus: Bus) -> None:
    alibaba, _, _ = await city(exchange, bus)
    for name, (method, request) in BAD_CATALOG_CALLS.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await getattr(alibaba.stub, method)(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, info.value.details())
        assert len(info.value.details() or "") > 20, name
