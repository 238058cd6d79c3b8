"""The gRPC server bootstrap every service uses.

A service is an App: it starts on the NATS bus, registers its servicers, and stops. `serve` runs
one with health checking, reflection, message-size limits, tracing, error mapping and a
graceful stop on SIGTERM: health NOT_SERVING → server.stop(grace) → app.stop() → nc.drain() →
flush telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from citymesh.runtime import auth, errors
from citymesh.runtime.bus import TENANTS_BUCKET, Bus
from citymesh.runtime.logs import configure_logging
from citymesh.runtime.settings import ServiceSettings
from citymesh.runtime.telemetry import extract, setup_telemetry

log = logging.getLogger("citymesh.server")

STATUS_OF: dict[type[errors.CitymeshError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
}


def status_of(exc: errors.CitymeshError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return grpc.StatusCode.UNKNOWN


class App(Protocol):
    """A citymesh service: what `serve` runs."""

    @property
    def name(self) -> str:
        """Short name, e.g. "collection"; used in logs and traces."""

    @property
    def service_names(self) -> list[str]:
        """Full gRPC service names it serves, for health and reflection."""

    @property
    def resources(self) -> list[str]:
        """The streams and buckets it uses (runtime.bus names): declared at start, and the only
        ones its NATS user needs rights on."""

    async def start(self, bus: Bus) -> None: ...
    def register(self, server: grpc.aio.Server) -> None: ...
    async def stop(self) -> None: ...

    # An App may also define `async def draining(self)`: called once health reports NOT_SERVING
    # and before the server's grace period, to end long-lived streams promptly.


@dataclass(frozen=True)
class _Malformed:
    """Stands for a request message that did not decode."""

    reason: str


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that returns _Malformed instead of raising, so the RPC answers
    INVALID_ARGUMENT (grpc would answer UNKNOWN)."""
    if deserializer is None:
        return None

    def decode(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception as exc:
            return _Malformed(str(exc))

    return decode


def _malformed(request: _Malformed) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"the request is not a valid protobuf message: {request.reason}")


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Malformed):
            raise _malformed(request)
        yield request


class _Interceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """One span per RPC (parented by the caller's traceparent) and domain errors mapped to status."""

    def __init__(self, service: str) -> None:
        self.tracer = trace.get_tracer(f"citymesh.{service}")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        method: str = details.method
        parent = extract(details.invocation_metadata or ())
        tracer = self.tracer

        def span_for(ctx: grpc.aio.ServicerContext) -> Any:
            return tracer.start_as_current_span(
                method.lstrip("/"),
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.method": method},
            )

        async def fail(ctx: grpc.aio.ServicerContext, exc: BaseException, span: trace.Span) -> None:
            if isinstance(exc, errors.CitymeshError):
                code = status_of(exc)
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                await ctx.abort(code, str(exc))
            trace_id = format(span.get_span_context().trace_id, "032x")
            span.set_status(Status(StatusCode.ERROR, repr(exc)))
            log.exception("unhandled error in %s", method)
            await ctx.abort(grpc.StatusCode.INTERNAL, f"internal error (a bug); trace id {trace_id}")

        def wrap_unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def run(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
                with span_for(ctx) as span:
                    try:
                        if isinstance(request, _Malformed):
                            raise _malformed(request)
                        if hasattr(request, "__aiter__"):  # a client stream
                            request = _checked(request)
                        return await behavior(request, ctx)
                    except (grpc.aio.AbortError, asyncio.CancelledError):
                        raise
                    except Exception as exc:
                        await fail(ctx, exc, span)

            return run

        def wrap_stream(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
            async def run(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with span_for(ctx) as span:
                    try:
                        if isinstance(request, _Malformed):
                            raise _malformed(request)
                        if hasattr(request, "__aiter__"):
                            request = _checked(request)
                        async for item in behavior(request, ctx):
                            yield item
                    except (grpc.aio.AbortError, asyncio.CancelledError):
                        raise
                    except Exception as exc:
                        await fail(ctx, exc, span)

            return run

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap_unary(handler.unary_unary),
                _tolerant(handler.request_deserializer),
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap_unary(handler.stream_unary),
                _tolerant(handler.request_deserializer),
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap_stream(handler.unary_stream),
                _tolerant(handler.request_deserializer),
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            wrap_stream(handler.stream_stream),
            _tolerant(handler.request_deserializer),
            handler.response_serializer,
        )


@dataclass
class Running:
    """A started service: its bound port, and what stops it."""

    port: int
    server: grpc.aio.Server
    health: health.aio.HealthServicer  # type: ignore[name-defined]


def check_auth(app: App, settings: ServiceSettings) -> None:
    """Authentication is on unless development headers are asked for: a service with an API and
    neither a public key nor CITYMESH_AUTH_DEV_HEADERS does not start. (A process that serves only
    health, like a compute worker, has nothing to protect.)"""
    if settings.auth_public_key:
        auth.load_public_key(settings.auth_public_key)  # a bad key stops the start, not the first call
        return
    if settings.auth_dev_headers or not app.service_names:
        return
    raise errors.FailedPrecondition(
        "authentication is on and CITYMESH_AUTH_PUBLIC_KEY is empty: set it to governance's public "
        "key (PEM; `citymesh token keys` makes a pair), or set CITYMESH_AUTH_DEV_HEADERS=true to "
        "trust the x-citymesh-* headers instead (development only)"
    )


@contextlib.asynccontextmanager
async def running(app: App, settings: ServiceSettings) -> AsyncIterator[Running]:
    """Start `app` and its gRPC server; on exit stop them in the graceful order."""
    check_auth(app, settings)
    telemetry = setup_telemetry(app.name)
    resources = list(app.resources)
    if settings.auth_public_key:
        resources.append(TENANTS_BUCKET)  # the token check reads tenants' status
    bus = await Bus.connect(settings, name=app.name, resources=resources)
    try:
        await app.start(bus)
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        interceptors: list[grpc.aio.ServerInterceptor] = [_Interceptor(app.name)]
        if settings.auth_public_key:
            status = auth.TenantStatus(await bus.kv(TENANTS_BUCKET), settings.auth_status_ttl_s)
            interceptors.append(
                auth.AuthInterceptor(auth.load_public_key(settings.auth_public_key), status.check)
            )
        else:
            interceptors.append(auth.HeadersInterceptor())
        server = grpc.aio.server(interceptors=interceptors, options=options)
        app.register(server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            [*app.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        port = server.add_insecure_port(settings.listen)
        if port == 0:
            raise errors.Unavailable(f"cannot listen on {settings.listen}")
        await server.start()
        for name in ["", *app.service_names]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"port": port, "services": app.service_names})
        try:
            yield Running(port, server, health_servicer)
        finally:
            await health_servicer.enter_graceful_shutdown()
            draining = getattr(app, "draining", None)
            if draining is not None:
                await draining()
            await server.stop(settings.grace_s)
            await app.stop()
            log.info("stopped")
    finally:
        await bus.close()
        telemetry.tracer_provider.force_flush()


async def serve(app: App, settings: ServiceSettings) -> None:
    """Run `app` until SIGTERM or SIGINT, then stop gracefully."""
    configure_logging(app.name, settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(app, settings):
            await stop.wait()
            log.info("stopping on signal")
    except errors.CitymeshError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(2) from exc
    setup_telemetry(app.name).shutdown()
