"""CollectionService against a real in-process gRPC server and a real nats-server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
import nats
import numpy as np
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.common.v1 import common_pb2
from citymesh.runtime.bus import TELEMETRY_STREAM
from citymesh.runtime.natsd import NatsServer
from tests.collection.conftest import WUTONG, Collection, device


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def stored_batches(url: str) -> list[tuple[str, pb.ReadingBatch, str]]:
    """Every message of TELEMETRY: (subject, batch, Nats-Msg-Id)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(TELEMETRY_STREAM)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(TELEMETRY_STREAM, seq)
            headers = msg.headers or {}
            batch = pb.ReadingBatch.FromString(msg.data or b"")
            out.append((msg.subject or "", batch, str(headers.get("Nats-Msg-Id", ""))))
        return out
    finally:
        await nc.close()


async def test_a_device_is_registered_found_listed_and_deregistered(collection: Collection) -> None:
    stub = collection.stub
    got = await stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1", at=WUTONG)))
    assert got.device.district == common_pb2.DISTRICT_WUTONG
    assert got.device.registered_at.seconds > 0
    again = await stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1", at=WUTONG)))
    assert again.device == got.device
    await stub.RegisterDevice(
        pb.RegisterDeviceRequest(device=device("cam-1", kind=common_pb2.DEVICE_KIND_CAMERA))
    )
    assert (await stub.GetDevice(pb.GetDeviceRequest(device_id="air-1"))).device == got.device

    first = await stub.ListDevices(pb.ListDevicesRequest(page_size=1))
    assert [d.device_id for d in first.devices] == ["air-1"]
    second = await stub.ListDevices(pb.ListDevicesRequest(page_size=1, page_token=first.next_page_token))
    assert [d.device_id for d in second.devices] == ["cam-1"]
    assert second.next_page_token == ""
    only_wutong = await stub.ListDevices(pb.ListDevicesRequest(district=common_pb2.DISTRICT_WUTONG))
    assert [d.device_id for d in only_wutong.devices] == ["air-1"]

    await stub.DeregisterDevice(pb.DeregisterDeviceRequest(device_id="air-1"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetDevice(pb.GetDeviceRequest(device_id="air-1"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await stub.GetIngestStats(pb.GetIngestStatsRequest())).devices == 1


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (
            pb.RegisterDeviceRequest(device=device("x-1", at=(100.0, 30.0))),
            "INVALID_ARGUMENT",
            "outside the zone",
        ),
        (pb.RegisterDeviceRequest(device=device("x-1", kind=99)), "INVALID_ARGUMENT", "unknown device kind"),
        (
            pb.RegisterDeviceRequest(device=pb.Device(device_id="x-1", kind=common_pb2.DEVICE_KIND_AIR)),
            "INVALID_ARGUMENT",
            "position",
        ),
        (pb.RegisterDeviceRequest(device=device("X 1")), "INVALID_ARGUMENT", "device_id"),
    ],
)
async def test_a_bad_registration_is_refused_with_a_reason(
    collection: Collection, request_: pb.RegisterDeviceRequest, code: str, words: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await collection.stub.RegisterDevice(request_)
    assert err.value.code().name == code
    assert words in (err.value.details() or "")


async def test_a_changed_registration_is_already_exists(collection: Collection) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1")))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1", at=WUTONG)))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_good_readings_land_beside_rejected_ones(
    collection: Collection, nats_server: NatsServer
) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1")))
    now = now_ms()
    batch = pb.ReadingBatch(
        batch_id="mixed-1",
        device_ids=["air-1", "ghost"],
        device_index=[0, 1, 0, 0, 0],
        time_unix_ms=[now, now, now, now + 86_400_000, now - 1],
        values=[12.5, 1.0, float("nan"), 3.0, 40.0],
    )
    ack = (await collection.stub.Ingest(pb.IngestRequest(batch=batch))).ack
    assert (ack.accepted, ack.rejected) == (2, 3)
    assert [r.reason for r in ack.rejections] == [
        common_pb2.REJECTION_REASON_UNKNOWN_DEVICE,
        common_pb2.REJECTION_REASON_NOT_FINITE,
        common_pb2.REJECTION_REASON_FUTURE_TIMESTAMP,
    ]
    [(subject, stored, msg_id)] = await stored_batches(nats_server.url)
    assert subject == "telemetry.gouzhao"
    assert msg_id == "mixed-1/gouzhao"
    assert list(stored.device_ids) == ["air-1"]
    assert list(stored.values) == [12.5, 40.0]
    assert list(stored.time_unix_ms) == [now, now - 1]


async def test_a_batch_sent_twice_is_stored_once(collection: Collection, nats_server: NatsServer) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1")))
    batch = pb.ReadingBatch(
        batch_id="twice", device_ids=["air-1"], device_index=[0], time_unix_ms=[now_ms()], values=[5]
    )
    first = (await collection.stub.Ingest(pb.IngestRequest(batch=batch))).ack
    second = (await collection.stub.Ingest(pb.IngestRequest(batch=batch))).ack
    assert (first.duplicate, second.duplicate) == (False, True)
    assert len(await stored_batches(nats_server.url)) == 1


