"""A real collection server, in process, on a free port, against the test's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.collection.app import App, Settings
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running


@dataclass
class Collection:
    stub: collection_pb2_grpc.CollectionServiceStub
    channel: grpc.aio.Channel
    port: int
    settings: Settings


@pytest.fixture
async def collection(nats_server: NatsServer) -> AsyncIterator[Collection]:
    settings = Settings(nats_url=nats_server.url, listen="127.0.0.1:0", max_batch_readings=2000)
    async with running(App(settings), settings) as srv:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}")
        try:
            yield Collection(collection_pb2_grpc.CollectionServiceStub(channel), channel, srv.port, settings)
        finally:
            await channel.close()


# Inside Gouzhao and inside Wutong (see services/citymesh/city/districts.geojson).
GOUZHAO = (113.50, 34.80)
WUTONG = (113.56, 34.82)


def device(
    device_id: str, kind: int = common_pb2.DEVICE_KIND_AIR, at: tuple[float, float] = GOUZHAO
) -> pb.Device:
    return pb.Device(
        device_id=device_id,
        kind=cast(common_pb2.DeviceKind, kind),
        position=common_pb2.GeoPoint(longitude=at[0], latitude=at[1]),
        owner_tenant="alibaba-cloud",
    )
