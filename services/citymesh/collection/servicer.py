"""CollectionService over gRPC: transport only. Ingest RPCs take the raw request bytes, so a
batch that passes validation is forwarded to JetStream without being encoded again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.collection import convert
from citymesh.collection.domain import Device, Taken, new_device
from citymesh.collection.ingest import Ingestor, writer_of
from citymesh.collection.registry import Registry, now_ms
from citymesh.collection.reporting import DetectionReporter
from citymesh.convert import district_from_proto
from citymesh.runtime.access import Access
from citymesh.runtime.auth import Identity, caller
from citymesh.runtime.errors import CitymeshError, InvalidArgument, Unavailable

log = logging.getLogger("citymesh.collection")

SERVICE = "citymesh.collection.v1.CollectionService"


def who(context: grpc.aio.ServicerContext) -> Identity:
    return caller(context.invocation_metadata())


class CollectionServicer(collection_pb2_grpc.CollectionServiceServicer):
    """A tenant registers devices inside its own sub-district, owned by itself; it sees, removes
    and feeds the devices of its district and its own. Another tenant's device answers NOT_FOUND,
    as a missing one does, and the attempt is audited. The platform (zone administrator, the
    simulator's `service` token) acts on every device."""

    def __init__(
        self,
        registry: Registry,
        ingestor: Ingestor,
        window: int,
        access: Access,
        reporter: DetectionReporter,
    ) -> None:
        self.registry = registry
        self.ingestor = ingestor
        self.reporter = reporter
        self.window = window
        self.access = access

    async def RegisterDevice(
        self, request: pb.RegisterDeviceRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterDeviceResponse:
        me = who(context)
        d = request.device
        if not d.HasField("position"):
            raise InvalidArgument("device.position is required (WGS84 longitude and latitude)")
        owner = d.owner_tenant
        if not me.is_platform:
            if owner and owner != me.tenant:
                await self.access.deny(
                    me,
                    "RegisterDevice",
                    f"device {d.device_id}",
                    f"tenant {me.tenant} may register devices only for itself, not for {owner}; "
                    "leave owner_tenant empty",
                )
            owner = me.tenant
        device = new_device(
            d.device_id,
            convert.kind_of_request(d.kind),
            d.position.longitude,
            d.position.latitude,
            owner,
            now_ms(),
        )
        await self.access.require_district(
            me, device.district, "RegisterDevice", f"device {device.device_id}"
        )
        try:
            registered = await self.registry.register(device, writer_of(me))
        except Taken:
            reason = f"device id {device.device_id} is another tenant's device"
            await self.access.record(me, "RegisterDevice", f"device {device.device_id}", False, reason)
            raise
        return pb.RegisterDeviceResponse(device=convert.device_to_proto(registered))

    async def _visible(self, me: Identity, action: str, device_id: str) -> Device:
        """The device, if `me` may see it; NotFound (audited) for another tenant's, as for a missing one."""
        device = self.registry.get(device_id)
        writer = writer_of(me)
        if writer is not None and not writer.may_use(device):
            await self.access.deny(
                me,
                action,
                f"device {device_id}",
                f"device {device_id} is in district {device.district} and owned by another tenant",
                hide=True,
            )
        return device

    async def GetDevice(
        self, request: pb.GetDeviceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDeviceResponse:
        device = await self._visible(who(context), "GetDevice", request.device_id)
        return pb.GetDeviceResponse(device=convert.device_to_proto(device))

    async def ListDevices(
        self, request: pb.ListDevicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDevicesResponse:
        me = who(context)
        size = request.page_size or 100
        if size > 1000:
            raise InvalidArgument(f"page_size {size} is over the maximum of 1000")
        try:
            district = district_from_proto(request.district)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
        kind = convert.kind_of_request(request.kind)
        writer = writer_of(me)
        # Another district's devices are not listed, but for those the tenant owns there.
        other_district = writer is not None and district is not None and district != writer.district
        if other_district and district is not None and request.owner_tenant != me.tenant:
            await self.access.require_district(me, district, "ListDevices", f"district {district}")
        page, token = self.registry.list(
            request.page_token,
            size,
            district,
            kind,
            request.owner_tenant,
            None if writer is None else writer.may_use,
        )
        return pb.ListDevicesResponse(
            devices=[convert.device_to_proto(d) for d in page], next_page_token=token
        )

    async def DeregisterDevice(
        self, request: pb.DeregisterDeviceRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeregisterDeviceResponse:
        me = who(context)
        await self._visible(me, "DeregisterDevice", request.device_id)
        await self.registry.deregister(request.device_id)
        return pb.DeregisterDeviceResponse()

    async def Ingest(self, request: bytes, context: grpc.aio.ServicerContext) -> pb.IngestResponse:  # type: ignore[override]
        return pb.IngestResponse(ack=await self.ingestor.ingest(request, who(context)))

    async def StreamReadings(  # type: ignore[override]
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamReadingsResponse]:
        """Up to `window` batches of one stream are in flight at once; acks go back as they land.
        No task per batch: each batch's ack is queued by a callback on its JetStream future."""
        me = who(context)
        acks: asyncio.Queue[pb.BatchAck | None] = asyncio.Queue()
        window = asyncio.Semaphore(self.window)

        def deliver(ack: pb.BatchAck) -> None:
            acks.put_nowait(ack)
            window.release()

        def on_stored(raw: bytes) -> Callable[[asyncio.Future[pb.BatchAck]], None]:
            def done(future: asyncio.Future[pb.BatchAck]) -> None:
                if future.cancelled():
                    deliver(self._error_ack(raw, Unavailable("the batch was not stored: cancelled")))
                elif (exc := future.exception()) is not None:
                    deliver(self._error_ack(raw, exc))
                else:
                    deliver(future.result())

            return done

        async def read() -> None:
            try:
                async for raw in request_iterator:
                    await window.acquire()
                    try:
                        stored = await self.ingestor.submit(raw, me)
                    except Exception as exc:
                        if not isinstance(exc, CitymeshError):
                            log.exception("batch failed")
                        deliver(self._error_ack(raw, exc))
                        continue
                    stored.add_done_callback(on_stored(raw))
                for _ in range(self.window):  # every batch in flight has been answered
                    await window.acquire()
            finally:
                acks.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            while (ack := await acks.get()) is not None:
                yield pb.StreamReadingsResponse(ack=ack)
            await reader
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    @staticmethod
    def _error_ack(raw: bytes, exc: BaseException) -> pb.BatchAck:
        from citymesh.runtime.server import status_of

        if isinstance(exc, CitymeshError):
            code = status_of(exc).value[0]
        else:
            code = grpc.StatusCode.INTERNAL.value[0]
        batch_id = ""
        with contextlib.suppress(Exception):
            batch_id = pb.StreamReadingsRequest.FromString(raw).batch.batch_id
        return convert.ack_to_proto(batch_id, None, False, (code, str(exc)))

    async def ReportDetections(
        self, request: pb.ReportDetectionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReportDetectionsResponse:
        return await self.reporter.report(request, who(context))

    async def GetIngestStats(
        self, request: pb.GetIngestStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetIngestStatsResponse:
        s = self.ingestor.stats
        return pb.GetIngestStatsResponse(
            batches=s.batches,
            readings_accepted=s.accepted,
            readings_rejected=s.rejected,
            duplicate_batches=s.duplicates,
            batches_failed=s.failed,
            devices=len(self.registry.devices),
            detections_accepted=self.reporter.stats.accepted,
            detections_rejected=self.reporter.stats.rejected,
        )


def add_to_server(servicer: CollectionServicer, server: grpc.aio.Server) -> None:
    """Like the generated add_CollectionServiceServicer_to_server, but Ingest and StreamReadings
    receive the request bytes undecoded."""

    def unary(method: str, request: Any, response: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method),
            request_deserializer=request.FromString if request is not bytes else None,
            response_serializer=response.SerializeToString,
        )

    handlers = {
        "RegisterDevice": unary("RegisterDevice", pb.RegisterDeviceRequest, pb.RegisterDeviceResponse),
        "GetDevice": unary("GetDevice", pb.GetDeviceRequest, pb.GetDeviceResponse),
        "ListDevices": unary("ListDevices", pb.ListDevicesRequest, pb.ListDevicesResponse),
        "DeregisterDevice": unary(
            "DeregisterDevice", pb.DeregisterDeviceRequest, pb.DeregisterDeviceResponse
        ),
        "Ingest": unary("Ingest", bytes, pb.IngestResponse),
        "GetIngestStats": unary("GetIngestStats", pb.GetIngestStatsRequest, pb.GetIngestStatsResponse),
        "ReportDetections": unary(
            "ReportDetections", pb.ReportDetectionsRequest, pb.ReportDetectionsResponse
        ),
        "StreamReadings": grpc.stream_stream_rpc_method_handler(
            servicer.StreamReadings,
            request_deserializer=None,
            response_serializer=pb.StreamReadingsResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
