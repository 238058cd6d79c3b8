"""GetEconomyIndex and `citymesh index` over the platform's real records: devices (protobuf in the
devices bucket), TELEMETRY batches per sub-district, compute jobs, incidents and the award ledger."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from citymesh.api.collection.v1 import collection_pb2 as cpb
from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import governance_pb2 as pb
from citymesh.governance import cli
from citymesh.runtime.bus import (
    DEVICES_BUCKET,
    INCIDENTS_BUCKET,
    JOBS_BUCKET,
    TELEMETRY_STREAM,
    Bus,
    telemetry_subject,
)
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.settings import ServiceSettings
from tests.governance.conftest import ADMIN, first_application, governance, subsidy

pytestmark = pytest.mark.integration
CNY = 100


@asynccontextmanager
async def platform(nats: NatsServer, incidents: bool = True) -> AsyncIterator[Bus]:
    """What collection, compute and the incident pipeline would have written."""
    resources = [DEVICES_BUCKET, TELEMETRY_STREAM, JOBS_BUCKET] + ([INCIDENTS_BUCKET] if incidents else [])
    bus = await Bus.connect(ServiceSettings(nats_url=nats.url), name="test-platform", resources=resources)
    try:
        devices = await bus.kv(DEVICES_BUCKET)
        layout = [
            (common_pb2.DISTRICT_GOUZHAO, common_pb2.DEVICE_KIND_CAMERA, 200),
            (common_pb2.DISTRICT_GOUZHAO, common_pb2.DEVICE_KIND_AIR, 50),
            (common_pb2.DISTRICT_GOUZHAO, common_pb2.DEVICE_KIND_WATER, 4),
            (common_pb2.DISTRICT_FENGYANG, common_pb2.DEVICE_KIND_CAMERA, 600),
        ]
        n = 0
        for where, kind, count in layout:
            for _ in range(count):
                n += 1
                device = cpb.Device(device_id=f"d{n}", kind=kind, district=where, owner_tenant="")
                await devices.put(device.device_id, device.SerializeToString())
        await devices.delete("d1")  # deleted devices do not count
        for district, batches in (("gouzhao", 30), ("fengyang", 10)):
            for i in range(batches):
                await bus.publish(telemetry_subject(district), b"", f"{district}-{i}")
        jobs = await bus.kv(JOBS_BUCKET)
        for i, (tenant, state, seconds) in enumerate(
            [
                ("alibaba-cloud", "succeeded", 30.0),
                ("alibaba-cloud", "failed", 5.0),
                ("huawei", "succeeded", 120.0),
                ("huawei", "succeeded", 40.0),
                ("huawei", "running", 1.0),
            ]
        ):
            record = {"job_id": f"j{i}", "tenant": tenant, "state": state, "core_seconds": seconds}
            await jobs.put(f"j{i}", json.dumps(record).encode())
        await jobs.put("garbage", b"not json")  # skipped, not a failure
        if incidents:
            kv = await bus.kv(INCIDENTS_BUCKET)
            for i, (district, ack_s, resolve_s) in enumerate(
                [("gouzhao", 600, 3_600), ("gouzhao", 1_200, 0), ("gouzhao", 0, 0), ("wutong", 60, 600)]
            ):
                opened = 1_700_000_000_000
                record = {
                    "id": f"i{i}",
                    "district": district,
                    "type": "pm25",
                    "severity": "major",
                    "state": "open",
                    "opened_ms": opened,
                    "acknowledged_ms": opened + 1000 * ack_s if ack_s else 0,
                    "resolved_ms": opened + 1000 * resolve_s if resolve_s else 0,
                }
                await kv.put(f"i{i}", json.dumps(record).encode())
        yield bus
    finally:
        await bus.close()


def parts(u: pb.EconomyIndex) -> dict[str, pb.SubIndicatorScore]:
    return {p.name: p for i in u.indicators for p in i.parts}


async def test_the_index_is_computed_from_the_platforms_records(nats_server: NatsServer) -> None:
    async with platform(nats_server), governance(nats_server) as g:
        lake_claim = first_application("fa-1", "lidar kit", 2_000_000)
        lake_claim.peak_id = "tianjian-lake"
        for claim in (lake_claim, subsidy("ps-1", 1_000_000, enterprise="Huawei")):
            await g.stub.SubmitAwardClaim(pb.SubmitAwardClaimRequest(claim=claim), metadata=ADMIN)

        response = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=ADMIN)
        by_peak = {u.peak_id: u for u in response.peaks}
        assert list(by_peak) == ["tianjian-lake", "fengyang-5g", "digital-governance", "shifo", "shuangqiao"]

        lake = by_peak["tianjian-lake"].figures
        assert (lake.devices, lake.cameras, lake.device_kinds, lake.telemetry_batches) == (253, 199, 3, 30)
        assert (lake.compute_jobs, lake.compute_jobs_succeeded, lake.compute_jobs_finished) == (2, 1, 2)
        assert (lake.incidents, lake.incidents_acknowledged, lake.incidents_resolved) == (3, 2, 1)
        assert lake.mean_time_to_acknowledge_s == 900.0
        assert (lake.awards_granted, lake.awarded_fen, lake.first_applications) == (1, 200_000 * CNY, 1)
        fengyang = by_peak["fengyang-5g"].figures
        assert (fengyang.devices, fengyang.compute_core_seconds, fengyang.awarded_fen) == (
            600,
            161.0,
            400_000 * CNY,
        )
        assert by_peak["fengyang-5g"].figures.incidents == 0

        p = parts(by_peak["tianjian-lake"])
        assert p["device_density"].score == pytest.approx(253 / 500.6)
        assert p["data_flow"].score == 1.0  # the most batches
        assert parts(by_peak["fengyang-5g"])["data_flow"].score == pytest.approx(10 / 30)
        assert p["time_to_acknowledge"].score == 1.0  # 15 minutes: within the bound
        assert p["incident_acknowledgement"].score == pytest.approx(2 / 3)
        governance_of_fengyang = next(
            i
            for i in by_peak["fengyang-5g"].indicators
            if i.indicator == pb.ECONOMY_INDICATOR_CITY_GOVERNANCE
        )
        assert not governance_of_fengyang.measured  # no incidents in fengyang
        assert by_peak["fengyang-5g"].measured_weight == pytest.approx(0.75)
        assert by_peak["shifo"].score < by_peak["tianjian-lake"].score
        assert [by_peak[p].rank for p in ("fengyang-5g", "tianjian-lake", "digital-governance")] == [1, 2, 3]
        assert by_peak["shifo"].rank == by_peak["shuangqiao"].rank == 4  # equal scores share a rank

        zone = response.zone
        assert (zone.figures.devices, zone.figures.telemetry_batches, zone.figures.compute_jobs) == (
            853,
            40,
            5,
        )
        assert zone.figures.incidents == 4
        assert parts(zone)["device_density"].score == pytest.approx(853 / 2503)
        assert parts(zone)["data_flow"].score == pytest.approx(40 / (5 * 30))
        assert 0 < zone.score < 100

        one = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(peak_id="fengyang-5g"), metadata=ADMIN)
        assert [u.peak_id for u in one.peaks] == ["fengyang-5g"]
        assert one.peaks[0].score == pytest.approx(by_peak["fengyang-5g"].score)  # compared with every peak
        assert not one.HasField("zone")

        out = io.StringIO()
        cli.index_table(response, out)
        lines = out.getvalue().splitlines()
        assert lines[0].split() == [
            "rank",
            "peak",
            "sub-district",
            "infrastructure",
            "services",
            "governance",
            "industry",
            "index",
            "measured",
        ]
        rows = {line.split()[1]: line.split() for line in lines[2:7]}
        assert rows["fengyang-5g"][5] == "-"  # governance: nothing to measure
        assert rows["tianjian-lake"][:3] == [str(by_peak["tianjian-lake"].rank), "tianjian-lake", "gouzhao"]
        assert rows["tianjian-lake"][7] == f"{by_peak['tianjian-lake'].score:.1f}"
        zone_row = lines[7].split()
        assert zone_row[:2] == ["(zone)", "all"]
        assert zone_row[-2:] == [f"{zone.score:.1f}", "100%"]
        assert "400,000.00" in out.getvalue()


async def test_with_no_incident_pipeline_yet_governance_is_not_measured(nats_server: NatsServer) -> None:
    async with platform(nats_server, incidents=False), governance(nats_server) as g:
        response = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=ADMIN)
        for u in [*response.peaks, response.zone]:
            assert u.figures.incidents == 0
            assert u.measured_weight == pytest.approx(0.75)
            assert 0 <= u.score <= 100


async def test_an_empty_platform_scores_zero(nats_server: NatsServer) -> None:
    async with governance(nats_server) as g:
        response = await g.stub.GetEconomyIndex(pb.GetEconomyIndexRequest(), metadata=ADMIN)
        assert [u.score for u in response.peaks] == [0.0] * 5
        assert response.zone.score == 0.0
