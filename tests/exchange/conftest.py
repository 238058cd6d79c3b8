"""A real exchange server, in process, on a free port, against the test's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class Exchange:
    stub: exchange_pb2_grpc.ExchangeServiceStub
    app: App
    settings: Settings


StartExchange = Callable[..., AbstractAsyncContextManager[Exchange]]


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """The test's own NATS connection: it plays collection."""
    b = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test-collection")
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def start_exchange(nats_server: NatsServer, tmp_path: Path) -> StartExchange:
    """Start an exchange (settings overridable) on the test's nats-server; the DuckDB file is kept
    between starts of one test."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Exchange]:
        values: dict[str, Any] = {
            "nats_url": nats_server.url,
            "listen": "127.0.0.1:0",
            "db_path": tmp_path / "exchange.duckdb",
            "grace_s": 0.5,
            "fetch_wait_s": 0.05,
        }
        settings = Settings(**(values | overrides))
        app = App(settings)
        async with running(app, settings) as srv:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}")
            try:
                yield Exchange(exchange_pb2_grpc.ExchangeServiceStub(channel), app, settings)
            finally:
                await channel.close()

    return start


@pytest.fixture
async def exchange(start_exchange: StartExchange) -> AsyncIterator[Exchange]:
    async with start_exchange() as ex:
        yield ex
