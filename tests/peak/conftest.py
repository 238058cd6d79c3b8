"""A real peak (alibaba-cloud's, in Gouzhao) in front of real platform services, in process, on
free ports, against the test's nats-server. Callers identify themselves with the development
headers (CITYMESH_AUTH_DEV_HEADERS)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from citymesh.api.peak.v1 import peak_pb2_grpc
from citymesh.collection.app import App as CollectionApp
from citymesh.collection.app import Settings as CollectionSettings
from citymesh.compute.app import App as ComputeApp
from citymesh.compute.app import Settings as ComputeSettings
from citymesh.exchange.app import App as ExchangeApp
from citymesh.exchange.app import Settings as ExchangeSettings
from citymesh.governance.app import App as GovernanceApp
from citymesh.governance.app import Settings as GovernanceSettings
from citymesh.peak.app import App as PeakApp
from citymesh.peak.app import Settings as PeakSettings
from citymesh.runtime.auth import DISTRICT_HEADER, ROLES_HEADER, TENANT_HEADER
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running

Md = tuple[tuple[str, str], ...]


def as_tenant(tenant: str, district: str = "", roles: str = "") -> Md:
    md = [(TENANT_HEADER, tenant)]
    if district:
        md.append((DISTRICT_HEADER, district))
    if roles:
        md.append((ROLES_HEADER, roles))
    return tuple(md)


ALIBABA = as_tenant("alibaba-cloud", "gouzhao", "peak-admin")
"""The peak's own tenant."""
HUAWEI = as_tenant("huawei", "fengyang", "peak-admin")
"""Another peak's tenant."""
ADMIN = as_tenant("zone", roles="zone-admin")
"""The zone administrator."""

# Inside Gouzhao, inside Wutong, outside the zone (see services/citymesh/city/districts.geojson).
GOUZHAO = (113.50, 34.80)
WUTONG = (113.56, 34.82)
OUTSIDE = (113.30, 34.70)


@dataclass
class Platform:
    """The services started for a test, by name → address; the peak's stub."""

    addresses: dict[str, str] = field(default_factory=dict)
    apps: dict[str, Any] = field(default_factory=dict)
    peak: peak_pb2_grpc.PeakServiceStub | None = None
    nats_url: str = ""
    start_peak: Callable[..., Awaitable[peak_pb2_grpc.PeakServiceStub]] | None = None
    """Starts another peak (settings overridable: tenant, district, ...) in front of the same
    services, stopped with the platform; its stub."""

    @property
    def stub(self) -> peak_pb2_grpc.PeakServiceStub:
        assert self.peak is not None
        return self.peak


StartPlatform = Callable[..., AbstractAsyncContextManager[Platform]]


@pytest.fixture
def start_platform(nats_server: NatsServer, tmp_path: Path) -> StartPlatform:
    """Start the named platform services, then a peak pointed at them (settings overridable)."""

    @asynccontextmanager
    async def start(
        *services: str, exchange_clock: Callable[[], float] = time.time, **peak: Any
    ) -> AsyncIterator[Platform]:
        """`exchange_clock` decides when the exchange's grants expire."""
        base: dict[str, Any] = {
            "nats_url": nats_server.url,
            "listen": "127.0.0.1:0",
            "grace_s": 0.5,
            "auth_dev_headers": True,
        }
        platform = Platform(nats_url=nats_server.url)
        made = {
            "governance": lambda: (GovernanceApp, GovernanceSettings(**base)),
            "collection": lambda: (CollectionApp, CollectionSettings(**base)),
            "exchange": lambda: (
                ExchangeApp,
                ExchangeSettings(**base, db_path=tmp_path / "exchange.duckdb", fetch_wait_s=0.05),
            ),
            "compute": lambda: (ComputeApp, ComputeSettings(**base, workers=0)),
        }
        async with AsyncExitStack() as stack:
            for name in services:
                app_class, settings = made[name]()
                app = app_class(settings, clock=exchange_clock) if name == "exchange" else app_class(settings)
                run = await stack.enter_async_context(running(app, settings))
                platform.addresses[name] = f"127.0.0.1:{run.port}"
                platform.apps[name] = app
            values: dict[str, Any] = {
                **base,
                "tenant": "alibaba-cloud",
                "district": "gouzhao",
                **{f"{name}_address": address for name, address in platform.addresses.items()},
            }

            async def start_peak(**overrides: Any) -> peak_pb2_grpc.PeakServiceStub:
                settings = PeakSettings(**(values | overrides))
                app = PeakApp(settings)
                run = await stack.enter_async_context(running(app, settings))
                platform.apps.setdefault("peak", app)
                channel = await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{run.port}"))
                return peak_pb2_grpc.PeakServiceStub(channel)

            platform.peak = await start_peak(**peak)
            platform.start_peak = start_peak
            yield platform

    return start
