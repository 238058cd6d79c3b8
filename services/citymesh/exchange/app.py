"""The exchange service: settings and the App that `citymesh serve exchange` runs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import grpc
from pydantic import Field

from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.exchange.catalog_store import CatalogStore
from citymesh.exchange.devices import DeviceDirectory
from citymesh.exchange.materialiser import Materialiser
from citymesh.exchange.servicer import ExchangeServicer
from citymesh.exchange.sharing import Sharing
from citymesh.exchange.store import Store
from citymesh.exchange.subscriptions import SubscriptionHub
from citymesh.runtime.access import Access
from citymesh.runtime.bus import (
    AUDIT_STREAM,
    DATASETS_BUCKET,
    DEVICES_BUCKET,
    GRANTS_BUCKET,
    TELEMETRY_STREAM,
    TENANTS_BUCKET,
    Bus,
)
from citymesh.runtime.ratelimit import REFUSAL_HOLD_S, TenantLimits
from citymesh.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """What the exchange process reads (besides every service's settings)."""

    service: ClassVar[str] = "exchange"

    db_path: Path = Field(
        description="DuckDB file the exchange materialises telemetry into (created if missing). Required."
    )
    fetch_batch: int = Field(
        256, ge=1, le=10_000, description="Most TELEMETRY batches fetched and stored in one transaction."
    )
    fetch_wait_s: float = Field(
        0.1,
        gt=0,
        le=30,
        description="Seconds a fetch waits for batches when caught up (bounds live latency).",
    )
    subscriber_queue: int = Field(
        256, ge=1, description="Stored batches a Subscribe stream may have unread before it is cut off."
    )
    query_threads: int = Field(2, ge=1, le=64, description="Threads answering Query beside the writer.")
    duckdb_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads DuckDB may use for one statement; 0: half the CPUs (the rest serve ingest).",
    )
    device_sync_timeout_s: float = Field(
        30.0, gt=0, description="Seconds to wait at start for the device watch to deliver every device."
    )
    tenant_queries_per_s: int = Field(
        50,
        ge=0,
        description="Query calls one tenant may make per second on one exchange replica "
        "(RESOURCE_EXHAUSTED beyond); 0: no limit. The zone and platform services are not limited.",
    )
    grant_recheck_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds a Subscribe stream read through a grant goes without re-reading it: a "
        "revocation ends the stream within this (an expiry ends it at once).",
    )


class App:
    """Materialises TELEMETRY into DuckDB and serves ExchangeService over it."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        """`clock` (Unix seconds) decides when grants expire."""
        self.name = "exchange"
        self.service_names = [exchange_pb2.DESCRIPTOR.services_by_name["ExchangeService"].full_name]
        self.resources = [
            TELEMETRY_STREAM,
            DEVICES_BUCKET,
            AUDIT_STREAM,
            DATASETS_BUCKET,
            GRANTS_BUCKET,
            TENANTS_BUCKET,
        ]
        self.settings = settings
        self.clock = clock
        self.store = Store(
            settings.db_path,
            readers=settings.query_threads,
            threads=settings.duckdb_threads or max(1, (os.cpu_count() or 2) // 2),
        )
        self.hub = SubscriptionHub(settings.subscriber_queue)
        self._devices: DeviceDirectory | None = None
        self._materialiser: Materialiser | None = None
        self._servicer: ExchangeServicer | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        known = await self.store.open()
        self._devices = DeviceDirectory(await bus.kv(DEVICES_BUCKET), self.store, known)
        await self._devices.start(s.device_sync_timeout_s)
        self._materialiser = Materialiser(
            bus, self.store, self._devices, self.hub, fetch_batch=s.fetch_batch, fetch_wait_s=s.fetch_wait_s
        )
        await self._materialiser.start()
        sharing = Sharing(
            await CatalogStore.open(bus),
            Access(bus, self.name),
            TenantLimits(s.tenant_queries_per_s, "queries", hold_s=REFUSAL_HOLD_S),
            clock=self.clock,
            recheck_s=s.grant_recheck_s,
        )
        self._servicer = ExchangeServicer(self.store, self.hub, self._materialiser.stats, sharing)

    def register(self, server: grpc.aio.Server) -> None:
        if self._servicer is None:
            raise RuntimeError("register before start")
        exchange_pb2_grpc.add_ExchangeServiceServicer_to_server(self._servicer, server)

    async def draining(self) -> None:
        """End live streams before the server's grace period, so shutdown does not wait on them."""
        self.hub.close()

    async def stop(self) -> None:
        """Stop fetching, finish the transaction in flight, end live streams, close the file."""
        if self._materialiser is not None:
            await self._materialiser.stop()
        self.hub.close()
        if self._devices is not None:
            await self._devices.stop()
        await self.store.close()
