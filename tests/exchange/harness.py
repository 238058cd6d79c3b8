"""Helpers of the exchange tests: publish what collection would publish, poll the exchange."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import grpc

from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.city import DISTRICTS
from citymesh.runtime.auth import DISTRICT_HEADER, ROLES_HEADER, TENANT_HEADER
from citymesh.runtime.bus import DEVICES_BUCKET, Bus, telemetry_subject
from tests.polling import eventually

T = TypeVar("T")

BASE_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z: a whole minute, so epoch-aligned buckets start there."""

Metadata = tuple[tuple[str, str], ...]


def as_caller(tenant: str, district: str = "", roles: Sequence[str] = ()) -> Metadata:
    """The development headers naming a caller (servers started with auth_dev_headers)."""
    return ((TENANT_HEADER, tenant), (DISTRICT_HEADER, district), (ROLES_HEADER, ",".join(roles)))


ZONE = as_caller("zone", roles=["zone-admin"])
"""The zone administrator: reads every district and the store's statistics."""


@dataclass(frozen=True)
class Dev:
    device_id: str
    kind: int
    district: int


Reading = tuple[str, int, float]
"""(device id, time in epoch ms, value)"""


def reading_batch(readings: Sequence[Reading], batch_id: str | None = None) -> collection_pb2.ReadingBatch:
    """The columnar batch collection would publish for these readings."""
    ids: list[str] = []
    index: dict[str, int] = {}
    for device_id, _, _ in readings:
        if device_id not in index:
            index[device_id] = len(ids)
            ids.append(device_id)
    return collection_pb2.ReadingBatch(
        batch_id=batch_id or uuid.uuid4().hex,
        device_ids=ids,
        device_index=[index[d] for d, _, _ in readings],
        time_unix_ms=[t for _, t, _ in readings],
        values=[v for _, _, v in readings],
    )


async def register(bus: Bus, *devices: Dev) -> None:
    """Put devices in the `devices` bucket, as collection's RegisterDevice does."""
    kv = await bus.kv(DEVICES_BUCKET)
    for dev in devices:
        device = collection_pb2.Device(
            device_id=dev.device_id,
            kind=cast(common_pb2.DeviceKind, dev.kind),
            district=cast(common_pb2.District, dev.district),
            owner_tenant="alibaba-cloud",
        )
        await kv.put(dev.device_id, device.SerializeToString())


async def deregister(bus: Bus, device_id: str) -> None:
    kv = await bus.kv(DEVICES_BUCKET)
    await kv.delete(device_id)


async def publish(
    bus: Bus, readings: Sequence[Reading], district: int = 1, batch_id: str | None = None
) -> int:
    """Publish one batch on telemetry.<district>; returns its stream sequence."""
    batch = reading_batch(readings, batch_id)
    ack = await bus.publish(
        telemetry_subject(DISTRICTS[district - 1]), batch.SerializeToString(), batch.batch_id
    )
    return int(ack.seq)


async def stats(
    stub: exchange_pb2_grpc.ExchangeServiceStub, metadata: Metadata = ZONE
) -> exchange_pb2.GetStatsResponse:
    response: exchange_pb2.GetStatsResponse = await stub.GetStats(
        exchange_pb2.GetStatsRequest(), timeout=5, metadata=metadata
    )
    return response


async def caught_up(
    stub: exchange_pb2_grpc.ExchangeServiceStub, rows: int, timeout: float = 20.0, metadata: Metadata = ZONE
) -> exchange_pb2.GetStatsResponse:
    """GetStats (as the zone, unless the channel presents a token) once the exchange has stored
    `rows` readings and everything the stream holds."""
    return await eventually(
        lambda: stats(stub, metadata),
        lambda s: s.rows >= rows and s.lag_batches == 0,
        timeout,
        f"caught up with {rows} rows",
    )


async def unavailable_ok(
    stub: exchange_pb2_grpc.ExchangeServiceStub,
) -> exchange_pb2.GetStatsResponse | None:
    """GetStats, or None while the server is not reachable (a process starting)."""
    try:
        return await stats(stub)
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return None
        raise
