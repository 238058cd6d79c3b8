"""Every GovernanceService RPC checks its caller: a tenant sees and claims for its own peak only,
transitions and tokens are the zone administrator's, and each denial is on AUDIT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.runtime.natsd import NatsServer
from tests.audit import audit_records, denied
from tests.governance.conftest import ADMIN, as_caller, governance, subsidy
from tests.tokens import PRIVATE

pytestmark = pytest.mark.integration

HUAWEI = as_caller("huawei", ["peak-admin"])
ALIBABA = as_caller("alibaba-cloud", ["peak-admin"])
SERVICE = as_caller("zone", ["service"])
ANONYMOUS: tuple[tuple[str, str], ...] = ()


async def refused(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code()


async def audited(nats: NatsServer, tenant: str, action: str) -> int:
    return len(denied(await audit_records(nats.url, "governance", allowed=False), tenant, action))


async def test_a_caller_with_no_identity_gets_nothing(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        s = g.stub
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: s.ListPeaks(pb.ListPeaksRequest(), metadata=ANONYMOUS),
            lambda: s.GetPeak(pb.GetPeakRequest(peak_id="fengyang-5g"), metadata=ANONYMOUS),
            lambda: s.ListAwards(pb.ListAwardsRequest(), metadata=ANONYMOUS),
            lambda: s.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=ANONYMOUS),
            lambda: s.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=subsidy("x", 1)), metadata=ANONYMOUS),
            lambda: s.IssueToken(pb.IssueTokenRequest(tenant="huawei"), metadata=ANONYMOUS),
            lambda: s.TransitionPeak(
                pb.TransitionPeakRequest(peak_id="fengyang-5g", target=pb.PEAK_STATE_SUSPENDED, reason="x"),
                metadata=ANONYMOUS,
            ),
        ]
        for call in calls:
            assert await refused(call()) == grpc.StatusCode.UNAUTHENTICATED
        records = await audit_records(nats_server.url, "governance", allowed=False)
        assert sorted(r["action"] for r in records) == sorted(
            [
                "ListPeaks",
                "GetPeak",
                "ListAwards",
                "GetEconomyIndex",
                "SubmitAwardClaim",
                "IssueToken",
                "TransitionPeak",
            ]
        )


async def test_a_tenant_sees_its_own_peak_only(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        peaks = (await g.stub.ListPeaks(pb.ListPeaksRequest(), metadata=HUAWEI)).peaks
        assert [p.peak_id for p in peaks] == ["fengyang-5g"]
        own = await g.stub.GetPeak(pb.GetPeakRequest(peak_id="fengyang-5g"), metadata=HUAWEI)
        assert own.peak.tenant == "huawei"
        other = g.stub.GetPeak(pb.GetPeakRequest(peak_id="tianjian-lake"), metadata=HUAWEI)
        assert await refused(other) == grpc.StatusCode.PERMISSION_DENIED
        negotiating = g.stub.GetPeak(pb.GetPeakRequest(peak_id="shifo"), metadata=HUAWEI)
        assert await refused(negotiating) == grpc.StatusCode.PERMISSION_DENIED
        assert await audited(nats_server, "huawei", "GetPeak") == 2
        nobody = (await g.stub.ListPeaks(pb.ListPeaksRequest(), metadata=as_caller("baidu", []))).peaks
        assert list(nobody) == []  # a tenant holding no peak sees none
        for platform in (ADMIN, SERVICE):
            assert len((await g.stub.ListPeaks(pb.ListPeaksRequest(), metadata=platform)).peaks) == 5
        bad = g.stub.GetPeak(pb.GetPeakRequest(peak_id="Not A Peak"), metadata=ADMIN)
        assert await refused(bad) == grpc.StatusCode.INVALID_ARGUMENT


async def test_transitions_are_the_zone_administrators(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        suspend = pb.TransitionPeakRequest(peak_id="fengyang-5g", target=pb.PEAK_STATE_SUSPENDED, reason="x")
        assert (
            await refused(g.stub.TransitionPeak(suspend, metadata=HUAWEI))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        assert (
            await refused(g.stub.TransitionPeak(suspend, metadata=SERVICE))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        sign = pb.TransitionPeakRequest(
            peak_id="shifo", target=pb.PEAK_STATE_SIGNED, reason="x", tenant="baidu", enterprise="Baidu"
        )
        await g.stub.TransitionPeak(sign, metadata=ADMIN)
        activate = pb.TransitionPeakRequest(peak_id="shifo", target=pb.PEAK_STATE_ACTIVE, reason="open")
        # a peak-admin activates its own signed peak, not another tenant's
        assert (
            await refused(g.stub.TransitionPeak(activate, metadata=HUAWEI))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        done = await g.stub.TransitionPeak(activate, metadata=as_caller("baidu", ["peak-admin"]))
        assert done.peak.state == pb.PEAK_STATE_ACTIVE
        assert await audited(nats_server, "huawei", "TransitionPeak") == 2
        assert await audited(nats_server, "zone", "TransitionPeak") == 1  # the service role


async def test_tokens_are_issued_to_the_zone_administrator_only(nats_server: NatsServer) -> None:
    async with governance(nats_server, signing_key=PRIVATE) as g:
        ask = pb.IssueTokenRequest(tenant="huawei", roles=["zone-admin"])
        for caller in (HUAWEI, SERVICE):
            assert await refused(g.stub.IssueToken(ask, metadata=caller)) == grpc.StatusCode.PERMISSION_DENIED
        assert (await g.stub.IssueToken(ask, metadata=ADMIN)).token
        assert await audited(nats_server, "huawei", "IssueToken") == 1
        assert await audited(nats_server, "zone", "IssueToken") == 1


async def test_a_tenant_claims_for_its_own_peak_only(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        mine = subsidy("hw-1", 1_000_000, enterprise="Huawei")
        answer = await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=mine), metadata=HUAWEI)
        assert answer.decision.claim.peak_id == "fengyang-5g"  # filed under its own peak
        assert answer.decision.decided_by == "huawei"
        partner = subsidy("hw-2", 1_000_000, enterprise="Zhengzhou Sensing")
        partner.peak_id = "fengyang-5g"
        await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=partner), metadata=HUAWEI)
        theirs = subsidy("hw-3", 1_000_000)
        theirs.peak_id = "tianjian-lake"
        submit = g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=theirs), metadata=HUAWEI)
        assert await refused(submit) == grpc.StatusCode.PERMISSION_DENIED
        no_peak = g.stub.SubmitAwardClaim(
            pb.SubmitAwardClaimRequest(claim=subsidy("bd-1", 1)), metadata=as_caller("baidu", [])
        )
        assert await refused(no_peak) == grpc.StatusCode.PERMISSION_DENIED
        assert await audited(nats_server, "huawei", "SubmitAwardClaim") == 1
        assert await audited(nats_server, "baidu", "SubmitAwardClaim") == 1
        for_anyone = subsidy("zone-1", 1_000_000)
        for_anyone.peak_id = "tianjian-lake"
        await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=for_anyone), metadata=SERVICE)


async def test_a_tenant_lists_its_own_awards_only(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        for claim_id, enterprise, peak_id in [
            ("a-1", "Alibaba Cloud", ""),  # its enterprise, no peak named: counted as its peak's
            ("a-2", "Zhengzhou Sensing", "tianjian-lake"),  # a partner in its peak
            ("h-1", "Huawei", ""),
            ("z-1", "Zhengzhou Sensing", ""),  # the zone's own
        ]:
            claim = subsidy(claim_id, 1_000, enterprise=enterprise)
            claim.peak_id = peak_id
            await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=claim), metadata=ADMIN)

        def ids(response: pb.ListAwardsResponse) -> list[str]:
            return [d.claim.claim_id for d in response.decisions]

        alibaba = await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=ALIBABA)
        assert ids(alibaba) == ["a-1", "a-2"]
        assert alibaba.total_fen == 2 * 400 * 100
        own = await g.stub.ListAwards(pb.ListAwardsRequest(peak_id="tianjian-lake"), metadata=ALIBABA)
        assert ids(own) == ["a-1", "a-2"]
        assert ids(await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=HUAWEI)) == ["h-1"]
        other = g.stub.ListAwards(pb.ListAwardsRequest(peak_id="fengyang-5g"), metadata=ALIBABA)
        assert await refused(other) == grpc.StatusCode.PERMISSION_DENIED
        assert await audited(nats_server, "alibaba-cloud", "ListAwards") == 1
        # naming another enterprise only narrows the caller's own list
        narrowed = await g.stub.ListAwards(pb.ListAwardsRequest(enterprise="Huawei"), metadata=ALIBABA)
        assert ids(narrowed) == []
        everything = await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=SERVICE)
        assert ids(everything) == ["a-1", "a-2", "h-1", "z-1"]
        by_peak = await g.stub.ListAwards(pb.ListAwardsRequest(peak_id="tianjian-lake"), metadata=ADMIN)
        assert ids(by_peak) == ["a-1", "a-2"]


async def test_a_tenant_sees_its_own_peaks_index_only(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        mine = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=HUAWEI)
        assert [u.peak_id for u in mine.peaks] == ["fengyang-5g"]
        assert not mine.HasField("zone")
        other = g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(peak_id="wutong-x"), metadata=HUAWEI)
        assert await refused(other) == grpc.StatusCode.NOT_FOUND
        other = g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(peak_id="tianjian-lake"), metadata=HUAWEI)
        assert await refused(other) == grpc.StatusCode.PERMISSION_DENIED
        assert await audited(nats_server, "huawei", "GetEconomyIndex") == 1
        everything = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=ADMIN)
        assert len(everything.peaks) == 5
        assert everything.HasField("zone")
