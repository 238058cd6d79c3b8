"""The governance service: settings and the App that `citymesh serve governance` runs."""

from __future__ import annotations

from typing import ClassVar

import grpc
from pydantic import Field

from citymesh.api.governance.v1 import governance_pb2, governance_pb2_grpc
from citymesh.governance.incidents import servicer as incident_servicer
from citymesh.governance.incidents.pipeline import RESOURCES as INCIDENT_RESOURCES
from citymesh.governance.incidents.pipeline import Pipeline
from citymesh.governance.incidents.settings import IncidentSettings
from citymesh.governance.service import Governance
from citymesh.governance.servicer import GovernanceServicer
from citymesh.governance.store import AwardLedger, PeakStore
from citymesh.runtime.bus import AUDIT_STREAM, AWARDS_BUCKET, EVENTS_STREAM, PEAKS_BUCKET, TENANTS_BUCKET, Bus


class Settings(IncidentSettings):
    """What the governance process reads (besides every service's settings)."""

    service: ClassVar[str] = "governance"

    signing_key: str = Field(
        "",
        description="Ed25519 private key (PEM; literal \\n allowed) that signs tokens; empty: IssueToken "
        "is refused. Its public key is every service's CITYMESH_AUTH_PUBLIC_KEY.",
    )
    token_ttl_s: int = Field(
        3600, ge=1, le=30 * 24 * 3600, description="Seconds a token is valid by default."
    )


class App:
    """Keeps the peaks, decides award claims, issues tokens, runs the incident pipeline."""

    def __init__(self, settings: Settings) -> None:
        self.name = "governance"
        self.service_names = [governance_pb2.DESCRIPTOR.services_by_name["GovernanceService"].full_name]
        self.service_names.append(incident_servicer.SERVICE)
        self.resources = [EVENTS_STREAM, AUDIT_STREAM, TENANTS_BUCKET, PEAKS_BUCKET, AWARDS_BUCKET]
        self.resources += [r for r in INCIDENT_RESOURCES if r not in self.resources]
        self.settings = settings
        self.governance: Governance | None = None
        self.incidents: Pipeline | None = None

    async def start(self, bus: Bus) -> None:
        s = self.settings
        self.governance = Governance(
            bus,
            await PeakStore.open(bus),
            await AwardLedger.open(bus),
            signing_key=s.signing_key,
            token_ttl_s=s.token_ttl_s,
        )
        await self.governance.start()
        self.incidents = await Pipeline.create(bus, s)
        await self.incidents.start(s)

    def register(self, server: grpc.aio.Server) -> None:
        if self.governance is None:
            raise RuntimeError("register before start")
        governance_pb2_grpc.add_GovernanceServiceServicer_to_server(
            GovernanceServicer(self.governance), server
        )
        if self.incidents is not None:
            incident_servicer.add_to_server(self.incidents, server)

    async def draining(self) -> None:
        """End the incident watch streams before the server's grace period."""
        if self.incidents is not None:
            await self.incidents.draining()

    async def stop(self) -> None:
        """Stop the incident pipeline (its consumer and supervisor); in-flight RPCs ended with the server."""
        if self.incidents is not None:
            await self.incidents.stop()
        if self.governance is not None:
            await self.governance.stop()  # the outbox relay
