"""A real compute API (with workers in process, or none) on a free port, against the test's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import numpy as np
import pytest

from citymesh.api.compute.v1 import compute_pb2 as pb
from citymesh.api.compute.v1 import compute_pb2_grpc
from citymesh.compute.app import App, Settings
from citymesh.compute.convert import array_message
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.polling import eventually

T = TypeVar("T")


@dataclass
class Compute:
    stub: compute_pb2_grpc.ComputeServiceStub
    app: App
    settings: Settings
    port: int

    def as_tenant(self, tenant: str, district: str = "") -> Tenant:
        return Tenant(self.stub, tenant, district)


@dataclass
class Tenant:
    """The API as one tenant calls it (the development x-citymesh-* headers on every call)."""

    stub: compute_pb2_grpc.ComputeServiceStub
    tenant: str
    district: str = ""

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        named = (("x-citymesh-tenant", self.tenant),)
        return (*named, ("x-citymesh-district", self.district)) if self.district else named

    async def submit(
        self, kernel: str, arrays: dict[str, Any], params: Mapping[str, float] | None = None, **kw: Any
    ) -> pb.Job:
        request = pb.SubmitJobRequest(
            kernel=kernel,
            params=params or {},
            inline=pb.InlineInput(arrays=[array_message(k, np.asarray(v)) for k, v in arrays.items()]),
            **kw,
        )
        response: pb.SubmitJobResponse = await self.stub.SubmitJob(request, metadata=self.md, timeout=30)
        return response.job

    async def get(self, job_id: str) -> pb.Job:
        response: pb.GetJobResponse = await self.stub.GetJob(
            pb.GetJobRequest(job_id=job_id), metadata=self.md, timeout=10
        )
        return response.job

    async def cancel(self, job_id: str) -> pb.Job:
        response: pb.CancelJobResponse = await self.stub.CancelJob(
            pb.CancelJobRequest(job_id=job_id), metadata=self.md, timeout=10
        )
        return response.job

    async def result(self, job_id: str, output: str = "") -> tuple[pb.Output, bytes]:
        header = None
        data = bytearray()
        async for part in self.stub.GetResult(
            pb.GetResultRequest(job_id=job_id, output=output), metadata=self.md, timeout=30
        ):
            if part.HasField("output"):
                header = part.output
            data += part.chunk
        assert header is not None
        return header, bytes(data)

    async def finished(self, job_id: str, timeout: float = 60.0) -> pb.Job:
        return await eventually(
            lambda: self.get(job_id), lambda j: j.state in FINAL, timeout, f"job {job_id} final"
        )


FINAL = (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED)

StartCompute = Callable[..., AbstractAsyncContextManager[Compute]]


@pytest.fixture
def start_compute(nats_server: NatsServer) -> StartCompute:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Compute]:
        values: dict[str, Any] = {
            "nats_url": nats_server.url,
            "listen": "127.0.0.1:0",
            "grace_s": 0.5,
            "workers": 1,
            "ack_wait_s": 3.0,
            "poll_s": 0.05,
            "auth_dev_headers": True,  # tenants named by header; tests/isolation uses real tokens
        }
        settings = Settings(**(values | overrides))
        app = App(settings)
        async with running(app, settings) as srv:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}")
            try:
                yield Compute(compute_pb2_grpc.ComputeServiceStub(channel), app, settings, srv.port)
            finally:
                await channel.close()

    return start


@pytest.fixture
async def compute(start_compute: StartCompute) -> AsyncIterator[Compute]:
    async with start_compute() as c:
        yield c
