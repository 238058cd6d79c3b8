"""ExchangeService over gRPC: convert the request, call the exchange, convert the answer.

Domain errors (errors.*) are raised, not aborted: the runtime's interceptor maps them to status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.exchange import convert
from citymesh.exchange.domain import Stats
from citymesh.exchange.store import Store
from citymesh.exchange.subscriptions import SubscriptionHub


class ExchangeServicer(exchange_pb2_grpc.ExchangeServiceServicer):
    def __init__(self, store: Store, hub: SubscriptionHub, stats: Callable[[], Awaitable[Stats]]) -> None:
        self._store = store
        self._hub = hub
        self._stats = stats

    async def Query(
        self, request: exchange_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.QueryResponse:
        query = convert.aggregate_query(request)
        return convert.query_response(await self._store.query(query))

    async def Subscribe(
        self, request: exchange_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.SubscribeResponse]:
        reading_filter = convert.reading_filter(request.filter)
        with self._hub.subscribe(reading_filter) as subscription:
            # Headers go out once the subscription is in place: a client that waits for them knows
            # every batch stored from then on will reach it.
            await context.send_initial_metadata(())
            async for batch in subscription.batches():
                yield convert.subscribe_response(batch)

    async def GetStats(
        self, request: exchange_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.GetStatsResponse:
        return convert.stats_response(await self._stats())
