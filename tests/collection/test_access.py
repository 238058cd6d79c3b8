"""Collection checks the caller's token against each device: a tenant registers inside its own
sub-district, sees and feeds its district's devices and its own, and another tenant's device is as
missing to it; every refusal is on the AUDIT stream. Its ingest is limited per tenant."""

from __future__ import annotations

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.common.v1 import common_pb2
from citymesh.collection.registry import now_ms
from tests.audit import audit_records, denied
from tests.collection.conftest import GOUZHAO, WUTONG, Collection, StartCollection, device
from tests.polling import eventually


def batch(batch_id: str, ids: list[str], per_device: int = 3, value: float = 5.0) -> pb.IngestRequest:
    n = len(ids) * per_device
    return pb.IngestRequest(
        batch=pb.ReadingBatch(
            batch_id=batch_id,
            device_ids=ids,
            device_index=[i % len(ids) for i in range(n)],
            time_unix_ms=[now_ms()] * n,
            values=[value] * n,
        )
    )


async def test_a_tenant_registers_only_inside_its_district_and_only_for_itself(
    collection: Collection,
) -> None:
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
    mine = device("ali-air-1", owner="")
    registered = (await alibaba.RegisterDevice(pb.RegisterDeviceRequest(device=mine))).device
    assert (registered.owner_tenant, registered.district) == ("alibaba-cloud", 1)

    with pytest.raises(grpc.aio.AioRpcError) as outside:
        await alibaba.RegisterDevice(pb.RegisterDeviceRequest(device=device("ali-air-2", at=WUTONG)))
    assert outside.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to district gouzhao, not wutong" in (outside.value.details() or "")

    for_another = device("ali-air-3", owner="huawei")
    with pytest.raises(grpc.aio.AioRpcError) as other_owner:
        await alibaba.RegisterDevice(pb.RegisterDeviceRequest(device=for_another))
    assert other_owner.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only for itself" in (other_owner.value.details() or "")

    records = await eventually(
        lambda: audit_records(collection.settings.nats_url, "collection", allowed=False),
        lambda r: len(r) >= 2,
        what="two denials audited",
    )
    assert len(denied(records, "alibaba-cloud", "RegisterDevice")) == 2
    ids = {d.device_id for d in (await collection.stub.ListDevices(pb.ListDevicesRequest())).devices}
    assert ids == {"ali-air-1"}


async def test_another_tenants_device_is_as_missing_as_one_that_never_was(collection: Collection) -> None:
    await collection.stub.RegisterDevice(
        pb.RegisterDeviceRequest(device=device("wt-air-1", at=WUTONG, owner="unisplendour"))
    )
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("gz-air-1", at=GOUZHAO)))
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
    unis = await collection.as_tenant("unisplendour", "wutong")

    details = {}
    for device_id in ["wt-air-1", "never-was"]:
        for call, request in [
            (alibaba.GetDevice, pb.GetDeviceRequest(device_id=device_id)),
            (alibaba.DeregisterDevice, pb.DeregisterDeviceRequest(device_id=device_id)),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(request)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            details[device_id] = err.value.details() or ""
    assert details["wt-air-1"] == "device wt-air-1 does not exist"
    assert details["never-was"] == "device never-was does not exist"

    # Its own district's device it sees; the other district's it neither gets nor lists.
    assert (await alibaba.GetDevice(pb.GetDeviceRequest(device_id="gz-air-1"))).device.district == 1
    listed = await alibaba.ListDevices(pb.ListDevicesRequest())
    assert [d.device_id for d in listed.devices] == ["gz-air-1"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alibaba.ListDevices(pb.ListDevicesRequest(district=common_pb2.DISTRICT_WUTONG))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [d.device_id for d in (await unis.ListDevices(pb.ListDevicesRequest())).devices] == ["wt-air-1"]
    # The other district's device is still there.
    assert (await collection.stub.GetDevice(pb.GetDeviceRequest(device_id="wt-air-1"))).device.device_id

    records = await eventually(
        lambda: audit_records(collection.settings.nats_url, "collection", allowed=False),
        lambda r: len(r) >= 3,
        what="denials audited",
    )
    assert {(r["action"], r["resource"]) for r in denied(records, "alibaba-cloud", "GetDevice")} == {
        ("GetDevice", "device wt-air-1")
    }
    assert denied(records, "alibaba-cloud", "DeregisterDevice")
    assert denied(records, "alibaba-cloud", "ListDevices")


async def test_a_device_id_taken_by_another_tenant_says_so_without_saying_whose(
    collection: Collection,
) -> None:
    await collection.stub.RegisterDevice(
        pb.RegisterDeviceRequest(device=device("shared-id", at=WUTONG, owner="unisplendour"))
    )
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alibaba.RegisterDevice(pb.RegisterDeviceRequest(device=device("shared-id", at=GOUZHAO)))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "wutong" not in (err.value.details() or "")
    assert "113.56" not in (err.value.details() or "")


async def test_readings_of_devices_a_tenant_may_not_write_are_rejected_one_by_one(
    collection: Collection,
) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("gz-air-1", at=GOUZHAO)))
    await collection.stub.RegisterDevice(
        pb.RegisterDeviceRequest(device=device("wt-air-1", at=WUTONG, owner="unisplendour"))
    )
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")

    ack = (await alibaba.Ingest(batch("mixed", ["gz-air-1", "wt-air-1", "nope"]))).ack
    assert (ack.accepted, ack.rejected) == (3, 6)
    by_device = {r.device_id: r for r in ack.rejections}
    assert by_device["wt-air-1"].reason == by_device["nope"].reason == 1  # UNKNOWN_DEVICE, alike
    assert "not registered in district gouzhao nor to tenant alibaba-cloud" in by_device["wt-air-1"].message

    # The simulator's service token writes every district.
    ack = (await collection.stub.Ingest(batch("platform", ["gz-air-1", "wt-air-1"]))).ack
    assert (ack.accepted, ack.rejected) == (6, 0)

    records = await eventually(
        lambda: audit_records(collection.settings.nats_url, "collection", allowed=False),
        lambda r: bool(denied(r, "alibaba-cloud", "Ingest")),
        what="the foreign readings audited",
    )
    (record,) = denied(records, "alibaba-cloud", "Ingest")
    assert record["resource"] == "devices wt-air-1"
    assert "3 readings" in record["reason"]


