"""GovernanceService over gRPC: convert the request, call governance, convert the answer.

The caller is the verified token's identity when authentication is on, else the development
headers (see citymesh.runtime.auth); governance checks it against what it asks for. Domain errors
are raised; the runtime's interceptor maps them.
"""

from __future__ import annotations

import grpc

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.api.governance.v1 import governance_pb2_grpc
from citymesh.governance import convert
from citymesh.governance.service import Governance
from citymesh.runtime import auth


def caller(context: grpc.aio.ServicerContext) -> auth.Identity:
    return auth.caller(context.invocation_metadata())


class GovernanceServicer(governance_pb2_grpc.GovernanceServiceServicer):
    def __init__(self, governance: Governance) -> None:
        self._gov = governance

    async def ListPeaks(
        self, request: pb.ListPeaksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPeaksResponse:
        peaks = await self._gov.list_peaks(caller(context))
        return pb.ListPeaksResponse(peaks=[convert.peak_message(p) for p in peaks])

    async def GetPeak(
        self, request: pb.GetPeakRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPeakResponse:
        peak = await self._gov.get_peak(convert.peak_id(request.peak_id), caller(context))
        return pb.GetPeakResponse(peak=convert.peak_message(peak))

    async def TransitionPeak(
        self, request: pb.TransitionPeakRequest, context: grpc.aio.ServicerContext
    ) -> pb.TransitionPeakResponse:
        peak = await self._gov.transition(convert.transition(request), caller(context))
        return pb.TransitionPeakResponse(peak=convert.peak_message(peak))

    async def SubmitAwardClaim(
        self, request: pb.SubmitAwardClaimRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitAwardClaimResponse:
        decision, duplicate = await self._gov.submit_claim(convert.claim(request.claim), caller(context))
        return pb.SubmitAwardClaimResponse(decision=convert.decision_message(decision), duplicate=duplicate)

    async def ListAwards(
        self, request: pb.ListAwardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAwardsResponse:
        peak_id = convert.peak_id(request.peak_id, required=False)
        decisions = await self._gov.awards(caller(context), request.enterprise, peak_id)
        return pb.ListAwardsResponse(
            decisions=[convert.decision_message(d) for d in decisions],
            total_fen=sum(d.amount_fen for d in decisions),
        )

    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueTokenResponse:
        token, expires_ms, district = await self._gov.issue_token(
            request.tenant, list(request.roles), request.ttl_s, caller(context)
        )
        return pb.IssueTokenResponse(token=token, expires_at=convert.timestamp(expires_ms), district=district)

    async def GetEconomyIndex(
        self, request: pb.GetEconomyIndexRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEconomyIndexResponse:
        peak_id = convert.peak_id(request.peak_id, required=False)
        peaks, zone = await self._gov.economy_index(caller(context), peak_id)
        return convert.index_response(peaks, zone, self._gov.clock())