async def test_a_clean_batch_is_forwarded_as_sent_and_a_mixed_one_split_by_district(
    collection: Collection, nats_server: NatsServer
) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-g")))
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-w", at=WUTONG)))
    now = now_ms()
    clean = pb.ReadingBatch(
        batch_id="clean", device_ids=["air-g"], device_index=[0, 0], time_unix_ms=[now, now], values=[1, 2]
    )
    both = pb.ReadingBatch(
        batch_id="both",
        device_ids=["air-g", "air-w"],
        device_index=[0, 1, 1],
        time_unix_ms=[now] * 3,
        values=[1, 2, 3],
    )
    await collection.stub.Ingest(pb.IngestRequest(batch=clean))
    await collection.stub.Ingest(pb.IngestRequest(batch=both))
    stored = await stored_batches(nats_server.url)
    assert stored[0][1].SerializeToString() == clean.SerializeToString()
    parts = {subject: (list(b.device_ids), list(b.values)) for subject, b, _ in stored[1:]}
    assert parts == {"telemetry.gouzhao": (["air-g"], [1.0]), "telemetry.wutong": (["air-w"], [2.0, 3.0])}


async def test_a_stream_acks_every_batch_and_survives_bad_ones(collection: Collection) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1")))
    now = now_ms()
    good = [
        pb.StreamReadingsRequest(
            batch=pb.ReadingBatch(
                batch_id=f"g{i}",
                device_ids=["air-1"],
                device_index=[0] * 50,
                time_unix_ms=[now] * 50,
                values=[7.0] * 50,
            )
        ).SerializeToString()
        for i in range(20)
    ]
    malformed = b"\x0a\xff\xff\xff\x0f garbage"
    ragged = pb.StreamReadingsRequest(
        batch=pb.ReadingBatch(batch_id="ragged", device_ids=["air-1"], device_index=[0, 0], values=[1.0])
    ).SerializeToString()
    oversized_batch = pb.StreamReadingsRequest(
        batch=pb.ReadingBatch(
            batch_id="huge",
            device_ids=["air-1"],
            device_index=[0] * 2001,
            time_unix_ms=[now] * 2001,
            values=[1.0] * 2001,
        )
    ).SerializeToString()

    async def requests() -> AsyncIterator[bytes]:
        for raw in [*good[:10], malformed, ragged, oversized_batch, *good[10:]]:
            yield raw

    call = collection.channel.stream_stream(
        "/citymesh.collection.v1.CollectionService/StreamReadings",
        request_serializer=None,
        response_deserializer=pb.StreamReadingsResponse.FromString,
    )
    acks = [r.ack async for r in call(requests())]
    assert len(acks) == 23
    ok = {a.batch_id: a.accepted for a in acks if a.error_code == 0}
    assert ok == {f"g{i}": 50 for i in range(20)}
    errors = sorted((a.batch_id, a.error_code) for a in acks if a.error_code)
    assert errors == [("", 3), ("huge", 3), ("ragged", 3)]
    assert all(a.error_message for a in acks if a.error_code)
    stats = await collection.stub.GetIngestStats(pb.GetIngestStatsRequest())
    assert (stats.readings_accepted, stats.batches_failed) == (1000, 3)


async def test_malformed_and_oversized_messages_do_not_take_the_service_down(collection: Collection) -> None:
    ingest = collection.channel.unary_unary(
        "/citymesh.collection.v1.CollectionService/Ingest",
        request_serializer=None,
        response_deserializer=None,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest(b"\xff\xff\xff\xff")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest(b"\x0a" + b"\x80" * 3 + b"\x01" + b"x" * (collection.settings.max_message_bytes + 10))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    stats = await collection.stub.GetIngestStats(pb.GetIngestStatsRequest())
    assert stats.batches_failed == 1


async def test_random_and_mutated_bytes_never_crash_ingest(collection: Collection) -> None:
    await collection.stub.RegisterDevice(pb.RegisterDeviceRequest(device=device("air-1")))
    valid = pb.IngestRequest(
        batch=pb.ReadingBatch(
            batch_id="v",
            device_ids=["air-1"],
            device_index=[0] * 8,
            time_unix_ms=[now_ms()] * 8,
            values=[3.0] * 8,
        )
    ).SerializeToString()
    rng = np.random.default_rng(11)
    inputs = [rng.bytes(int(rng.integers(0, 300))) for _ in range(150)]
    for _ in range(150):
        mutated = bytearray(valid)
        for pos in rng.integers(0, len(mutated), int(rng.integers(1, 6))):
            mutated[pos] = int(rng.integers(0, 256))
        inputs.append(bytes(mutated))
    ingest = collection.channel.unary_unary(
        "/citymesh.collection.v1.CollectionService/Ingest",
        request_serializer=None,
        response_deserializer=None,
    )
    codes = set()
    for raw in inputs:
        try:
            await ingest(raw)
            codes.add(grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as exc:
            codes.add(exc.code())
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
    assert grpc.StatusCode.INVALID_ARGUMENT in codes
    stats = await collection.stub.GetIngestStats(pb.GetIngestStatsRequest())
    assert stats.devices == 1
