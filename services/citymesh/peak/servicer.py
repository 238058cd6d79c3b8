"""PeakService over gRPC: convert the request, call the peak, convert the answer.

The caller is the verified token's identity when authentication is on, else the development
headers (citymesh.runtime.auth.caller); its credentials are forwarded to the platform services the
peak calls for it. Domain errors are raised; the runtime's interceptor maps them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.peak.v1 import peak_pb2 as pb
from citymesh.api.peak.v1 import peak_pb2_grpc
from citymesh.convert import district_to_proto, timestamp_ms
from citymesh.peak import convert
from citymesh.peak.service import Peak
from citymesh.peak.upstream import Metadata
from citymesh.runtime import auth, errors
from citymesh.runtime.auth import Identity


def caller(context: grpc.aio.ServicerContext) -> tuple[Identity, Metadata]:
    """Who calls, and the credentials to call other services on its behalf."""
    md = context.invocation_metadata()
    return auth.caller(md), auth.forwarded(md)


class PeakServicer(peak_pb2_grpc.PeakServiceServicer):
    def __init__(self, peak: Peak) -> None:
        self._peak = peak

    async def DescribePeak(
        self, request: pb.DescribePeakRequest, context: grpc.aio.ServicerContext
    ) -> pb.DescribePeakResponse:
        who, _ = caller(context)
        d = await self._peak.describe(who)
        return pb.DescribePeakResponse(
            tenant=d.tenant,
            district=district_to_proto(d.district),
            theme=convert.THEME_TO[d.theme],
            kernels=list(d.kernels),
            scenes=d.scenes,
        )

    async def RegisterDevice(
        self, request: pb.RegisterDeviceRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterDeviceResponse:
        who, creds = caller(context)
        device = collection_pb2.Device(device_id=request.device_id, kind=request.kind)
        if request.HasField("position"):
            device.position.CopyFrom(request.position)
        registered = await self._peak.register_device(who, creds, device)
        return pb.RegisterDeviceResponse(device=registered)

    async def ListDevices(
        self, request: pb.ListDevicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDevicesResponse:
        who, creds = caller(context)
        page = await self._peak.list_devices(who, creds, request.page_size, request.page_token, request.kind)
        return pb.ListDevicesResponse(devices=page.devices, next_page_token=page.next_page_token)

    async def ListScenes(
        self, request: pb.ListScenesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListScenesResponse:
        who, _ = caller(context)
        scenes = await self._peak.list_scenes(who, convert.scene_kind(request.kind))
        return pb.ListScenesResponse(scenes=[convert.scene_message(s) for s in scenes])

    async def BookScene(
        self, request: pb.BookSceneRequest, context: grpc.aio.ServicerContext
    ) -> pb.BookSceneResponse:
        who, _ = caller(context)
        booking = await self._peak.book(who, convert.booking_ask(request))
        return pb.BookSceneResponse(booking=convert.booking_message(booking))

    async def ListBookings(
        self, request: pb.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBookingsResponse:
        who, _ = caller(context)
        bookings = await self._peak.list_bookings(who, request.scene_id)
        return pb.ListBookingsResponse(bookings=[convert.booking_message(b) for b in bookings])

    async def CancelBooking(
        self, request: pb.CancelBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelBookingResponse:
        who, _ = caller(context)
        if not request.scene_id or not request.booking_id:
            raise errors.InvalidArgument("scene_id and booking_id are required; ListBookings names them")
        await self._peak.cancel_booking(who, request.scene_id, request.booking_id)
        return pb.CancelBookingResponse()

    async def RegisterProject(
        self, request: pb.RegisterProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterProjectResponse:
        who, _ = caller(context)
        project = await self._peak.register_project(who, convert.new_project(request, self._peak.clock()))
        return pb.RegisterProjectResponse(project=convert.project_message(project))

    async def GetProject(
        self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectResponse:
        who, _ = caller(context)
        project = await self._peak.get_project(who, request.project_id)
        return pb.GetProjectResponse(project=convert.project_message(project))

    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        who, _ = caller(context)
        projects = await self._peak.list_projects(who)
        return pb.ListProjectsResponse(projects=[convert.project_message(p) for p in projects])

    async def AddMilestone(
        self, request: pb.AddMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddMilestoneResponse:
        who, _ = caller(context)
        due = timestamp_ms("due", request.due) if request.HasField("due") else 0
        project = await self._peak.add_milestone(who, request.project_id, request.name, due)
        return pb.AddMilestoneResponse(project=convert.project_message(project))

    async def CompleteMilestone(
        self, request: pb.CompleteMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteMilestoneResponse:
        who, _ = caller(context)
        project = await self._peak.reach_milestone(who, request.project_id, request.name)
        return pb.CompleteMilestoneResponse(project=convert.project_message(project))

    async def CompleteProject(
        self, request: pb.CompleteProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteProjectResponse:
        who, creds = caller(context)
        project, decision = await self._peak.complete_project(
            who, creds, request.project_id, convert.result(request.result)
        )
        return pb.CompleteProjectResponse(project=convert.project_message(project), decision=decision)

    async def RecordContract(
        self, request: pb.RecordContractRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordContractResponse:
        who, creds = caller(context)
        project, decision = await self._peak.record_contract(
            who,
            creds,
            request.project_id,
            request.contract_id,
            request.amount_fen,
            request.client,
            request.place,
        )
        return pb.RecordContractResponse(project=convert.project_message(project), decision=decision)

    async def ListAwards(
        self, request: pb.ListAwardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAwardsResponse:
        who, creds = caller(context)
        decisions = await self._peak.list_awards(who, creds, request.project_id)
        return pb.ListAwardsResponse(decisions=decisions, total_fen=sum(d.amount_fen for d in decisions))

    async def QueryData(
        self, request: pb.QueryDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryDataResponse:
        who, creds = caller(context)
        if not request.HasField("query"):
            raise errors.InvalidArgument("query is required (see ExchangeService.Query)")
        return pb.QueryDataResponse(result=await self._peak.query(who, creds, request.query))

    async def ExportReadings(
        self, request: pb.ExportReadingsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportReadingsResponse]:
        who, creds = caller(context)
        async for chunk in self._peak.export(who, creds, request.request, context.time_remaining()):
            yield pb.ExportReadingsResponse(chunk=chunk)

    async def _share(self, context: grpc.aio.ServicerContext, rpc: str, request: Message) -> Any:
        who, creds = caller(context)
        return await self._peak.share(who, creds, rpc, request)

    async def PublishDataset(
        self, request: pb.PublishDatasetRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishDatasetResponse:
        return pb.PublishDatasetResponse(result=await self._share(context, "PublishDataset", request.request))

    async def ListDatasets(
        self, request: pb.ListDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDatasetsResponse:
        return pb.ListDatasetsResponse(result=await self._share(context, "ListDatasets", request.request))

    async def RequestAccess(
        self, request: pb.RequestAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestAccessResponse:
        return pb.RequestAccessResponse(result=await self._share(context, "RequestAccess", request.request))

    async def GrantAccess(
        self, request: pb.GrantAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.GrantAccessResponse:
        return pb.GrantAccessResponse(result=await self._share(context, "GrantAccess", request.request))

    async def DenyAccess(
        self, request: pb.DenyAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.DenyAccessResponse:
        return pb.DenyAccessResponse(result=await self._share(context, "DenyAccess", request.request))

    async def RevokeGrant(
        self, request: pb.RevokeGrantRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeGrantResponse:
        return pb.RevokeGrantResponse(result=await self._share(context, "RevokeGrant", request.request))

    async def ListGrants(
        self, request: pb.ListGrantsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListGrantsResponse:
        return pb.ListGrantsResponse(result=await self._share(context, "ListGrants", request.request))

    async def ListKernels(
        self, request: pb.ListKernelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKernelsResponse:
        who, creds = caller(context)
        return pb.ListKernelsResponse(kernels=await self._peak.list_kernels(who, creds))

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitJobResponse:
        who, creds = caller(context)
        if not request.HasField("job"):
            raise errors.InvalidArgument("job is required (see ComputeService.SubmitJob)")
        return pb.SubmitJobResponse(job=await self._peak.submit_job(who, creds, request.job))

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.GetJobResponse:
        who, creds = caller(context)
        if not request.job_id:
            raise errors.InvalidArgument("job_id is required")
        return pb.GetJobResponse(job=await self._peak.get_job(who, creds, request.job_id))

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelJobResponse:
        who, creds = caller(context)
        if not request.job_id:
            raise errors.InvalidArgument("job_id is required")
        return pb.CancelJobResponse(job=await self._peak.cancel_job(who, creds, request.job_id))

    async def ListIncidents(
        self, request: pb.ListIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIncidentsResponse:
        who, creds = caller(context)
        found = await self._peak.list_incidents(
            who, creds, list(request.states), list(request.types), request.limit
        )
        return pb.ListIncidentsResponse(incidents=found.incidents, truncated=found.truncated)

    async def AcknowledgeIncident(
        self, request: pb.AcknowledgeIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcknowledgeIncidentResponse:
        who, creds = caller(context)
        incident = await self._peak.acknowledge_incident(who, creds, request.incident_id)
        return pb.AcknowledgeIncidentResponse(incident=incident)

    async def ResolveIncident(
        self, request: pb.ResolveIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveIncidentResponse:
        who, creds = caller(context)
        incident = await self._peak.resolve_incident(who, creds, request.incident_id, request.resolution)
        return pb.ResolveIncidentResponse(incident=incident)
