"""`citymesh up` runs one peak process per active peak, with tokens on: each serves its own tenant,
reaches the platform services `up` started, and refuses the other tenants."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from citymesh.api.common.v1 import common_pb2
from citymesh.api.governance.v1 import governance_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.api.peak.v1 import peak_pb2_grpc
from citymesh.launcher import SERVICES, Launcher, Options
from citymesh.launcher.peaks import peak_spec
from tests.peak.conftest import GOUZHAO
from tests.polling import eventually
from tests.tokens import bearer, token


def test_a_peak_runs_as_citymesh_serve_peak_with_its_tenant_district_and_addresses() -> None:
    peak = governance_pb2.Peak(peak_id="tianjian-lake", tenant="alibaba-cloud", district="gouzhao")
    spec = peak_spec(peak, {"collection": "127.0.0.1:1", "governance": "127.0.0.1:2", "simulator": "x"})
    assert (spec.name, spec.command) == ("peak-tianjian-lake", "peak")
    assert spec.env(Path(".")) == {
        "CITYMESH_TENANT": "alibaba-cloud",
        "CITYMESH_DISTRICT": "gouzhao",
        "CITYMESH_COLLECTION_ADDRESS": "127.0.0.1:1",
        "CITYMESH_GOVERNANCE_ADDRESS": "127.0.0.1:2",
    }


async def serving_ports(data: Path) -> dict[str, Any]:
    async def read() -> dict[str, Any] | None:
        try:
            ports: dict[str, Any] = json.loads((data / "run" / "ports.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return ports

    found = await eventually(
        read, lambda p: p is not None and p["state"] == "serving", 120, "a serving platform"
    )
    assert found is not None
    return found


@pytest.mark.integration
async def test_up_starts_a_peak_for_each_active_peak(tmp_path: Path) -> None:
    platform = tuple(s for s in SERVICES if s.name in ("collection", "governance"))
    launcher = Launcher(Options(tmp_path, services=platform, simulator=False), io.StringIO())
    run = asyncio.create_task(launcher.run())
    try:
        ports = await serving_ports(tmp_path)
        assert set(ports["services"]) == {
            "collection",
            "governance",
            "peak-tianjian-lake",
            "peak-fengyang-5g",
            "peak-digital-governance",
        }
        key = (tmp_path / "keys" / "signing-key.pem").read_text()
        alibaba = bearer(token("alibaba-cloud", "gouzhao", ["peak-admin"], key=key))
        huawei = bearer(token("huawei", "fengyang", ["peak-admin"], key=key))
        address = ports["services"]["peak-tianjian-lake"]["address"]
        async with grpc.aio.insecure_channel(address) as channel:
            stub = peak_pb2_grpc.PeakServiceStub(channel)
            peak = await stub.DescribePeak(pb.DescribePeakRequest(), metadata=alibaba)
            assert (peak.tenant, peak.district, peak.theme) == (
                "alibaba-cloud",
                common_pb2.DISTRICT_GOUZHAO,
                pb.THEME_SENSOR_IOT,
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.DescribePeak(pb.DescribePeakRequest(), metadata=huawei)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.DescribePeak(pb.DescribePeakRequest())
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # The peak reaches collection at the address `up` gave it, with the tenant's token.
            registered = await stub.RegisterDevice(
                pb.RegisterDeviceRequest(
                    device_id="lake-air-1",
                    kind=common_pb2.DEVICE_KIND_AIR,
                    position=common_pb2.GeoPoint(longitude=GOUZHAO[0], latitude=GOUZHAO[1]),
                ),
                metadata=alibaba,
            )
            assert registered.device.owner_tenant == "alibaba-cloud"
        async with grpc.aio.insecure_channel(ports["services"]["peak-fengyang-5g"]["address"]) as channel:
            fengyang = await peak_pb2_grpc.PeakServiceStub(channel).DescribePeak(
                pb.DescribePeakRequest(), metadata=huawei
            )
            assert (fengyang.tenant, fengyang.theme) == ("huawei", pb.THEME_FIVE_G)
        # The status view reads each peak.
        await eventually(
            lambda: launcher.counters.get("peak-digital-governance", {}),
            lambda c: c.get("scenes") == 3,
            30,
            "the status probe of a peak",
        )
    finally:
        launcher.stop.set()
        assert await run == 0
