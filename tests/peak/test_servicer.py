"""alibaba-cloud's peak (Gouzhao, Sensor-IoT) in front of real governance and collection: it serves
its tenant only, registers devices inside its boundary only, books scenes without overlaps, and
turns project completions and contracts into award decisions with their reasons."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from citymesh.api.collection.v1 import collection_pb2, collection_pb2_grpc
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2
from citymesh.api.governance.v1 import governance_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.api.peak.v1 import peak_pb2_grpc
from citymesh.peak.domain import ZONE_TIME
from citymesh.peak.service import SERVICE
from tests.audit import audit_records, denied
from tests.peak.conftest import ADMIN, ALIBABA, GOUZHAO, HUAWEI, OUTSIDE, WUTONG, Md, StartPlatform, as_tenant
from tests.polling import eventually


def point(at: tuple[float, float]) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(longitude=at[0], latitude=at[1])


def tomorrow(hour: float, hours: float = 1.0) -> common_pb2.TimeRange:
    """A range starting tomorrow at `hour` zone time (UTC+8)."""
    day = (datetime.now(ZONE_TIME) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day + timedelta(hours=hour)
    r = common_pb2.TimeRange()
    r.start.FromDatetime(start)
    r.end.FromDatetime(start + timedelta(hours=hours))
    return r


async def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    code: grpc.StatusCode = info.value.code()
    return code


def every_rpc(stub: peak_pb2_grpc.PeakServiceStub, md: Md) -> dict[str, Callable[[], Any]]:
    """One well-formed call of every RPC, by name, each made when called."""
    return {
        "DescribePeak": lambda: stub.DescribePeak(pb.DescribePeakRequest(), metadata=md),
        "RegisterDevice": lambda: stub.RegisterDevice(
            pb.RegisterDeviceRequest(
                device_id="d1", kind=common_pb2.DEVICE_KIND_AIR, position=point(GOUZHAO)
            ),
            metadata=md,
        ),
        "ListDevices": lambda: stub.ListDevices(pb.ListDevicesRequest(), metadata=md),
        "ListScenes": lambda: stub.ListScenes(pb.ListScenesRequest(), metadata=md),
        "BookScene": lambda: stub.BookScene(
            pb.BookSceneRequest(
                scene_id="community-air-grid", project_id="p1", time_range=tomorrow(10), participants=1
            ),
            metadata=md,
        ),
        "ListBookings": lambda: stub.ListBookings(pb.ListBookingsRequest(), metadata=md),
        "CancelBooking": lambda: stub.CancelBooking(
            pb.CancelBookingRequest(scene_id="community-air-grid", booking_id="b1"), metadata=md
        ),
        "RegisterProject": lambda: stub.RegisterProject(register("p1"), metadata=md),
        "GetProject": lambda: stub.GetProject(pb.GetProjectRequest(project_id="p1"), metadata=md),
        "ListProjects": lambda: stub.ListProjects(pb.ListProjectsRequest(), metadata=md),
        "AddMilestone": lambda: stub.AddMilestone(
            pb.AddMilestoneRequest(project_id="p1", name="m", due=tomorrow(1).start), metadata=md
        ),
        "CompleteMilestone": lambda: stub.CompleteMilestone(
            pb.CompleteMilestoneRequest(project_id="p1", name="m"), metadata=md
        ),
        "CompleteProject": lambda: stub.CompleteProject(
            pb.CompleteProjectRequest(project_id="p1", result=governance_pb2.PROJECT_RESULT_COMPLETED),
            metadata=md,
        ),
        "RecordContract": lambda: stub.RecordContract(
            pb.RecordContractRequest(project_id="p1", contract_id="c1", amount_fen=1, client="c", place="p"),
            metadata=md,
        ),
        "ListAwards": lambda: stub.ListAwards(pb.ListAwardsRequest(), metadata=md),
        "QueryData": lambda: stub.QueryData(pb.QueryDataRequest(query={}), metadata=md),
        "ExportReadings": lambda: stub.ExportReadings(pb.ExportReadingsRequest(), metadata=md).read(),
        "PublishDataset": lambda: stub.PublishDataset(
            pb.PublishDatasetRequest(request={"name": "air", "visibility": exchange_pb2.VISIBILITY_SHARED}),
            metadata=md,
        ),
        "ListDatasets": lambda: stub.ListDatasets(pb.ListDatasetsRequest(), metadata=md),
        "RequestAccess": lambda: stub.RequestAccess(
            pb.RequestAccessRequest(request={"dataset_id": "huawei.air", "purpose": "x"}), metadata=md
        ),
        "GrantAccess": lambda: stub.GrantAccess(
            pb.GrantAccessRequest(request={"dataset_id": "alibaba-cloud.air", "tenant": "huawei"}),
            metadata=md,
        ),
        "DenyAccess": lambda: stub.DenyAccess(
            pb.DenyAccessRequest(request={"dataset_id": "alibaba-cloud.air", "tenant": "huawei"}), metadata=md
        ),
        "RevokeGrant": lambda: stub.RevokeGrant(
            pb.RevokeGrantRequest(request={"dataset_id": "alibaba-cloud.air", "tenant": "huawei"}),
            metadata=md,
        ),
        "ListGrants": lambda: stub.ListGrants(pb.ListGrantsRequest(), metadata=md),
        "ListKernels": lambda: stub.ListKernels(pb.ListKernelsRequest(), metadata=md),
        "SubmitJob": lambda: stub.SubmitJob(pb.SubmitJobRequest(job={"kernel": "idw_grid"}), metadata=md),
        "GetJob": lambda: stub.GetJob(pb.GetJobRequest(job_id="j1"), metadata=md),
        "CancelJob": lambda: stub.CancelJob(pb.CancelJobRequest(job_id="j1"), metadata=md),
        "ListIncidents": lambda: stub.ListIncidents(pb.ListIncidentsRequest(), metadata=md),
        "AcknowledgeIncident": lambda: stub.AcknowledgeIncident(
            pb.AcknowledgeIncidentRequest(incident_id="inc-1"), metadata=md
        ),
        "ResolveIncident": lambda: stub.ResolveIncident(
            pb.ResolveIncidentRequest(incident_id="inc-1", resolution="done"), metadata=md
        ),
    }


def register(
    project_id: str, investment_cny: int = 10_000_000, *, local: bool = True, industry: bool = True
) -> pb.RegisterProjectRequest:
    return pb.RegisterProjectRequest(
        project_id=project_id,
        name=f"Project {project_id}",
        investment_fen=investment_cny * 100,
        local_enterprise=local,
        technology=f"technology of {project_id}",
        leading_industry=industry,
    )


async def test_every_rpc_of_the_contract_is_checked_here() -> None:
    names = set(pb.DESCRIPTOR.services_by_name["PeakService"].methods_by_name)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:
        assert names == set(every_rpc(peak_pb2_grpc.PeakServiceStub(channel), ()))


async def test_another_tenant_is_refused_on_every_rpc_and_each_refusal_is_audited(
    start_platform: StartPlatform,
) -> None:
    async with start_platform() as platform:
        calls = every_rpc(platform.stub, HUAWEI)
        for name, call in calls.items():
            assert await code_of(call()) == grpc.StatusCode.PERMISSION_DENIED, name
        for name, call in every_rpc(platform.stub, ()).items():
            assert await code_of(call()) == grpc.StatusCode.UNAUTHENTICATED, f"{name} without a caller"
        # The peak's own tenant bound to another sub-district is not its tenant here either.
        wrong_district = as_tenant("alibaba-cloud", "wutong")
        assert await code_of(platform.stub.ListScenes(pb.ListScenesRequest(), metadata=wrong_district)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        records = await eventually(
            lambda: audit_records(platform.nats_url, SERVICE, allowed=False),
            lambda rs: len(rs) >= 2 * len(calls) + 1,
            what="every denial audited",
        )
        for name in calls:
            (record,) = denied(records, "huawei", name)
            assert record["resource"].startswith("peak alibaba-cloud:")
            assert "serves tenant alibaba-cloud only" in record["reason"]


async def test_the_peaks_tenant_and_the_platform_are_served(start_platform: StartPlatform) -> None:
    async with start_platform() as platform:
        for md in (ALIBABA, ADMIN, as_tenant("alibaba-cloud")):
            peak = await platform.stub.DescribePeak(pb.DescribePeakRequest(), metadata=md)
            assert peak.tenant == "alibaba-cloud"
            assert peak.district == common_pb2.DISTRICT_GOUZHAO
            assert peak.theme == pb.THEME_SENSOR_IOT
            assert list(peak.kernels) == ["anomaly_scan", "flood_sim", "idw_grid"]
            assert peak.scenes == 3
        scenes = await platform.stub.ListScenes(pb.ListScenesRequest(), metadata=ALIBABA)
        assert [s.scene_id for s in scenes.scenes] == [
            "community-air-grid",
            "lakeshore-water-sensing",
            "sensor-pilot-line",
        ]
        ecology = await platform.stub.ListScenes(
            pb.ListScenesRequest(kind=pb.SCENE_KIND_ECOLOGY), metadata=ALIBABA
        )
        assert [s.scene_id for s in ecology.scenes] == ["lakeshore-water-sensing"]
        assert ecology.scenes[0].availability[0].open_minute == 6 * 60


async def test_the_theme_setting_chooses_the_scenes(start_platform: StartPlatform) -> None:
    async with start_platform(theme="five-g") as platform:
        peak = await platform.stub.DescribePeak(pb.DescribePeakRequest(), metadata=ALIBABA)
        assert peak.theme == pb.THEME_FIVE_G
        assert "coverage_5g" in peak.kernels
        scenes = await platform.stub.ListScenes(pb.ListScenesRequest(), metadata=ALIBABA)
        assert "connected-vehicle-road" in [s.scene_id for s in scenes.scenes]


async def test_devices_are_registered_inside_the_peaks_boundary_only(start_platform: StartPlatform) -> None:
    async with start_platform("collection") as platform:
        stub = platform.stub

        async def register_at(device_id: str, at: tuple[float, float], md: Md = ALIBABA) -> Any:
            return await stub.RegisterDevice(
                pb.RegisterDeviceRequest(
                    device_id=device_id, kind=common_pb2.DEVICE_KIND_AIR, position=point(at)
                ),
                metadata=md,
            )

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await register_at("in-wutong", WUTONG)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "lies in sub-district wutong, outside this peak's sub-district gouzhao" in str(
            info.value.details()
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await register_at("nowhere", OUTSIDE)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside the zone" in str(info.value.details())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.RegisterDevice(pb.RegisterDeviceRequest(device_id="x"), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Collection's own checks come through the peak with collection's name on them.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await register_at("Bad Id!", GOUZHAO)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(info.value.details()).startswith("collection: ")

        registered = await register_at("lake-air-1", GOUZHAO)
        device = registered.device
        assert device.owner_tenant == "alibaba-cloud"
        assert device.district == common_pb2.DISTRICT_GOUZHAO
        await register_at("lake-air-2", GOUZHAO, ADMIN)  # the platform registers for the tenant

        # Collection has them, owned by the tenant; another tenant's device is not listed.
        async with grpc.aio.insecure_channel(platform.addresses["collection"]) as channel:
            collection = collection_pb2_grpc.CollectionServiceStub(channel)
            await collection.RegisterDevice(
                collection_pb2.RegisterDeviceRequest(
                    device=collection_pb2.Device(
                        device_id="huawei-air",
                        kind=common_pb2.DEVICE_KIND_AIR,
                        position=point((113.53, 34.82)),
                    )
                ),
                metadata=HUAWEI,
            )
            stored = await collection.GetDevice(
                collection_pb2.GetDeviceRequest(device_id="lake-air-1"), metadata=ADMIN
            )
            assert stored.device.owner_tenant == "alibaba-cloud"
        listed = await stub.ListDevices(pb.ListDevicesRequest(), metadata=ALIBABA)
        assert [d.device_id for d in listed.devices] == ["lake-air-1", "lake-air-2"]
        page = await stub.ListDevices(pb.ListDevicesRequest(page_size=1), metadata=ALIBABA)
        assert [d.device_id for d in page.devices] == ["lake-air-1"]
        assert page.next_page_token
        none = await stub.ListDevices(
            pb.ListDevicesRequest(kind=common_pb2.DEVICE_KIND_NOISE), metadata=ALIBABA
        )
        assert list(none.devices) == []

        records = await eventually(
            lambda: audit_records(platform.nats_url, SERVICE, allowed=False),
            lambda rs: len(rs) >= 1,
            what="the refused device audited",
        )
        (refusal,) = denied(records, "alibaba-cloud", "RegisterDevice")
        assert "in-wutong" in refusal["resource"]


async def test_two_concurrent_overlapping_bookings_one_wins(start_platform: StartPlatform) -> None:
    async with start_platform() as platform:
        stub = platform.stub
        for i in range(1, 9):
            await stub.RegisterProject(register(f"p{i}"), metadata=ALIBABA)

        def booking(project: str, hour: float, hours: float = 2.0) -> Any:
            return stub.BookScene(
                pb.BookSceneRequest(
                    scene_id="community-air-grid",
                    project_id=project,
                    time_range=tomorrow(hour, hours),
                    participants=10,
                    purpose="PM2.5 micro-station calibration",
                ),
                metadata=ALIBABA,
            )

        for attempt in range(5):  # five races, each between two overlapping bookings
            outcomes = await asyncio.gather(
                booking("p1", 2 + 3 * attempt), booking("p2", 3 + 3 * attempt), return_exceptions=True
            )
            won = [o for o in outcomes if isinstance(o, pb.BookSceneResponse)]
            lost = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
            assert len(won) == 1, outcomes
            assert len(lost) == 1, outcomes
            assert lost[0].code() == grpc.StatusCode.FAILED_PRECONDITION
            assert f"by project {won[0].booking.project_id}" in str(lost[0].details())

        # Eight projects at once for the same hour: still exactly one.
        many = await asyncio.gather(*(booking(f"p{i}", 20, 1) for i in range(1, 9)), return_exceptions=True)
        assert sum(isinstance(o, pb.BookSceneResponse) for o in many) == 1, many
        assert all(
            o.code() == grpc.StatusCode.FAILED_PRECONDITION
            for o in many
            if isinstance(o, grpc.aio.AioRpcError)
        )
        stored = await stub.ListBookings(
            pb.ListBookingsRequest(scene_id="community-air-grid"), metadata=ALIBABA
        )
        starts = [b.time_range.start.ToMilliseconds() for b in stored.bookings]
        assert len(stored.bookings) == 6
        assert starts == sorted(starts)
        for a, b in zip(stored.bookings, stored.bookings[1:], strict=False):
            assert a.time_range.end.ToMilliseconds() <= b.time_range.start.ToMilliseconds()


async def test_bookings_are_checked_retried_listed_and_cancelled(start_platform: StartPlatform) -> None:
    async with start_platform() as platform:
        stub = platform.stub
        await stub.RegisterProject(register("p1"), metadata=ALIBABA)

        def book(scene: str = "sensor-pilot-line", project: str = "p1", **kw: Any) -> Any:
            values: dict[str, Any] = {"time_range": tomorrow(10), "participants": 5}
            return stub.BookScene(
                pb.BookSceneRequest(scene_id=scene, project_id=project, **(values | kw)),  # type: ignore[arg-type]
                metadata=ALIBABA,
            )

        cases: list[tuple[Any, grpc.StatusCode, str]] = [
            (book(scene="no-such-scene"), grpc.StatusCode.NOT_FOUND, "no scene 'no-such-scene'"),
            (book(project="unknown"), grpc.StatusCode.NOT_FOUND, "no project 'unknown'"),
            (book(participants=21), grpc.StatusCode.INVALID_ARGUMENT, "admits 1 to 20"),
            (book(time_range=tomorrow(18)), grpc.StatusCode.INVALID_ARGUMENT, "availability window"),
            (book(time_range=common_pb2.TimeRange()), grpc.StatusCode.INVALID_ARGUMENT, "time_range"),
            (
                book(
                    time_range=common_pb2.TimeRange(
                        start=Timestamp(seconds=1, nanos=-5), end=Timestamp(seconds=9)
                    )
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "time_range.start.nanos is -5",
            ),
            (book(project="Bad"), grpc.StatusCode.INVALID_ARGUMENT, "project_id"),
        ]
        for call, code, words in cases:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            assert info.value.code() == code, words
            assert words in str(info.value.details())

        # The pilot line is open on weekdays only: find tomorrow's or the next weekday.
        day = 1
        while (datetime.now(ZONE_TIME) + timedelta(days=day)).isoweekday() > 5:
            day += 1
        start = (datetime.now(ZONE_TIME) + timedelta(days=day)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        window = common_pb2.TimeRange()
        window.start.FromDatetime(start)
        window.end.FromDatetime(start + timedelta(hours=2))
        first = await book(time_range=window)
        again = await book(time_range=window)
        assert again.booking == first.booking
        listed = await stub.ListBookings(pb.ListBookingsRequest(), metadata=ALIBABA)
        assert [b.booking_id for b in listed.bookings] == [first.booking.booking_id]
        assert listed.bookings[0].booked_by == "alibaba-cloud"
        await stub.CancelBooking(
            pb.CancelBookingRequest(scene_id="sensor-pilot-line", booking_id=first.booking.booking_id),
            metadata=ALIBABA,
        )
        assert list((await stub.ListBookings(pb.ListBookingsRequest(), metadata=ALIBABA)).bookings) == []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CancelBooking(
                pb.CancelBookingRequest(scene_id="sensor-pilot-line", booking_id="nope"), metadata=ALIBABA
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_completed_project_gets_governances_decision_with_its_reason(
    start_platform: StartPlatform,
) -> None:
    async with start_platform("governance") as platform:
        stub = platform.stub
        registered = await stub.RegisterProject(register("lake-sensing", 10_000_000), metadata=ALIBABA)
        assert registered.project.state == pb.PROJECT_STATE_ACTIVE
        assert (
            await stub.RegisterProject(register("lake-sensing", 10_000_000), metadata=ALIBABA)
        ) == registered
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.RegisterProject(register("lake-sensing", 5), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS

        await stub.AddMilestone(
            pb.AddMilestoneRequest(
                project_id="lake-sensing", name="pilot on the lake", due=tomorrow(12).start
            ),
            metadata=ALIBABA,
        )
        complete = pb.CompleteProjectRequest(
            project_id="lake-sensing", result=governance_pb2.PROJECT_RESULT_DEPLOYED_IN_ZONE
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CompleteProject(complete, metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'pilot on the lake'" in str(info.value.details())
        reached = await stub.CompleteMilestone(
            pb.CompleteMilestoneRequest(project_id="lake-sensing", name="pilot on the lake"), metadata=ALIBABA
        )
        assert reached.project.milestones[0].HasField("reached_at")

        done = await stub.CompleteProject(complete, metadata=ALIBABA)
        assert done.project.state == pb.PROJECT_STATE_COMPLETED
        assert done.decision.granted
        assert done.decision.rule == "project-subsidy"
        # Local, deployed in the zone, a leading industry: 60% of 10,000,000 CNY.
        assert done.decision.amount_fen == 6_000_000 * 100
        assert "60%" in done.decision.explanation
        assert "deployed in the zone" in done.decision.explanation
        assert done.decision.claim.enterprise == "alibaba-cloud"
        assert done.decision.claim.peak_id == "tianjian-lake"
        # Completing again submits the same claim: decided (and paid) once.
        again = await stub.CompleteProject(complete, metadata=ALIBABA)
        assert again.decision == done.decision

        # A non-local enterprise's project is refused, and the decision says why.
        await stub.RegisterProject(register("visiting", 2_000_000, local=False), metadata=ALIBABA)
        refused = await stub.CompleteProject(
            pb.CompleteProjectRequest(project_id="visiting", result=governance_pb2.PROJECT_RESULT_COMPLETED),
            metadata=ALIBABA,
        )
        assert not refused.decision.granted
        assert "not a local enterprise" in refused.decision.explanation

        # Contracts outside the zone: the first application is rewarded (capped), once per technology.
        contract = pb.RecordContractRequest(
            project_id="lake-sensing",
            contract_id="luoyang",
            amount_fen=20_000_000 * 100,
            client="Luoyang",
            place="Luoyang",
        )
        first = await stub.RecordContract(contract, metadata=ALIBABA)
        assert first.decision.granted
        assert first.decision.amount_fen == 1_000_000 * 100
        assert "capped" in first.decision.explanation
        assert first.project.contracts[0].claim_id == first.decision.claim.claim_id
        second = await stub.RecordContract(
            pb.RecordContractRequest(
                project_id="lake-sensing",
                contract_id="xinyang",
                amount_fen=100,
                client="Xinyang",
                place="Xinyang",
            ),
            metadata=ALIBABA,
        )
        assert not second.decision.granted
        assert "already awarded" in second.decision.explanation
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.RecordContract(
                pb.RecordContractRequest(
                    project_id="visiting-not", contract_id="x", amount_fen=1, client="c", place="p"
                ),
                metadata=ALIBABA,
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND

        awards = await stub.ListAwards(pb.ListAwardsRequest(), metadata=ALIBABA)
        assert [d.claim.claim_id for d in awards.decisions] == [
            "alibaba-cloud_lake-sensing_subsidy",
            "alibaba-cloud_visiting_subsidy",
            "alibaba-cloud_lake-sensing_first_luoyang",
            "alibaba-cloud_lake-sensing_first_xinyang",
        ]
        assert all(d.explanation for d in awards.decisions)
        assert awards.total_fen == 7_000_000 * 100
        lake = await stub.ListAwards(pb.ListAwardsRequest(project_id="visiting"), metadata=ADMIN)
        assert [d.claim.claim_id for d in lake.decisions] == ["alibaba-cloud_visiting_subsidy"]
        projects = await stub.ListProjects(pb.ListProjectsRequest(), metadata=ALIBABA)
        assert [p.project_id for p in projects.projects] == ["lake-sensing", "visiting"]


async def test_a_platform_service_that_is_down_is_unavailable_not_a_crash(
    start_platform: StartPlatform,
) -> None:
    async with start_platform(governance_address="127.0.0.1:1", call_timeout_s=2.0) as platform:
        await platform.stub.RegisterProject(register("p1"), metadata=ALIBABA)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await platform.stub.CompleteProject(
                pb.CompleteProjectRequest(project_id="p1", result=governance_pb2.PROJECT_RESULT_COMPLETED),
                metadata=ALIBABA,
            )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "governance did not answer" in str(info.value.details())
        # No collection address at all: the reason names the setting.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await platform.stub.ListDevices(pb.ListDevicesRequest(), metadata=ALIBABA)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "CITYMESH_COLLECTION_ADDRESS" in str(info.value.details())


async def test_bad_input_is_invalid_argument_with_a_reason(start_platform: StartPlatform) -> None:
    async with start_platform() as platform:
        stub = platform.stub
        await stub.RegisterProject(register("p1"), metadata=ALIBABA)
        cases = {
            "RegisterProject": stub.RegisterProject(register("p1", 0), metadata=ALIBABA),
            "GetProject": stub.GetProject(pb.GetProjectRequest(project_id=""), metadata=ALIBABA),
            "AddMilestone": stub.AddMilestone(
                pb.AddMilestoneRequest(project_id="p1", name=""), metadata=ALIBABA
            ),
            "CompleteProject": stub.CompleteProject(
                pb.CompleteProjectRequest(project_id="p1"), metadata=ALIBABA
            ),
            "ListScenes": stub.ListScenes(pb.ListScenesRequest(kind=9), metadata=ALIBABA),  # type: ignore[arg-type]
            "CancelBooking": stub.CancelBooking(pb.CancelBookingRequest(), metadata=ALIBABA),
            "QueryData": stub.QueryData(pb.QueryDataRequest(), metadata=ALIBABA),
            "SubmitJob": stub.SubmitJob(pb.SubmitJobRequest(), metadata=ALIBABA),
            "GetJob": stub.GetJob(pb.GetJobRequest(), metadata=ALIBABA),
        }
        for name, call in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            assert info.value.details(), name
