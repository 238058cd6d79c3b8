"""Dispatch ETAs from compute's `route` kernel (a real compute API with a worker, called through its
public gRPC API), and the straight-line estimate when compute cannot answer."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from citymesh.api.governance.v1 import incidents_pb2 as pb
from citymesh.api.governance.v1 import incidents_pb2_grpc
from citymesh.compute.app import App as ComputeApp
from citymesh.compute.app import Settings as ComputeSettings
from citymesh.compute.kernels.route import build
from citymesh.governance.incidents.eta import ComputeRoute
from citymesh.governance.incidents.units import UNITS, road_model, straight_line_s
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from tests.conftest import free_port
from tests.governance.conftest import governance
from tests.governance.incident_harness import GOUZHAO, PM25, headers, near, pipeline, trigger

pytestmark = pytest.mark.integration


def route_reference(unit_lon: float, unit_lat: float, lon: float, lat: float) -> float:
    """The same trip by the kernel's own NumPy/Python reference over the same road model."""
    roads = road_model()
    start, start_s = roads.nearest(unit_lon, unit_lat)
    end, end_s = roads.nearest(lon, lat)
    arrays = {
        "edge_from": roads.edge_from,
        "edge_to": roads.edge_to,
        "edge_time_s": roads.edge_time_s,
        "responders": np.array([start]),
        "targets": np.array([end]),
    }
    return start_s + float(build(arrays, {"nodes": roads.nodes}).reference()["time_s"][0, 0]) + end_s


async def test_a_dispatch_takes_its_eta_from_computes_route_kernel(nats_server: NatsServer) -> None:
    cs = ComputeSettings(
        nats_url=nats_server.url,
        listen="127.0.0.1:0",
        workers=1,
        poll_s=0.05,
        auth_dev_headers=True,
        grace_s=0.5,
    )
    async with (
        running(ComputeApp(cs), cs) as compute,
        governance(nats_server, compute_address=f"127.0.0.1:{compute.port}", compute_timeout_s=60) as g,
        grpc.aio.insecure_channel(f"127.0.0.1:{g.port}") as channel,
    ):
        assert g.app.incidents is not None
        far_corner = near(113.472, 34.838)
        incident, _ = await g.app.incidents.trigger(trigger(PM25, *far_corner))
        stub = incidents_pb2_grpc.IncidentServiceStub(channel)
        sent = (
            await stub.DispatchIncident(
                pb.DispatchIncidentRequest(incident_id=incident.id), metadata=headers(GOUZHAO)
            )
        ).incident
    unit = UNITS["gouzhao-environment"]
    assert sent.eta_source == "route"
    assert sent.eta_s == pytest.approx(route_reference(unit.lon, unit.lat, *far_corner), rel=1e-9)
    assert sent.eta_s != pytest.approx(straight_line_s(unit, *far_corner), rel=0.01)


async def test_without_an_answer_from_compute_the_eta_is_a_straight_line(nats_server: NatsServer) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    async with pipeline(nats_server, estimator=ComputeRoute(nobody, timeout_s=5)) as p:
        incident, _ = await p.trigger(trigger(PM25, 113.485, 34.790))
        sent = await p.dispatch(GOUZHAO, incident.id)
    unit = UNITS["gouzhao-environment"]
    assert sent.eta_source.startswith("straight-line (compute: UNAVAILABLE")
    assert sent.eta_s == pytest.approx(straight_line_s(unit, 113.485, 34.790))
