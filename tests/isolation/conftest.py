"""The platform as production runs it, in process: governance signing tokens, and collection,
compute, exchange and huawei's peak verifying them with its public key, against one real
nats-server. Every
call of the isolation suite carries a real token (tests/tokens.py signs with governance's key);
tenants' status is what governance's seed projects into the `tenants` bucket (alibaba-cloud in
gouzhao, huawei in fengyang, unisplendour in wutong, all active)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.compute.v1 import compute_pb2_grpc
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.api.governance.v1 import governance_pb2_grpc, incidents_pb2_grpc
from citymesh.api.peak.v1 import peak_pb2_grpc
from citymesh.collection import app as collection_app
from citymesh.compute import app as compute_app
from citymesh.exchange import app as exchange_app
from citymesh.governance import app as governance_app
from citymesh.peak import app as peak_app
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.tokens import ADMIN_TOKEN, PRIVATE, PUBLIC, SERVICE_TOKEN, token

STATUS_TTL_S = 1.0
"""CITYMESH_AUTH_STATUS_TTL_S of every service here: the bound on a suspension taking effect."""

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Tenant:
    name: str
    district: str

    @property
    def md(self) -> Metadata:
        return auth.bearer(token(self.name, self.district, ["peak-admin"]))


ALIBABA = Tenant("alibaba-cloud", "gouzhao")
HUAWEI = Tenant("huawei", "fengyang")
UNIS = Tenant("unisplendour", "wutong")
ADMIN: Metadata = auth.bearer(ADMIN_TOKEN)
SERVICE: Metadata = auth.bearer(SERVICE_TOKEN)


@dataclass
class Platform:
    nats_url: str
    collection: collection_pb2_grpc.CollectionServiceStub
    compute: compute_pb2_grpc.ComputeServiceStub
    exchange: exchange_pb2_grpc.ExchangeServiceStub
    governance: governance_pb2_grpc.GovernanceServiceStub
    incidents: incidents_pb2_grpc.IncidentServiceStub
    huaweis_peak: peak_pb2_grpc.PeakServiceStub
    """Huawei's peak process (its front door, serving huawei only)."""
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    """Service name → a channel presenting no token of its own."""


@pytest.fixture
async def platform(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Platform]:
    common: dict[str, Any] = {
        "nats_url": nats_server.url,
        "listen": "127.0.0.1:0",
        "grace_s": 0.5,
        "auth_public_key": PUBLIC,
        "auth_status_ttl_s": STATUS_TTL_S,
    }
    gs = governance_app.Settings(**common, signing_key=PRIVATE)
    cs = collection_app.Settings(**common)
    xs = exchange_app.Settings(**common, db_path=tmp_path / "x.duckdb")
    ps = compute_app.Settings(**common, workers=1, poll_s=0.05, token=SERVICE_TOKEN)
    async with contextlib.AsyncExitStack() as stack:
        ports = {}
        for name, app, settings in [
            ("governance", governance_app.App(gs), gs),
            ("collection", collection_app.App(cs), cs),
            ("exchange", exchange_app.App(xs), xs),
        ]:
            ports[name] = (await stack.enter_async_context(running(app, settings))).port  # type: ignore[arg-type]
        ps = compute_app.Settings(**{**ps.model_dump(), "exchange_address": f"127.0.0.1:{ports['exchange']}"})
        ports["compute"] = (await stack.enter_async_context(running(compute_app.App(ps), ps))).port
        addresses: dict[str, Any] = {f"{name}_address": f"127.0.0.1:{port}" for name, port in ports.items()}
        ks = peak_app.Settings(
            **common, **addresses, tenant="huawei", district="fengyang", token=SERVICE_TOKEN
        )
        ports["peak"] = (await stack.enter_async_context(running(peak_app.App(ks), ks))).port
        channels = {
            name: await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
            for name, port in ports.items()
        }
        yield Platform(
            nats_server.url,
            collection_pb2_grpc.CollectionServiceStub(channels["collection"]),
            compute_pb2_grpc.ComputeServiceStub(channels["compute"]),
            exchange_pb2_grpc.ExchangeServiceStub(channels["exchange"]),
            governance_pb2_grpc.GovernanceServiceStub(channels["governance"]),
            incidents_pb2_grpc.IncidentServiceStub(channels["governance"]),
            peak_pb2_grpc.PeakServiceStub(channels["peak"]),
            channels,
        )
