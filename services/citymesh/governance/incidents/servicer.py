"""IncidentService over gRPC: convert the request, call the pipeline as the caller, convert back.

The caller is `auth.caller(...)`: the verified token's identity, or the development headers. The
pipeline checks it against each incident's sub-district; domain errors are raised and the
runtime's interceptor maps them to status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.governance.incidents import convert
from citymesh.governance.incidents.pipeline import Pipeline
from citymesh.governance.incidents.units import UNITS
from citymesh.runtime import auth

SERVICE = pb.DESCRIPTOR.services_by_name["IncidentService"].full_name


def caller(context: grpc.aio.ServicerContext) -> auth.Identity:
    return auth.caller(context.invocation_metadata())


class IncidentServicer(incidents_pb2_grpc.IncidentServiceServicer):
    def __init__(self, pipeline: Pipeline) -> None:
        self._p = pipeline

    async def ListIncidents(
        self, request: pb.ListIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIncidentsResponse:
        found, truncated = await self._p.find(
            caller(context), convert.incident_filter(request.filter), request.limit
        )
        return pb.ListIncidentsResponse(
            incidents=[convert.incident_message(i) for i in found], truncated=truncated
        )

    async def GetIncident(
        self, request: pb.GetIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetIncidentResponse:
        incident = await self._p.get(caller(context), request.incident_id)
        return pb.GetIncidentResponse(incident=convert.incident_message(incident))

    async def WatchIncidents(
        self, request: pb.WatchIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        wanted = convert.incident_filter(request.filter)
        async for incident in self._p.watch(caller(context), wanted, request.include_current):
            yield pb.WatchIncidentsResponse(incident=convert.incident_message(incident))

    async def AcknowledgeIncident(
        self, request: pb.AcknowledgeIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcknowledgeIncidentResponse:
        incident = await self._p.acknowledge(caller(context), request.incident_id)
        return pb.AcknowledgeIncidentResponse(incident=convert.incident_message(incident))

    async def DispatchIncident(
        self, request: pb.DispatchIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DispatchIncidentResponse:
        incident = await self._p.dispatch(caller(context), request.incident_id, request.unit_id)
        return pb.DispatchIncidentResponse(incident=convert.incident_message(incident))

    async def ResolveIncident(
        self, request: pb.ResolveIncidentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveIncidentResponse:
        incident = await self._p.resolve(caller(context), request.incident_id, request.resolution)
        return pb.ResolveIncidentResponse(incident=convert.incident_message(incident))

    async def ListIncidentRules(
        self, request: pb.ListIncidentRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIncidentRulesResponse:
        await self._p.identified(caller(context), "rules")
        return convert.rules_message(self._p.rules)

    async def ListResponderUnits(
        self, request: pb.ListResponderUnitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListResponderUnitsResponse:
        await self._p.identified(caller(context), "units")
        return pb.ListResponderUnitsResponse(units=[convert.unit_message(u) for u in UNITS.values()])

    async def GetIncidentStats(
        self, request: pb.GetIncidentStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetIncidentStatsResponse:
        wanted = convert.districts("districts", request.districts)
        found = await self._p.stats(caller(context), wanted)
        return pb.GetIncidentStatsResponse(districts=[convert.stats_message(s) for s in found])


def add_to_server(pipeline: Pipeline, server: grpc.aio.Server) -> None:
    incidents_pb2_grpc.add_IncidentServiceServicer_to_server(IncidentServicer(pipeline), server)
