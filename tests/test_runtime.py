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

from citymesh.runtime import auth, errors
from citymesh.runtime.bus import Bus, kv_items
from citymesh.runtime.logs import JsonFormatter
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.runtime.settings import ServiceSettings
from citymesh.runtime.telemetry import setup_telemetry
from tests.conftest import free_port
from tests.polling import eventually

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
            if request == b"who":
                who = auth.caller(context.invocation_metadata())
                return f"{who.tenant}/{who.district}/{','.join(sorted(who.roles))}".encode()
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
    settings = ServiceSettings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_dev_headers=True)
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


async def test_without_a_public_key_a_service_does_not_start_unless_dev_headers_are_asked_for(
    nats_server: NatsServer,
) -> None:
    settings = ServiceSettings(nats_url=nats_server.url, listen="127.0.0.1:0")
    with pytest.raises(errors.FailedPrecondition, match="CITYMESH_AUTH_PUBLIC_KEY is empty"):
        async with running(Echo(), settings):
            pass
    bad_key = ServiceSettings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_public_key="nope")
    with pytest.raises(errors.InvalidArgument, match="not a PEM public key"):
        async with running(Echo(), bad_key):
            pass


async def test_with_dev_headers_the_caller_is_whoever_the_headers_name(echo: grpc.aio.Channel) -> None:
    call = echo.unary_unary(f"/{SERVICE}/Echo")
    named = (
        ("x-citymesh-tenant", "huawei"),
        ("x-citymesh-district", "fengyang"),
        ("x-citymesh-roles", "a,b"),
    )
    assert await call(b"who", metadata=named) == b"huawei/fengyang/a,b"
    assert await call(b"who") == b"//"


async def test_a_channel_presents_its_token_unless_a_call_forwards_its_own(nats_server: NatsServer) -> None:
    private, public = auth.new_key_pair()
    key = auth.load_private_key(private)
    settings = ServiceSettings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_public_key=public)

    def token(tenant: str, roles: frozenset[str]) -> str:
        return auth.sign(key, auth.Identity(tenant, "", roles), time.time() + 60)

    async with running(Echo(), settings) as srv:
        async with auth.channel(f"127.0.0.1:{srv.port}", token("zone", frozenset({"service"}))) as ch:
            call = ch.unary_unary(f"/{SERVICE}/Echo")
            assert await call(b"who") == b"zone//service"
            own = auth.bearer(token("zone", frozenset({"zone-admin"})))
            assert await call(b"who", metadata=own) == b"zone//zone-admin"
        async with auth.channel(f"127.0.0.1:{srv.port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await ch.unary_unary(f"/{SERVICE}/Echo")(b"who")
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


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


def test_a_service_without_a_public_key_exits_saying_how_to_start_it(nats_server: NatsServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "citymesh", "serve", "collection"],
        env=_env(CITYMESH_NATS_URL=nats_server.url, CITYMESH_LISTEN=f"127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CITYMESH_AUTH_PUBLIC_KEY is empty" in done.stderr
    assert "CITYMESH_AUTH_DEV_HEADERS=true" in done.stderr


def test_a_service_stops_gracefully_on_sigterm(nats_server: NatsServer) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "citymesh", "serve", "collection"],
        env=_env(
            CITYMESH_NATS_URL=nats_server.url,
            CITYMESH_LISTEN=f"127.0.0.1:{port}",
            CITYMESH_AUTH_DEV_HEADERS="true",
        ),
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


async def test_a_tenant_over_its_rate_is_refused_and_another_is_not() -> None:
    from citymesh.runtime.ratelimit import TenantLimits

    limits = TenantLimits(100, "readings")
    await limits.take("a", 60)
    await limits.take("a", 40)
    with pytest.raises(
        errors.ResourceExhausted, match="tenant a is over its limit of 100 readings per second"
    ):
        await limits.take("a", 10)
    await limits.take("b", 100)
    with pytest.raises(errors.ResourceExhausted, match="send smaller batches"):
        await limits.take("b", 101)
    await TenantLimits(0, "readings").take("a", 10**9)  # 0: no limit


async def test_a_held_refusal_comes_when_the_rate_would_let_the_call_through() -> None:
    import asyncio

    from citymesh.runtime.ratelimit import TenantLimits

    limits = TenantLimits(1000, "readings", hold_s=1.0, max_held=2)
    await limits.take("a", 1000)
    started = time.monotonic()
    with pytest.raises(errors.ResourceExhausted):
        await limits.take("a", 200)  # about 0.2 s of the rate
    assert 0.1 < time.monotonic() - started < 0.6
    # At most max_held refusals of one tenant wait; the next ones are answered at once.
    waiting = [asyncio.create_task(limits.take("a", 1000)) for _ in range(2)]
    await eventually(lambda: limits.held("a"), lambda n: n == 2, 5, "both refusals held")
    started = time.monotonic()
    with pytest.raises(errors.ResourceExhausted):
        await limits.take("a", 1000)
    assert time.monotonic() - started < 0.05
    await limits.take("b", 1000)  # another tenant is not held up
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, errors.ResourceExhausted) for r in results)
    assert limits.held("a") == 0


async def test_a_bucket_snapshot_has_every_live_key_and_nothing_deleted(nats_server: NatsServer) -> None:
    bus = await Bus.connect(ServiceSettings(nats_url=nats_server.url), name="test-snapshot", resources=[])
    try:
        kv = await bus.js.create_key_value(bucket="snapshot-test", history=1)
        assert await kv_items(kv) == {}
        for i in range(500):
            await kv.put(f"k{i}", str(i).encode())
        await kv.put("k7", b"seven")
        await kv.delete("k3")
        await kv.purge("k4")
        want = {f"k{i}": str(i).encode() for i in range(500) if i not in (3, 4)} | {"k7": b"seven"}
        for _ in range(20):  # the nats.py watcher race this guards against shows up only sometimes
            assert await kv_items(kv) == want
        await kv.delete("k499")  # the bucket's last message is a delete marker
        want.pop("k499")
        assert await kv_items(kv) == want
    finally:
        await bus.close()
