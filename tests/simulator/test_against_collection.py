"""The simulator against the real collection service: every reading it generates is valid."""

from __future__ import annotations

import grpc
import pytest

from citymesh.api.collection.v1 import collection_pb2 as pb
from citymesh.api.collection.v1 import collection_pb2_grpc as pb_grpc
from citymesh.collection.app import App, Settings
from citymesh.runtime.natsd import NatsServer
from citymesh.runtime.server import running
from citymesh.simulator import run_simulation


@pytest.mark.integration
async def test_the_simulated_city_is_accepted_by_collection_without_a_rejection(
    nats_server: NatsServer,
) -> None:
    settings = Settings(nats_url=nats_server.url, listen="127.0.0.1:0")
    async with running(App(settings), settings) as srv:
        target = f"127.0.0.1:{srv.port}"
        stats = await run_simulation(target, rate=200, seconds=2.0)
        again = await run_simulation(target, rate=1, seconds=0)
        async with grpc.aio.insecure_channel(target) as channel:
            counters = await pb_grpc.CollectionServiceStub(channel).GetIngestStats(pb.GetIngestStatsRequest())
    assert stats.registered == again.registered == counters.devices == 2515
    assert stats.registration_conflicts == again.registration_conflicts == 0
    assert stats.readings_rejected == 0, stats.rejections
    assert stats.readings_accepted == stats.readings_sent == counters.readings_accepted > 0
    assert stats.batches_failed == stats.unconfirmed_batches == 0
