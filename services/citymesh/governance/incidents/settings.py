"""The incident pipeline's settings, part of governance's (CITYMESH_* variables)."""

from __future__ import annotations

from pydantic import Field

from citymesh.runtime.settings import ServiceSettings


class IncidentSettings(ServiceSettings):
    incident_rules: str = Field(
        "",
        description="YAML file of the incident rules (format in docs/governance.md); empty: the built-in "
        "rules (PM2.5, water level, crowds, camera detections).",
    )
    compute_address: str = Field(
        "",
        description="host:port of compute: dispatch ETAs come from its route kernel; empty: straight-line "
        "ETAs.",
    )
    compute_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds a route ETA may take before the straight-line one is used."
    )
    incident_fetch_batch: int = Field(
        64, ge=1, le=4096, description="Most TELEMETRY batches the incident rules evaluate at once."
    )
    supervise_interval_s: float = Field(
        5.0, gt=0, le=3600, description="Seconds between two checks of the open incidents against their SLA."
    )
