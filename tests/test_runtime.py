"""The shared runtime: health, reflection, error mapping, JSON logs, settings, graceful stop."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace

from citymesh.runtime import errors
from citymesh.runtime.bus import Bus
from citymesh.runtime.logs import JsonFormatter
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.runtime.settings import ServiceSettings
from citymesh.runtime.telemetry import setup_telemetry
from tests.conftest import free_port

SERVICE = "citymesh.test.v1.EchoService"


class Echo:
    """A minimal App whose one method raises what its request names."""

    name = "echo"
    service_names = [SERVICE]  # noqa: RUF012
    resources: list[str] = []  # noqa: RUF012

    async def start(self, bus: Bus) -> None:
        self.bus = bus

    def register(self, server: grpc.aio.Server) -> None:
        async def fail(request: bytes, context: Any) -> bytes:
            if request == b"not-found":
                raise errors.NotFound("device x is not registered")
            if request == b"bug":
                raise RuntimeError("boom")
            return request

        handler = grpc.unary_unary_rpc_method_handler(fail)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),))

    async def stop(self) -> None:
        pass


@pytest.fixture
async def echo(nats_server: NatsServer) -> AsyncIterator[grpc.aio.Channel]:
    settings = ServiceSettings(nats_url=nats_server.url, listen="127.0.0.1:0")
    async with (
        running(Echo(), settings) as srv,
        grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel,
    ):
        yield channel


async def test_a_service_reports_serving_and_lists_itself_by_reflection(echo: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(echo)
    for name in ["", SERVICE]:
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    stub = reflection_pb2_grpc.ServerReflectionStub(echo)
    async for reply in stub.ServerReflectionInfo(ask()):
        names = {s.name for s in reply.list_services_response.service}
        assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_domain_errors_map_to_their_status_and_bugs_to_internal(echo: grpc.aio.Channel) -> None:
    call = echo.unary_unary(f"/{SERVICE}/Echo")
    assert await call(b"hello") == b"hello"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(b"not-found")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details() == "device x is not registered"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(b"bug")
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "trace id" in (err.value.details() or "")
    assert "boom" not in (err.value.details() or "")


def test_log_lines_are_json_with_the_trace_id_of_the_current_span() -> None:
    setup_telemetry("test")
    formatter = JsonFormatter("test")
    record = logging.LogRecord("citymesh.x", logging.INFO, __file__, 1, "stored %d rows", (5,), None)
    record.batch_id = "b-1"
    with trace.get_tracer("t").start_as_current_span("work") as span:
        line = json.loads(formatter.format(record))
    assert line["message"] == "stored 5 rows"
    assert line["batch_id"] == "b-1"
    assert line["service"] == "test"
    assert (
        line["trace_id"] == format(span.get_span_context().trace_id, "032x") or line["trace_id"] != "0" * 32
    )


def test_settings_fail_fast_without_the_nats_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYMESH_NATS_URL", raising=False)
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="nats_url"):
        ServiceSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("CITYMESH_NATS_URL", "nats://x:1")
    monkeypatch.setenv("CITYMESH_GRACE_S", "-1")
    with pytest.raises(ValidationError, match="grace_s"):
        ServiceSettings()  # type: ignore[call-arg]


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYMESH_")}
    env.update(values)
    return env


def test_a_service_without_its_settings_exits_naming_the_missing_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "citymesh", "serve", "collection"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CITYMESH_NATS_URL" in done.stderr


def test_a_service_stops_gracefully_on_sigterm(nats_server: NatsServer) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "citymesh", "serve", "collection"],
        env=_env(CITYMESH_NATS_URL=nats_server.url, CITYMESH_LISTEN=f"127.0.0.1:{port}"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=30
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert time.monotonic() - started < 15
    messages = [json.loads(line)["message"] for line in stderr.splitlines() if line.startswith("{")]
    assert messages[-2:] == ["stopping on signal", "stopped"]
