"""The platform services a peak calls, through their public gRPC APIs (never their insides).

Each call carries the credentials it is given (the caller's, forwarded; or the peak's own) and
the current trace context. A refusal or failure of the service comes back as the domain error of
the same status code, its message prefixed with the service's name, so the peak's caller sees
what the service said (a compute quota is RESOURCE_EXHAUSTED through the peak as well).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import grpc

from citymesh.api.collection.v1 import collection_pb2_grpc
from citymesh.api.compute.v1 import compute_pb2_grpc
from citymesh.api.exchange.v1 import exchange_pb2_grpc
from citymesh.api.governance.v1 import governance_pb2_grpc, incidents_pb2_grpc
from citymesh.runtime import errors
from citymesh.runtime.telemetry import inject

Metadata = Sequence[tuple[str, str]]

STUBS: dict[str, tuple[str, Callable[[grpc.aio.Channel], Any]]] = {
    "collection": ("collection", collection_pb2_grpc.CollectionServiceStub),
    "exchange": ("exchange", exchange_pb2_grpc.ExchangeServiceStub),
    "compute": ("compute", compute_pb2_grpc.ComputeServiceStub),
    "governance": ("governance", governance_pb2_grpc.GovernanceServiceStub),
    "incidents": ("governance", incidents_pb2_grpc.IncidentServiceStub),
}
"""Each API a peak calls: the service serving it (whose address and name it goes by), its stub."""

ERROR_OF: dict[grpc.StatusCode, type[errors.CitymeshError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
}
"""What a service's status code becomes; any other (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...)
is Unavailable: the peak could not get an answer, and a retry may."""


def error_of(service: str, exc: grpc.aio.AioRpcError) -> errors.CitymeshError:
    cls = ERROR_OF.get(exc.code(), errors.Unavailable)
    if cls is errors.Unavailable:
        return errors.Unavailable(f"{service} did not answer ({exc.code().name}): {exc.details()}")
    return cls(f"{service}: {exc.details()}")


@contextlib.contextmanager
def answering(service: str) -> Iterator[None]:
    """Turn a failed call to `service` into the matching domain error."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise error_of(service, exc) from exc


def metadata(credentials: Metadata) -> tuple[tuple[str, str], ...]:
    """The credentials plus the current trace context, as call metadata."""
    return (*credentials, *inject({}).items())


class Upstreams:
    """Channels to the platform services, opened on first use."""

    def __init__(
        self,
        collection: str,
        exchange: str,
        compute: str,
        governance: str,
        timeout_s: float,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        """`max_message_bytes`: the largest answer accepted (an exported record batch)."""
        self.addresses = {
            "collection": collection,
            "exchange": exchange,
            "compute": compute,
            "governance": governance,
        }
        self.timeout_s = timeout_s
        self.max_message_bytes = max_message_bytes
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            address = self.addresses[service]
            if not address:
                raise errors.FailedPrecondition(
                    f"this peak has no {service} address: set CITYMESH_{service.upper()}_ADDRESS"
                )
            self._channels[service] = grpc.aio.insecure_channel(
                address, options=[("grpc.max_receive_message_length", self.max_message_bytes)]
            )
        return self._channels[service]

    async def call(self, api: str, rpc: str, request: Any, credentials: Metadata) -> Any:
        """`api`.`rpc`(request) with these credentials and the trace context; its failure as the
        domain error of its status code."""
        service, stub = STUBS[api]
        method = getattr(stub(self.channel(service)), rpc)
        with answering(service):
            return await method(request, metadata=metadata(credentials), timeout=self.timeout_s)

    async def stream(
        self, api: str, rpc: str, request: Any, credentials: Metadata, timeout_s: float | None
    ) -> AsyncIterator[Any]:
        """The messages of the server stream `api`.`rpc`(request), as `call` makes it; `timeout_s`
        bounds the whole stream (None: no deadline). Leaving early cancels the call."""
        service, stub = STUBS[api]
        call = getattr(stub(self.channel(service)), rpc)(
            request, metadata=metadata(credentials), timeout=timeout_s
        )
        try:
            with answering(service):
                async for message in call:
                    yield message
        finally:
            call.cancel()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
