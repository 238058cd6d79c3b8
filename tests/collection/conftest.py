"""A real collection server, in process, on a free port, against the test's nats-server, with
authentication on: the fixture's channel presents a platform `service` token (the simulator's);
`collection.as_tenant(...)` calls as one tenant with its own signed token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.collection.app import App, Settings
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.tokens import PUBLIC, SERVICE_TOKEN, bearer, set_tenant, token


@dataclass
class Collection:
    stub: collection_pb2_grpc.CollectionServiceStub
    channel: grpc.aio.Channel
    port: int
    settings: Settings

    async def as_tenant(self, tenant: str, district: str) -> collection_pb2_grpc.CollectionServiceStub:
        """A stub calling as `tenant`, an active peak's tenant bound to `district`."""
        await set_tenant(self.settings.nats_url, tenant, district)
        metadata = bearer(token(tenant, district, ["peak-admin"]))
        return collection_pb2_grpc.CollectionServiceStub(_Presenting(self.channel, metadata))


class _Presenting:
    """A channel whose calls all carry `metadata` (a tenant's token), sharing the fixture's connection."""

    def __init__(self, channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]) -> None:
        self._channel = channel
        self._metadata = metadata

    def __getattr__(self, kind: str) -> Any:
        make = getattr(self._channel, kind)

        def multicallable(*args: Any, **kwargs: Any) -> Any:
            inner = make(*args, **kwargs)

            def call(request: Any = None, **kw: Any) -> Any:
                kw.setdefault("metadata", self._metadata)
                return inner(request, **kw) if request is not None else inner(**kw)

            return call

        return multicallable


StartCollection = Callable[..., AbstractAsyncContextManager[Collection]]


@pytest.fixture
async def start_collection(nats_server: NatsServer) -> StartCollection:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Collection]:
        values: dict[str, Any] = {
            "nats_url": nats_server.url,
            "listen": "127.0.0.1:0",
            "max_batch_readings": 2000,
            "auth_public_key": PUBLIC,
            "auth_status_ttl_s": 0.0,
        }
        settings = Settings(**(values | overrides))
        async with (
            running(App(settings), settings) as srv,
            auth.channel(f"127.0.0.1:{srv.port}", SERVICE_TOKEN) as channel,
        ):
            yield Collection(collection_pb2_grpc.CollectionServiceStub(channel), channel, srv.port, settings)

    return start


@pytest.fixture
async def collection(start_collection: StartCollection) -> AsyncIterator[Collection]:
    async with start_collection() as c:
        yield c


# Inside Gouzhao and inside Wutong (see services/citymesh/city/districts.geojson).
GOUZHAO = (113.50, 34.80)
WUTONG = (113.56, 34.82)


def device(
    device_id: str,
    kind: int = common_pb2.DEVICE_KIND_AIR,
    at: tuple[float, float] = GOUZHAO,
    owner: str = "alibaba-cloud",
) -> pb.Device:
    return pb.Device(
        device_id=device_id,
        kind=cast(common_pb2.DeviceKind, kind),
        position=common_pb2.GeoPoint(longitude=at[0], latitude=at[1]),
        owner_tenant=owner,
    )
