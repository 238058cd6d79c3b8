"""A real exchange server, in process, on a free port, against the test's nats-server.

Servers trust the development identity headers (auth_dev_headers): `Exchange.stub` calls as the
zone administrator, `Exchange.as_tenant(...)` as a tenant bound to a sub-district, `Exchange.raw`
with no identity at all.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.exchange.app import App, Settings
from citymesh.runtime.bus import Bus
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.runtime.settings import ServiceSettings
from tests.exchange.harness import ZONE, Metadata, as_caller


def _presented(details: Any, metadata: Metadata) -> Any:
    if details.metadata:
        return details
    return details._replace(metadata=grpc.aio.Metadata(*metadata))


class _PresentingUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_presented(details, self.metadata), request)


class _PresentingStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_presented(details, self.metadata), request)


def presenting(metadata: Metadata) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors sending `metadata` on every call that names none of its own (grpc.aio files an
    interceptor under one kind of call only, hence one per kind)."""
    return [_PresentingUnary(metadata), _PresentingStream(metadata)]


class Clock:
    """The exchange's clock in a test: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


@dataclass
class Tenant:
    """One tenant's view of the exchange: its stub sends its identity headers on every call."""

    name: str
    district: str
    stub: exchange_pb2_grpc.ExchangeServiceStub


@dataclass
class Exchange:
    stub: exchange_pb2_grpc.ExchangeServiceStub
    """Calls as the zone administrator (the platform)."""
    raw: exchange_pb2_grpc.ExchangeServiceStub
    """Calls with no identity headers unless a call passes its own."""
    app: App
    settings: Settings
    clock: Clock
    address: str
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def as_tenant(self, tenant: str, district: str = "", roles: tuple[str, ...] = ()) -> Tenant:
        channel = grpc.aio.insecure_channel(
            self.address, interceptors=presenting(as_caller(tenant, district, roles))
        )
        self.channels.append(channel)
        return Tenant(tenant, district, exchange_pb2_grpc.ExchangeServiceStub(channel))


StartExchange = Callable[..., AbstractAsyncContextManager[Exchange]]


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """The test's own NATS connection: it plays collection (and governance's tenants bucket)."""
    b = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test-collection")
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def start_exchange(nats_server: NatsServer, tmp_path: Path) -> StartExchange:
    """Start an exchange (settings overridable, `clock` a Clock) on the test's nats-server; the
    DuckDB file is kept between starts of one test."""

    @asynccontextmanager
    async def start(clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Exchange]:
        values: dict[str, Any] = {
            "nats_url": nats_server.url,
            "listen": "127.0.0.1:0",
            "db_path": tmp_path / "exchange.duckdb",
            "grace_s": 0.5,
            "fetch_wait_s": 0.05,
            "auth_dev_headers": True,
        }
        settings = Settings(**(values | overrides))
        clock = clock or Clock()
        app = App(settings, clock=clock)
        async with running(app, settings) as srv:
            address = f"127.0.0.1:{srv.port}"
            zone = grpc.aio.insecure_channel(address, interceptors=presenting(ZONE))
            raw = grpc.aio.insecure_channel(address)
            exchange = Exchange(
                exchange_pb2_grpc.ExchangeServiceStub(zone),
                exchange_pb2_grpc.ExchangeServiceStub(raw),
                app,
                settings,
                clock,
                address,
                [zone, raw],
            )
            try:
                yield exchange
            finally:
                for channel in exchange.channels:
                    await channel.close()

    return start


@pytest.fixture
async def exchange(start_exchange: StartExchange) -> AsyncIterator[Exchange]:
    async with start_exchange() as ex:
        yield ex
