"""ExchangeService over gRPC: who calls, convert the request, call the exchange, convert the answer.

The caller is `auth.caller(...)` (the verified token, or in development the identity headers);
sharing.py checks it against what it reads and audits the decision. Domain errors (errors.*) are
raised, not aborted: the runtime's interceptor maps them to status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import grpc

from citymesh.api.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from citymesh.exchange import catalog, convert, export
from citymesh.exchange.domain import Stats
from citymesh.exchange.sharing import Sharing
from citymesh.exchange.store import Store
from citymesh.exchange.subscriptions import SubscriptionHub
from citymesh.runtime import auth, errors


def caller(context: grpc.aio.ServicerContext) -> auth.Identity:
    return auth.caller(context.invocation_metadata())


class ExchangeServicer(exchange_pb2_grpc.ExchangeServiceServicer):
    def __init__(
        self,
        store: Store,
        hub: SubscriptionHub,
        stats: Callable[[], Awaitable[Stats]],
        sharing: Sharing,
    ) -> None:
        self._store = store
        self._hub = hub
        self._stats = stats
        self._sharing = sharing

    async def Query(
        self, request: exchange_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.QueryResponse:
        who = caller(context)
        await self._sharing.admit_query(who)
        query = convert.aggregate_query(request)
        scope = await self._sharing.read_scope(who, request.dataset_id, query.filter, "Query")
        if scope.filter is None:
            return exchange_pb2.QueryResponse()
        return convert.query_response(await self._store.query(replace(query, filter=scope.filter)))

    async def Subscribe(
        self, request: exchange_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.SubscribeResponse]:
        who = caller(context)
        wanted = convert.reading_filter(request.filter)
        scope = await self._sharing.read_scope(who, request.dataset_id, wanted, "Subscribe")
        if scope.filter is None:
            raise errors.InvalidArgument(
                f"filter and dataset {request.dataset_id}'s selection have no reading in common"
            )
        with self._hub.subscribe(scope.filter) as subscription:
            # Headers go out once the subscription is in place: a client that waits for them knows
            # every batch stored from then on will reach it.
            await context.send_initial_metadata(())
            async for batch in subscription.batches():
                await self._sharing.still_readable(who, scope, "Subscribe")
                yield convert.subscribe_response(batch)

    async def ExportReadings(
        self, request: exchange_pb2.ExportReadingsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[exchange_pb2.ExportReadingsResponse]:
        who = caller(context)
        await self._sharing.admit_query(who)
        wanted = convert.export_query(request)
        scope = await self._sharing.read_scope(who, request.dataset_id, wanted.filter, "ExportReadings")
        if scope.filter is None:  # nothing can match both the filter and the dataset: an empty export
            for chunk in export.empty():
                yield convert.export_response(chunk, 0, False)
            return
        rows = await self._store.export(replace(wanted, filter=scope.filter))
        try:
            async for chunk in export.chunks(
                rows.batches(), lambda: self._sharing.still_readable(who, scope, "ExportReadings")
            ):
                yield convert.export_response(chunk, rows.rows_total, rows.truncated)
        finally:
            rows.close()

    async def GetStats(
        self, request: exchange_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.GetStatsResponse:
        await self._sharing.require_platform(caller(context), "GetStats", "exchange statistics")
        return convert.stats_response(await self._stats())

    async def PublishDataset(
        self, request: exchange_pb2.PublishDatasetRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.PublishDatasetResponse:
        who = caller(context)
        dataset, created = await self._sharing.publish(
            who,
            request.name,
            request.description,
            convert.visibility(request.visibility),
            convert.reading_filter(request.selection),
        )
        shown = catalog.Listed(dataset, readable=True, grant_expires_ms=None)
        return exchange_pb2.PublishDatasetResponse(dataset=convert.dataset_message(shown), created=created)

    async def ListDatasets(
        self, request: exchange_pb2.ListDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.ListDatasetsResponse:
        listed = await self._sharing.list_datasets(caller(context), request.owner_tenant)
        return exchange_pb2.ListDatasetsResponse(datasets=[convert.dataset_message(d) for d in listed])

    async def RequestAccess(
        self, request: exchange_pb2.RequestAccessRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.RequestAccessResponse:
        grant = await self._sharing.request_access(caller(context), request.dataset_id, request.purpose)
        return exchange_pb2.RequestAccessResponse(grant=self._grant(grant))

    async def GrantAccess(
        self, request: exchange_pb2.GrantAccessRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.GrantAccessResponse:
        expires_ms, ttl_ms = convert.expiry_ms(request)
        grant = await self._sharing.grant_access(
            caller(context), request.dataset_id, request.tenant, expires_ms, ttl_ms, request.note
        )
        return exchange_pb2.GrantAccessResponse(grant=self._grant(grant))

    async def DenyAccess(
        self, request: exchange_pb2.DenyAccessRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.DenyAccessResponse:
        grant = await self._sharing.deny_access(
            caller(context), request.dataset_id, request.tenant, request.reason
        )
        return exchange_pb2.DenyAccessResponse(grant=self._grant(grant))

    async def RevokeGrant(
        self, request: exchange_pb2.RevokeGrantRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.RevokeGrantResponse:
        grant = await self._sharing.revoke_grant(
            caller(context), request.dataset_id, request.tenant, request.reason
        )
        return exchange_pb2.RevokeGrantResponse(grant=self._grant(grant))

    async def ListGrants(
        self, request: exchange_pb2.ListGrantsRequest, context: grpc.aio.ServicerContext
    ) -> exchange_pb2.ListGrantsResponse:
        grants = await self._sharing.list_grants(caller(context), request.dataset_id)
        return exchange_pb2.ListGrantsResponse(grants=[self._grant(g) for g in grants])

    def _grant(self, grant: catalog.Grant) -> exchange_pb2.Grant:
        return convert.grant_message(grant, self._sharing.now_ms())
