"""ComputeService over gRPC: convert the request, call the service, convert the answer.

The tenant is the verified caller's (its token's subject; in development, the x-citymesh-tenant
header). Domain errors are raised, not aborted: the runtime's interceptor maps them to status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.api.compute.v1 import compute_pb2_grpc
from citymesh.compute import convert
from citymesh.compute.domain import tenant_from
from citymesh.compute.exchange_input import ExchangeInputs
from citymesh.compute.kernels import KERNELS
from citymesh.compute.service import ComputeService
from citymesh.runtime import auth
from citymesh.runtime.errors import InvalidArgument

SERVICE = pb.DESCRIPTOR.services_by_name["ComputeService"].full_name


def caller_of(context: grpc.aio.ServicerContext) -> auth.Identity:
    """The caller, whose tenant must be a valid tenant name."""
    who = auth.caller(context.invocation_metadata())
    tenant_from(who.tenant or None)
    return who


class ComputeServicer(compute_pb2_grpc.ComputeServiceServicer):
    def __init__(self, service: ComputeService, exchange: ExchangeInputs, chunk_bytes: int) -> None:
        self._service = service
        self._exchange = exchange
        self._chunk = chunk_bytes

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitJobResponse:
        who = caller_of(context)
        if not request.kernel:
            raise InvalidArgument(f"kernel is empty; one of {sorted(KERNELS)}")
        source = request.WhichOneof("input")
        if source == "exchange":
            on_behalf = auth.forwarded(context.invocation_metadata())
            arrays = await self._exchange.arrays(on_behalf, request.kernel, request.exchange)
        else:
            arrays = convert.inline_arrays(request.inline)
        job = await self._service.submit(
            who.tenant, request.kernel, dict(request.params), arrays, convert.priority(request.priority)
        )
        return pb.SubmitJobResponse(job=convert.job_message(job))

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.GetJobResponse:
        job = await self._service.get(caller_of(context), request.job_id)
        return pb.GetJobResponse(job=convert.job_message(job))

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchJobResponse]:
        async for job in self._service.watch(caller_of(context), request.job_id):
            yield pb.WatchJobResponse(job=convert.job_message(job))

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelJobResponse:
        job = await self._service.cancel(caller_of(context), request.job_id)
        return pb.CancelJobResponse(job=convert.job_message(job))

    async def ListKernels(
        self, request: pb.ListKernelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKernelsResponse:
        return pb.ListKernelsResponse(kernels=[convert.kernel_message(k) for k in KERNELS.values()])

    async def GetResult(
        self, request: pb.GetResultRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GetResultResponse]:
        info, data = await self._service.result(caller_of(context), request.job_id, request.output)
        if not data:
            yield pb.GetResultResponse(output=convert.output_message(info))
            return
        for start in range(0, len(data), self._chunk):
            chunk = data[start : start + self._chunk]
            if start == 0:
                yield pb.GetResultResponse(output=convert.output_message(info), chunk=chunk)
            else:
                yield pb.GetResultResponse(chunk=chunk)


def add_to_server(servicer: ComputeServicer, server: grpc.aio.Server) -> None:
    compute_pb2_grpc.add_ComputeServiceServicer_to_server(servicer, server)
