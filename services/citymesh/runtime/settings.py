"""Typed settings read from CITYMESH_* environment variables, failing fast on a missing value.

Every service has a Settings class deriving from ServiceSettings; `citymesh settings` prints the
table of all of them (the README's configuration table is that output).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every citymesh service process reads."""

    model_config = SettingsConfigDict(env_prefix="CITYMESH_", extra="ignore", frozen=True)
    service: ClassVar[str] = "all services"

    nats_url: str = Field(description="NATS server URL(s), comma-separated. Required.")
    listen: str = Field("[::]:50051", description="gRPC listen address (host:port; port 0 picks a free one).")
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    grace_s: float = Field(10.0, gt=0, description="Seconds in-flight RPCs get to finish on SIGTERM.")
    max_message_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest gRPC message accepted or sent, in bytes."
    )
    stream_replicas: int = Field(1, ge=1, le=5, description="Replicas of JetStream streams and buckets.")
    telemetry_max_age_s: int = Field(
        7 * 24 * 3600, gt=0, description="Seconds the TELEMETRY stream keeps a batch."
    )
    dedup_window_s: int = Field(600, gt=0, description="Seconds within which a batch id is stored once.")
    auth_public_key: str = Field(
        "",
        description="Governance's Ed25519 public key (PEM; literal \\n allowed). Set: every call needs "
        "a token governance signed; empty: the service does not start, unless CITYMESH_AUTH_DEV_HEADERS.",
    )
    auth_dev_headers: bool = Field(
        False,
        description="Development only: with no CITYMESH_AUTH_PUBLIC_KEY, take the caller from the "
        "x-citymesh-tenant/-district/-roles headers instead of refusing to start.",
    )
    token: str = Field(
        "",
        description="The token this process presents when it calls another citymesh service "
        "(a `service` token governance signed); empty with authentication off.",
    )
    auth_status_ttl_s: float = Field(
        2.0, ge=0, description="Seconds a tenant's status (active or suspended) is cached by the token check."
    )


def settings_table(classes: list[type[ServiceSettings]]) -> str:
    """The Markdown table of every CITYMESH_* variable of the given settings classes."""
    rows = ["| variable | service | default | meaning |", "| --- | --- | --- | --- |"]
    owners: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for cls in classes:
        for name, field in cls.model_fields.items():
            owner = ServiceSettings.service if name in ServiceSettings.model_fields else cls.service
            if name in owners:  # a variable several services read: one row naming them all
                if owner not in owners[name]:
                    owners[name].append(owner)
                continue
            owners[name] = [owner]
            default = "required" if field.is_required() else f"`{field.default}`"
            described[name] = f"{default} | {field.description}"
    for name, services in owners.items():
        rows.append(f"| `CITYMESH_{name.upper()}` | {', '.join(services)} | {described[name]} |")
    return "\n".join(rows)
