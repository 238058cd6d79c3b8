"""The peak service: settings and the App that `citymesh serve peak` runs, one process per tenant."""

from __future__ import annotations

from typing import ClassVar, Literal

import grpc
from pydantic import Field, field_validator

from citymesh.api.peak.v1 import peak_pb2, peak_pb2_grpc
from citymesh.city import DISTRICTS
from citymesh.peak import themes
from citymesh.peak.domain import SLUG
from citymesh.peak.service import Peak
from citymesh.peak.servicer import PeakServicer
from citymesh.peak.store import ProjectStore, SceneStore
from citymesh.peak.upstream import Upstreams
from citymesh.runtime import auth
from citymesh.runtime.bus import AUDIT_STREAM, PEAK_PROJECTS_BUCKET, PEAK_SCENES_BUCKET, Bus
from citymesh.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """What a peak process reads (besides every service's settings)."""

    service: ClassVar[str] = "peak"

    tenant: str = Field(
        description="The tenant this peak serves (its enterprise's tenant id, e.g. alibaba-cloud). Required."
    )
    district: str = Field(
        description="The sub-district the peak is bound to: gouzhao, fengyang, wutong, shifo or shuangqiao. "
        "Required."
    )
    theme: Literal["", "sensor-iot", "five-g", "digital-governance"] = Field(
        "",
        description="The peak's theme (its default scenes and the kernels it offers); empty: the "
        "sub-district's (gouzhao sensor-iot, fengyang and shifo five-g, wutong and shuangqiao "
        "digital-governance).",
    )
    collection_address: str = Field("", description="host:port of collection, for a peak's devices.")
    exchange_address: str = Field("", description="host:port of the exchange, for a peak's queries.")
    compute_address: str = Field("", description="host:port of compute, for a peak's jobs.")
    governance_address: str = Field(
        "", description="host:port of governance, for a peak's award claims and incidents."
    )
    call_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Seconds a peak waits for a platform service's answer."
    )

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not SLUG.match(value) or value == auth.ZONE_TENANT:
            raise ValueError("a tenant id: lowercase letters, digits and dashes, at most 63 (not `zone`)")
        return value

    @field_validator("district")
    @classmethod
    def _district(cls, value: str) -> str:
        if value not in DISTRICTS:
            raise ValueError(f"one of {', '.join(DISTRICTS)}")
        return value


class App:
    """One tenant's front door."""

    def __init__(self, settings: Settings) -> None:
        self.name = "peak"
        self.service_names = [peak_pb2.DESCRIPTOR.services_by_name["PeakService"].full_name]
        self.resources = [AUDIT_STREAM, PEAK_SCENES_BUCKET, PEAK_PROJECTS_BUCKET]
        self.settings = settings
        self.peak: Peak | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        upstreams = Upstreams(
            s.collection_address,
            s.exchange_address,
            s.compute_address,
            s.governance_address,
            s.call_timeout_s,
            s.max_message_bytes,
        )
        self.peak = Peak(
            bus,
            s.tenant,
            s.district,
            themes.theme_for(s.district, s.theme),
            await SceneStore.open(bus, s.tenant),
            await ProjectStore.open(bus, s.tenant),
            upstreams,
        )
        await self.peak.start()

    def register(self, server: grpc.aio.Server) -> None:
        if self.peak is None:
            raise RuntimeError("register before start")
        peak_pb2_grpc.add_PeakServiceServicer_to_server(PeakServicer(self.peak), server)

    async def stop(self) -> None:
        if self.peak is not None:
            await self.peak.upstreams.close()
