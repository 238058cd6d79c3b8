"""The collection service: settings and wiring."""

from __future__ import annotations

from typing import ClassVar

import grpc
from pydantic import Field

from citymesh.collection.domain import Limits
from citymesh.collection.ingest import Ingestor
from citymesh.collection.registry import Registry
from citymesh.collection.reporting import DetectionReporter
from citymesh.collection.servicer import SERVICE, CollectionServicer, add_to_server
from citymesh.runtime.access import Access
from citymesh.runtime.bus import AUDIT_STREAM, DEVICES_BUCKET, EVENTS_STREAM, TELEMETRY_STREAM, Bus
from citymesh.runtime.ratelimit import REFUSAL_HOLD_S, TenantLimits
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
    ingest_readings_per_s: int = Field(
        20_000,
        ge=0,
        description="Most readings one tenant may ingest per second on one collection replica (a "
        "batch beyond it is RESOURCE_EXHAUSTED), and apart from them most camera detections it may "
        "report; 0: no limit. The platform's services (the simulator) are not limited.",
    )


class App:
    name = "collection"
    service_names: ClassVar[list[str]] = [SERVICE]
    resources: ClassVar[list[str]] = [TELEMETRY_STREAM, DEVICES_BUCKET, AUDIT_STREAM, EVENTS_STREAM]

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
        access = Access(bus, "collection")
        rate = TenantLimits(s.ingest_readings_per_s, "readings", hold_s=REFUSAL_HOLD_S)
        # Detections are counted apart from readings, at the same rate per tenant.
        detection_rate = TenantLimits(s.ingest_readings_per_s, "detections", hold_s=REFUSAL_HOLD_S)
        self.servicer = CollectionServicer(
            self.registry,
            Ingestor(bus, self.registry, limits, access, rate),
            s.stream_window,
            access,
            DetectionReporter(bus, self.registry, limits, access, detection_rate),
        )

    def register(self, server: grpc.aio.Server) -> None:
        assert self.servicer is not None
        add_to_server(self.servicer, server)

    async def stop(self) -> None:
        if self.registry is not None:
            await self.registry.stop()