async def test_a_stream_of_a_tenant_gets_the_same_rejections(collection: Collection) -> None:
    await collection.stub.RegisterDevice(
        pb.RegisterDeviceRequest(device=device("wt-air-1", at=WUTONG, owner="unisplendour"))
    )
    alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
    mine = device("ali-air-1", owner="")
    await alibaba.RegisterDevice(pb.RegisterDeviceRequest(device=mine))

    async def requests():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield pb.StreamReadingsRequest(batch=batch(f"s{i}", ["ali-air-1", "wt-air-1"]).batch)

    acks = [r.ack async for r in alibaba.StreamReadings(requests())]
    assert [(a.accepted, a.rejected) for a in acks] == [(3, 3)] * 3


async def test_a_tenant_over_its_ingest_rate_is_refused_and_another_is_not(
    start_collection: StartCollection,
) -> None:
    async with start_collection(ingest_readings_per_s=100) as collection:
        await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("gz-air-1", at=GOUZHAO)))
        await collection.stub.RegisterDevice(
            pb.RegisterDeviceRequest(device=device("wt-air-1", at=WUTONG, owner="unisplendour"))
        )
        alibaba = await collection.as_tenant("alibaba-cloud", "gouzhao")
        unis = await collection.as_tenant("unisplendour", "wutong")

        answers = []
        for i in range(5):
            try:
                await alibaba.Ingest(batch(f"flood-{i}", ["gz-air-1"], per_device=40))
                answers.append((grpc.StatusCode.OK, ""))
            except grpc.aio.AioRpcError as exc:
                answers.append((exc.code(), exc.details() or ""))
        assert [code for code, _ in answers[:2]] == [grpc.StatusCode.OK] * 2
        refusals = [details for code, details in answers[2:] if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert refusals
        assert all("over its limit of 100 readings per second" in d for d in refusals)
        ack = (await unis.Ingest(batch("calm", ["wt-air-1"], per_device=40))).ack
        assert ack.accepted == 40
        for i in range(3):  # the platform's services (the simulator) are not limited
            ack = (await collection.stub.Ingest(batch(f"sim-{i}", ["gz-air-1"], per_device=150))).ack
            assert ack.accepted == 150

        with pytest.raises(grpc.aio.AioRpcError) as too_big:
            await unis.Ingest(batch("huge", ["wt-air-1"], per_device=101))
        assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "send smaller batches" in (too_big.value.details() or "")
