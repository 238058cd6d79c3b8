"""The simulator against the real collection service: every reading and detection it generates is valid."""

from __future__ import annotations

import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.collection.app import App, Settings
from citymesh.runtime import auth
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.simulator import run_simulation
from tests.tokens import PUBLIC, SERVICE_TOKEN, set_tenant, token


@pytest.mark.integration
async def test_the_simulated_city_is_accepted_by_collection_without_a_rejection(
    nats_server: NatsServer,
) -> None:
    settings = Settings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_public_key=PUBLIC)
    async with running(App(settings), settings) as srv:
        target = f"127.0.0.1:{srv.port}"
        stats = await run_simulation(target, rate=200, seconds=2.0, token=SERVICE_TOKEN)
        again = await run_simulation(target, rate=1, seconds=0, token=SERVICE_TOKEN)
        async with auth.channel(target, SERVICE_TOKEN) as channel:
            counters = await pb_grpc.CollectionServiceStub(channel).GetIngestStats(pb.GetIngestStatsRequest())
    assert stats.registered == again.registered == counters.devices == 2515
    assert stats.registration_conflicts == again.registration_conflicts == 0
    assert stats.readings_rejected == 0, stats.rejections
    assert stats.readings_accepted == stats.readings_sent == counters.readings_accepted > 0
    assert stats.batches_failed == stats.unconfirmed_batches == 0
    # The cameras' detections too (about 22 in the 400 simulated seconds at 0.1 per camera-hour).
    assert stats.detections_accepted == stats.detections_sent > 0
    assert stats.detections_rejected == stats.detection_batches_failed == 0


@pytest.mark.integration
async def test_without_the_service_token_the_simulator_is_refused_and_says_why(
    nats_server: NatsServer,
) -> None:
    settings = Settings(nats_url=nats_server.url, listen="127.0.0.1:0", auth_public_key=PUBLIC)
    async with running(App(settings), settings) as srv:
        target = f"127.0.0.1:{srv.port}"
        anonymous = await run_simulation(target, rate=1, seconds=0)
        assert anonymous.registered == 0
        assert anonymous.registration_failures == 2515
        assert "UNAUTHENTICATED" in anonymous.last_error
        # A tenant's token registers only inside its own sub-district: the rest is refused.
        await set_tenant(nats_server.url, "alibaba-cloud", "gouzhao")
        tenant = await run_simulation(target, rate=1, seconds=0, token=token("alibaba-cloud", "gouzhao"))
        assert 0 < tenant.registered < 2515
        assert "PERMISSION_DENIED" in tenant.last_error
