"""GovernanceService over gRPC: convert the request, call governance, convert the answer.

The caller is the verified token's identity when authentication is on, else the development
headers (see citymesh.runtime.auth). Domain errors are raised; the runtime's interceptor maps them.
"""

from __future__ import annotations

import grpc

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.api.governance.v1 import governance_pb2_grpc
from citymesh.governance import convert
from citymesh.governance.domain import Actor
from citymesh.governance.service import Governance
from citymesh.runtime import auth


def actor(context: grpc.aio.ServicerContext) -> Actor:
    who = auth.caller(context.invocation_metadata())
    return Actor(who.tenant, who.roles)


class GovernanceServicer(governance_pb2_grpc.GovernanceServiceServicer):
    def __init__(self, governance: Governance) -> None:
        self._gov = governance

    async def ListPeaks(
        self, request: pb.ListPeaksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPeaksResponse:
        return pb.ListPeaksResponse(peaks=[convert.peak_message(p) for p in await self._gov.list_peaks()])

    async def GetPeak(
        self, request: pb.GetPeakRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPeakResponse:
        return pb.GetPeakResponse(peak=convert.peak_message(await self._gov.get_peak(request.peak_id)))

    async def TransitionPeak(
        self, request: pb.TransitionPeakRequest, context: grpc.aio.ServicerContext
    ) -> pb.TransitionPeakResponse:
        peak = await self._gov.transition(convert.transition(request), actor(context))
        return pb.TransitionPeakResponse(peak=convert.peak_message(peak))

    async def SubmitAwardClaim(
        self, request: pb.SubmitAwardClaimRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitAwardClaimResponse:
        decision, duplicate = await self._gov.submit_claim(convert.claim(request.claim), actor(context))
        return pb.SubmitAwardClaimResponse(decision=convert.decision_message(decision), duplicate=duplicate)

    async def ListAwards(
        self, request: pb.ListAwardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAwardsResponse:
        decisions = await self._gov.awards(request.enterprise)
        return pb.ListAwardsResponse(
            decisions=[convert.decision_message(d) for d in decisions],
            total_fen=sum(d.amount_fen for d in decisions),
        )

    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueTokenResponse:
        token, expires_ms, district = await self._gov.issue_token(
            request.tenant, list(request.roles), request.ttl_s, actor(context)
        )
        return pb.IssueTokenResponse(token=token, expires_at=convert.timestamp(expires_ms), district=district)
