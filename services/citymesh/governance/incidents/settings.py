"""The incident pipeline's settings, part of governance's (CITYMESH_* variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

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
    lease_ttl_s: float = Field(
        15.0,
        ge=1,
        le=600,
        description="Seconds governance's leader lease lives unless renewed (the governance-leases bucket's "
        "max_age): one replica runs the incident pipeline's rules and supervisor; when it dies, another "
        "takes over within this plus CITYMESH_LEASE_RENEW_S.",
    )
    lease_renew_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Seconds between the leader's renewals of its lease (and a standby replica's tries to "
        "take it); at most half of CITYMESH_LEASE_TTL_S.",
    )

    @model_validator(mode="after")
    def _renewed_in_time(self) -> IncidentSettings:
        if self.lease_renew_s * 2 > self.lease_ttl_s:
            raise ValueError(
                f"CITYMESH_LEASE_RENEW_S ({self.lease_renew_s}) must be at most half of "
                f"CITYMESH_LEASE_TTL_S ({self.lease_ttl_s}): a leader renews well before its lease expires"
            )
        return self
