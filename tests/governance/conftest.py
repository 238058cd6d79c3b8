"""A real governance API on a free port, against the test's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.api.governance.v1 import governance_pb2_grpc
from citymesh.governance.app import App, Settings
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running

ADMIN = (("x-citymesh-tenant", "zone"), ("x-citymesh-roles", "zone-admin"))


@dataclass
class Governance:
    stub: governance_pb2_grpc.GovernanceServiceStub
    app: App
    port: int


@asynccontextmanager
async def governance(nats: NatsServer, **settings: Any) -> AsyncIterator[Governance]:
    if not settings.get("auth_public_key"):
        settings.setdefault("auth_dev_headers", True)  # the caller is named by the x-citymesh-* headers
    s = Settings(nats_url=nats.url, listen="127.0.0.1:0", grace_s=1.0, **settings)
    app = App(s)
    async with running(app, s) as run, grpc.aio.insecure_channel(f"127.0.0.1:{run.port}") as channel:
        yield Governance(governance_pb2_grpc.GovernanceServiceStub(channel), app, run.port)


def as_caller(tenant: str, roles: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return (("x-citymesh-tenant", tenant), ("x-citymesh-roles", ",".join(roles)))


def subsidy(
    claim_id: str,
    investment_cny: int,
    *,
    local: bool = True,
    deployed: bool = False,
    industry: bool = False,
    enterprise: str = "Zhengzhou Sensing",
) -> pb.AwardClaim:
    return pb.AwardClaim(
        claim_id=claim_id,
        enterprise=enterprise,
        project="p-" + claim_id,
        kind=pb.AWARD_KIND_PROJECT_SUBSIDY,
        project_subsidy=pb.ProjectClaim(
            local_enterprise=local,
            total_investment_fen=investment_cny * 100,
            result=pb.PROJECT_RESULT_DEPLOYED_IN_ZONE if deployed else pb.PROJECT_RESULT_COMPLETED,
            leading_industry=industry,
        ),
    )


def first_application(claim_id: str, technology: str, contract_cny: int) -> pb.AwardClaim:
    return pb.AwardClaim(
        claim_id=claim_id,
        enterprise="Zhengzhou Sensing",
        kind=pb.AWARD_KIND_FIRST_APPLICATION,
        first_application=pb.FirstApplicationClaim(technology=technology, contract_fen=contract_cny * 100),
    )


def recognition(claim_id: str, project: str, level: int) -> pb.AwardClaim:
    return pb.AwardClaim(
        claim_id=claim_id,
        enterprise="Zhengzhou Sensing",
        project=project,
        kind=pb.AWARD_KIND_RECOGNITION,
        recognition=pb.RecognitionClaim(level=level),  # type: ignore[arg-type]
    )
