"""GovernanceService against a real in-process server and nats-server (authentication off)."""

from __future__ import annotations

import asyncio
import io
import json

import grpc
import pytest
from nats.js import api

from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.governance import cli
from citymesh.runtime.bus import AUDIT_STREAM, EVENTS_STREAM
from citymesh.runtime.natsd import NatsServer
from tests.governance.conftest import ADMIN, as_caller, first_application, governance, recognition, subsidy

pytestmark = pytest.mark.integration
CNY = 100


async def test_the_seed_is_loaded_at_first_start_and_kept_after(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        peaks = (await g.stub.ListPeaks(pb.ListPeaksRequest(), metadata=ADMIN)).peaks
        assert [(p.district, p.enterprise, p.state) for p in peaks] == [
            ("gouzhao", "Alibaba Cloud", pb.PEAK_STATE_ACTIVE),
            ("fengyang", "Huawei", pb.PEAK_STATE_ACTIVE),
            ("wutong", "Unisplendour", pb.PEAK_STATE_ACTIVE),
            ("shifo", "", pb.PEAK_STATE_NEGOTIATING),
            ("shuangqiao", "", pb.PEAK_STATE_NEGOTIATING),
        ]
        request = pb.TransitionPeakRequest(
            peak_id="shifo",
            target=pb.PEAK_STATE_SIGNED,
            reason="agreement",
            tenant="baidu",
            enterprise="Baidu",
        )
        await g.stub.TransitionPeak(request, metadata=ADMIN)
    async with governance(nats_server) as g:
        shifo = (await g.stub.GetPeak(pb.GetPeakRequest(peak_id="shifo"), metadata=ADMIN)).peak
        assert (shifo.state, shifo.tenant, shifo.version) == (pb.PEAK_STATE_SIGNED, "baidu", 2)


async def test_a_transition_is_an_event_and_an_audit_record(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        peak = (
            await g.stub.TransitionPeak(
                pb.TransitionPeakRequest(
                    peak_id="fengyang-5g", target=pb.PEAK_STATE_SUSPENDED, reason="review"
                ),
                metadata=ADMIN,
            )
        ).peak
        assert (peak.state, peak.version, peak.reason) == (pb.PEAK_STATE_SUSPENDED, 2, "review")
        js = g.app.governance.bus.js  # type: ignore[union-attr]
        for stream in (EVENTS_STREAM, AUDIT_STREAM):
            msg = await js.get_last_msg(stream, f"{stream.lower()}.governance.peak.fengyang-5g")
            record = json.loads(msg.data or b"")
            assert (record["from"], record["to"], record["actor"], record["reason"]) == (
                "active",
                "suspended",
                "zone",
                "review",
            )


async def test_guards_answer_with_status_codes(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        sign = pb.TransitionPeakRequest(
            peak_id="shifo", target=pb.PEAK_STATE_SIGNED, reason="x", tenant="baidu", enterprise="Baidu"
        )
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await g.stub.TransitionPeak(sign, metadata=as_caller("baidu", ["peak-admin"]))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        skip = pb.TransitionPeakRequest(peak_id="shuangqiao", target=pb.PEAK_STATE_ACTIVE, reason="x")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await g.stub.TransitionPeak(skip, metadata=ADMIN)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "negotiating" in (refused.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await g.stub.GetPeak(pb.GetPeakRequest(peak_id="nowhere"), metadata=ADMIN)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_of_two_concurrent_transitions_exactly_one_wins(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:

        def sign(tenant: str) -> pb.TransitionPeakRequest:
            return pb.TransitionPeakRequest(
                peak_id="shuangqiao",
                target=pb.PEAK_STATE_SIGNED,
                reason="signed",
                tenant=tenant,
                enterprise=tenant,
            )

        results = await asyncio.gather(
            *(
                g.stub.TransitionPeak(sign(t), metadata=ADMIN)
                for t in ("baidu", "tencent", "china-electronics")
            ),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, pb.TransitionPeakResponse)]
        lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(won) == 1
        assert [e.code() for e in lost] == [grpc.StatusCode.FAILED_PRECONDITION] * 2
        assert all("already" in (e.details() or "") or "signed" in (e.details() or "") for e in lost)
        peak = (await g.stub.GetPeak(pb.GetPeakRequest(peak_id="shuangqiao"), metadata=ADMIN)).peak
        assert (peak.tenant, peak.version) == (won[0].peak.tenant, 2)


async def decide(g: object, claim: pb.AwardClaim) -> pb.SubmitAwardClaimResponse:
    return await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=claim), metadata=ADMIN)  # type: ignore[attr-defined, no-any-return]


async def test_award_boundary_cases(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        for claim_id, tech, contract, awarded in [
            ("fa-1", "lidar kit", 10_000_000, 1_000_000),
            ("fa-2", "beidou tag", 12_000_000, 1_000_000),
            ("fa-3", "gas sensor", 5_000_000, 500_000),
        ]:
            d = (await decide(g, first_application(claim_id, tech, contract))).decision
            assert (d.granted, d.amount_fen, d.rule) == (True, awarded * CNY, "first-application")
        again = (await decide(g, first_application("fa-4", "Gas-Sensor", 3_000_000))).decision
        assert (again.granted, again.amount_fen) == (False, 0)
        assert "fa-3" in again.explanation
        foreign = (await decide(g, subsidy("ps-1", 2_000_000, local=False))).decision
        assert (foreign.granted, foreign.amount_fen) == (False, 0)
        local = (await decide(g, subsidy("ps-2", 2_000_000, deployed=True, industry=True))).decision
        assert local.amount_fen == 1_200_000 * CNY
        ledger = await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=ADMIN)
        assert [d.claim.claim_id for d in ledger.decisions] == [
            "fa-1",
            "fa-2",
            "fa-3",
            "fa-4",
            "ps-1",
            "ps-2",
        ]
        assert ledger.total_fen == (1_000_000 + 1_000_000 + 500_000 + 1_200_000) * CNY


async def test_a_duplicate_claim_is_paid_once(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        claim = recognition("rc-1", "Smart Lamp Posts", pb.RECOGNITION_LEVEL_PROVINCIAL)
        answers = await asyncio.gather(*(decide(g, claim) for _ in range(4)))
        assert sorted(a.duplicate for a in answers) == [False, True, True, True]
        assert {a.decision.amount_fen for a in answers} == {800_000 * CNY}
        higher = (
            await decide(g, recognition("rc-2", "Smart Lamp Posts", pb.RECOGNITION_LEVEL_NATIONAL))
        ).decision
        assert higher.amount_fen == 200_000 * CNY
        ledger = await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=ADMIN)
        assert ledger.total_fen == 1_000_000 * CNY
        changed = recognition("rc-1", "Another Project", pb.RECOGNITION_LEVEL_NATIONAL)
        with pytest.raises(grpc.aio.AioRpcError) as conflict:
            await decide(g, changed)
        assert conflict.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_events_stream_is_declared(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        info = await g.app.governance.bus.js.stream_info(EVENTS_STREAM)  # type: ignore[union-attr]
        assert info.config.subjects == ["events.>"]
        assert info.config.retention == api.RetentionPolicy.LIMITS


async def test_the_cli_prints_the_peaks_and_the_ledger_as_tables(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        await decide(g, first_application("fa-1", "lidar kit", 12_000_000))
        out = io.StringIO()
        cli.peaks_table(await g.stub.ListPeaks(pb.ListPeaksRequest(), metadata=ADMIN), out)
        lines = out.getvalue().splitlines()
        assert lines[0].split() == ["sub-district", "peak", "name", "enterprise", "state", "version"]
        assert "Tianjian Lake Sensor-IoT Town" in lines[2]
        assert "candidates: Baidu, Tencent, China Electronics" in lines[5]
        out = io.StringIO()
        cli.awards_table(await g.stub.ListAwards(pb.ListAwardsRequest(), metadata=ADMIN), out)
        text = out.getvalue()
        assert "1,000,000.00" in text
        assert "capped" in text
        assert text.rstrip().endswith("total awarded: 1,000,000.00 CNY")
