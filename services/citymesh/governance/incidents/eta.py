"""ETAs of responder units: compute's `route` kernel over the road model, through ComputeService's
public gRPC API, when governance has a compute address; a straight-line estimate otherwise, and
whenever compute does not answer within the timeout (the dispatch must not wait on it).

The route job runs as governance's own identity: `settings.token` (a `service` token) when
authentication is on, else the development headers naming the zone's platform service.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Protocol

import grpc
import numpy as np

from citymesh.api.compute.v1 import compute_pb2, compute_pb2_grpc
from citymesh.governance.incidents.model import Eta
from citymesh.governance.incidents.units import Unit, road_model, straight_line_s
from citymesh.runtime import auth

log = logging.getLogger("citymesh.governance.incidents.eta")

ROUTE = "route"
STRAIGHT_LINE = "straight-line"
FINAL = (compute_pb2.JOB_STATE_SUCCEEDED, compute_pb2.JOB_STATE_FAILED, compute_pb2.JOB_STATE_CANCELLED)


class Estimator(Protocol):
    async def eta(self, unit: Unit, lon: float, lat: float) -> Eta: ...


class StraightLine:
    """The great-circle distance at the documented speed."""

    async def eta(self, unit: Unit, lon: float, lat: float) -> Eta:
        return Eta(straight_line_s(unit, lon, lat), STRAIGHT_LINE)


class ComputeRoute:
    """compute's `route` kernel over the zone's street grid; straight line when it cannot answer."""

    def __init__(self, address: str, token: str = "", timeout_s: float = 10.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._metadata = auth.bearer(token) or (
            (auth.TENANT_HEADER, auth.ZONE_TENANT),
            (auth.ROLES_HEADER, auth.SERVICE),
        )
        self._channel: grpc.aio.Channel | None = None
        self._fallback = StraightLine()

    async def eta(self, unit: Unit, lon: float, lat: float) -> Eta:
        try:
            seconds = await asyncio.wait_for(self._route(unit, lon, lat), self.timeout_s)
        except TimeoutError:
            why = f"compute did not answer within {self.timeout_s:g} s"
        except grpc.aio.AioRpcError as exc:
            why = f"compute: {exc.code().name}: {exc.details()}"
        except RouteFailed as exc:
            why = str(exc)
        else:
            return Eta(seconds, ROUTE)
        log.warning("route ETA unavailable; straight line instead", extra={"reason": why})
        straight = await self._fallback.eta(unit, lon, lat)
        return Eta(straight.seconds, f"{STRAIGHT_LINE} ({why})")

    async def _route(self, unit: Unit, lon: float, lat: float) -> float:
        roads = road_model()
        start, start_s = roads.nearest(unit.lon, unit.lat)
        end, end_s = roads.nearest(lon, lat)
        arrays = {
            "edge_from": roads.edge_from,
            "edge_to": roads.edge_to,
            "edge_time_s": roads.edge_time_s,
            "responders": np.array([start], np.int64),
            "targets": np.array([end], np.int64),
        }
        request = compute_pb2.SubmitJobRequest(
            kernel=ROUTE,
            params={"nodes": float(roads.nodes)},
            inline=compute_pb2.InlineInput(arrays=[_array(k, v) for k, v in arrays.items()]),
            priority=compute_pb2.PRIORITY_HIGH,
        )
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        stub = compute_pb2_grpc.ComputeServiceStub(self._channel)
        job = (await stub.SubmitJob(request, metadata=self._metadata)).job
        async for update in stub.WatchJob(
            compute_pb2.WatchJobRequest(job_id=job.job_id), metadata=self._metadata
        ):
            job = update.job
            if job.state in FINAL:
                break
        if job.state != compute_pb2.JOB_STATE_SUCCEEDED:
            raise RouteFailed(
                f"route job {job.job_id} ended {compute_pb2.JobState.Name(job.state)}: {job.error}"
            )
        data = bytearray()
        async for part in stub.GetResult(
            compute_pb2.GetResultRequest(job_id=job.job_id, output="time_s"), metadata=self._metadata
        ):
            data += part.chunk
        time_s = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
        seconds = float(time_s[0, 0])
        if not np.isfinite(seconds):
            raise RouteFailed("the road model has no path from the unit to the incident")
        return start_s + seconds + end_s

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


class RouteFailed(Exception):
    """The route job did not give a travel time."""


def _array(name: str, values: np.ndarray) -> compute_pb2.Array:  # type: ignore[type-arg]
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return compute_pb2.Array(name=name, npy=buffer.getvalue())
