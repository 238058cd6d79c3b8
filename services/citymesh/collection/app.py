"""The collection service: settings and wiring."""

from __future__ import annotations

from typing import ClassVar

import grpc
from pydantic import Field

from citymesh.collection.domain import Limits
from citymesh.collection.ingest import Ingestor
from citymesh.collection.registry import Registry
from citymesh.collection.servicer import SERVICE, CollectionServicer, add_to_server
from citymesh.runtime.bus import DEVICES_BUCKET, TELEMETRY_STREAM, Bus
from citymesh.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "collection"

    max_batch_readings: int = Field(10_000, gt=0, description="Most readings (and devices) in one batch.")
    max_clock_skew_s: float = Field(
        300.0, ge=0, description="A reading this many seconds ahead of the server clock is rejected."
    )
    max_reading_age_s: float = Field(
        7 * 86_400.0, gt=0, description="A reading older than this many seconds is rejected."
    )
    stream_window: int = Field(
        64, gt=0, description="Batches of one StreamReadings stream being stored at once."
    )


class App:
    name = "collection"
    service_names: ClassVar[list[str]] = [SERVICE]
    resources: ClassVar[list[str]] = [TELEMETRY_STREAM, DEVICES_BUCKET]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry: Registry | None = None
        self.servicer: CollectionServicer | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        self.registry = Registry(await bus.kv(DEVICES_BUCKET))
        await self.registry.start()
        limits = Limits(
            max_readings=s.max_batch_readings,
            max_clock_skew_ms=int(s.max_clock_skew_s * 1000),
            max_age_ms=int(s.max_reading_age_s * 1000),
        )
        self.servicer = CollectionServicer(
            self.registry, Ingestor(bus, self.registry, limits), s.stream_window
        )

    def register(self, server: grpc.aio.Server) -> None:
        assert self.servicer is not None
        add_to_server(self.servicer, server)

    async def stop(self) -> None:
        if self.registry is not None:
            await self.registry.stop()
