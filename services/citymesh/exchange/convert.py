"""Every conversion between protobuf (the API, the bus payloads) and the exchange's domain types."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from google.protobuf import timestamp_pb2

from citymesh import convert as city_convert
from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.exchange.v1 import exchange_pb2
from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.exchange import catalog, domain, export
from citymesh.runtime import errors

# The domain's kind and district codes are the proto enum numbers; readings are converted in bulk on
# that promise, so hold it here.
assert all(city_convert.kind_to_proto(k) == domain.kind_code(k) for k in KIND_NAMES)
assert all(city_convert.district_to_proto(d) == domain.district_code(d) for d in DISTRICTS)


def reading_columns(payload: bytes) -> domain.ReadingColumns:
    """A stream message's payload (a collection ReadingBatch); ValueError if it is malformed."""
    batch = collection_pb2.ReadingBatch()
    try:
        batch.ParseFromString(payload)
    except Exception as exc:  # protobuf's DecodeError, raised as a plain Exception by upb
        raise ValueError(f"not a ReadingBatch: {exc}") from exc
    return domain.ReadingColumns(
        device_ids=list(batch.device_ids),
        device_index=np.array(batch.device_index, dtype=np.uint32),
        time_ms=np.array(batch.time_unix_ms, dtype=np.int64),
        value=np.array(batch.values, dtype=np.float64),
    )


def device_info(payload: bytes, revision: int) -> domain.DeviceInfo:
    """A `devices` KV value (a collection Device); ValueError if it is malformed."""
    device = collection_pb2.Device()
    try:
        device.ParseFromString(payload)
    except Exception as exc:
        raise ValueError(f"not a Device: {exc}") from exc
    if device.kind > len(KIND_NAMES) or device.district > len(DISTRICTS):
        raise ValueError(f"device {device.device_id!r} has kind {device.kind}, district {device.district}")
    return domain.DeviceInfo(
        kind=int(device.kind),
        district=int(device.district),
        revision=revision,
        owner_tenant=device.owner_tenant,
    )


def _names(
    field: str, values: list[int], from_proto: Callable[[int], str | None], unspecified: str
) -> frozenset[str]:
    names: set[str] = set()
    for value in values:
        try:
            name = from_proto(value)
        except ValueError as exc:
            raise errors.InvalidArgument(f"filter.{field}: {exc}") from None
        if name is None:
            raise errors.InvalidArgument(
                f"filter.{field}: {unspecified} matches nothing; list the values wanted, or none to match all"
            )
        names.add(name)
    return frozenset(names)


def reading_filter(msg: exchange_pb2.ReadingFilter) -> domain.ReadingFilter:
    return domain.ReadingFilter(
        districts=_names(
            "districts", list(msg.districts), city_convert.district_from_proto, "DISTRICT_UNSPECIFIED"
        ),
        kinds=_names("kinds", list(msg.kinds), city_convert.kind_from_proto, "DEVICE_KIND_UNSPECIFIED"),
        device_ids=frozenset(msg.device_ids),
    )


def _instant(name: str, ts: timestamp_pb2.Timestamp) -> int:
    return domain.instant_ns(name, ts.seconds, ts.nanos)


def _time_range(
    request: exchange_pb2.QueryRequest | exchange_pb2.ExportReadingsRequest,
) -> tuple[int | None, int | None]:
    """A request's time_range as epoch ns (start, end), None where unset."""
    start_ns = end_ns = None
    if request.HasField("time_range"):
        r = request.time_range
        start_ns = _instant("time_range.start", r.start) if r.HasField("start") else None
        end_ns = _instant("time_range.end", r.end) if r.HasField("end") else None
    return start_ns, end_ns


def aggregate_query(request: exchange_pb2.QueryRequest) -> domain.AggregateQuery:
    start_ns, end_ns = _time_range(request)
    return domain.aggregate_query(
        start_ns=start_ns,
        end_ns=end_ns,
        bucket=(request.bucket.seconds, request.bucket.nanos) if request.HasField("bucket") else None,
        group_by=list(request.group_by),
        filter=reading_filter(request.filter),
        limit=request.limit,
    )


def export_query(request: exchange_pb2.ExportReadingsRequest) -> domain.ExportQuery:
    start_ns, end_ns = _time_range(request)
    return domain.export_query(
        start_ns=start_ns,
        end_ns=end_ns,
        filter=reading_filter(request.filter),
        limit=request.limit,
        batch_rows=request.batch_rows,
    )


def export_response(
    chunk: export.Chunk, rows_total: int, truncated: bool
) -> exchange_pb2.ExportReadingsResponse:
    return exchange_pb2.ExportReadingsResponse(
        arrow_ipc=chunk.arrow_ipc, rows_sent=chunk.rows_sent, rows_total=rows_total, truncated=truncated
    )


def timestamp_ns(ns: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def query_response(result: domain.QueryResult) -> exchange_pb2.QueryResponse:
    response = exchange_pb2.QueryResponse(truncated=result.truncated)
    add = response.rows.add
    for row in result.rows:
        add(
            bucket_start=timestamp_ns(row.bucket_start_ns),
            district=city_convert.district_to_proto(row.district),
            kind=city_convert.kind_to_proto(row.kind),
            device_id=row.device_id or "",
            count=row.count,
            mean=row.mean,
            min=row.min,
            max=row.max,
            p50=row.p50,
            p95=row.p95,
        )
    return response


def subscribe_response(batch: domain.StoredBatch) -> exchange_pb2.SubscribeResponse:
    response = exchange_pb2.SubscribeResponse()
    add = response.readings.add
    ids = batch.device_ids
    for index, time_ms, value, kind, district in zip(
        batch.device_index.tolist(),
        batch.time_ms.tolist(),
        batch.value.tolist(),
        batch.kind.tolist(),
        batch.district.tolist(),
        strict=True,
    ):
        add(device_id=ids[index], time_unix_ms=time_ms, value=value, kind=kind, district=district)
    return response


def stats_response(stats: domain.Stats) -> exchange_pb2.GetStatsResponse:
    response = exchange_pb2.GetStatsResponse(
        rows=stats.rows,
        devices=stats.devices,
        committed_sequence=stats.committed_sequence,
        stream_sequence=stats.stream_sequence,
        lag_batches=stats.lag_batches,
    )
    if stats.newest_ms is not None:
        response.newest_reading.CopyFrom(timestamp_ns(stats.newest_ms * 1_000_000))
    return response


# The catalog.

VISIBILITY_TO_PROTO = {
    catalog.Visibility.PRIVATE: exchange_pb2.VISIBILITY_PRIVATE,
    catalog.Visibility.SHARED: exchange_pb2.VISIBILITY_SHARED,
    catalog.Visibility.PUBLIC: exchange_pb2.VISIBILITY_PUBLIC,
}
VISIBILITY_FROM_PROTO = {v: k for k, v in VISIBILITY_TO_PROTO.items()}
GRANT_STATE_TO_PROTO = {
    catalog.GrantState.REQUESTED: exchange_pb2.GRANT_STATE_REQUESTED,
    catalog.GrantState.GRANTED: exchange_pb2.GRANT_STATE_GRANTED,
    catalog.GrantState.DENIED: exchange_pb2.GRANT_STATE_DENIED,
    catalog.GrantState.REVOKED: exchange_pb2.GRANT_STATE_REVOKED,
    catalog.GrantState.EXPIRED: exchange_pb2.GRANT_STATE_EXPIRED,
}


def visibility(value: int) -> catalog.Visibility | None:
    """A Visibility number; None when unset; InvalidArgument when it is no visibility."""
    if value == exchange_pb2.VISIBILITY_UNSPECIFIED:
        return None
    try:
        return VISIBILITY_FROM_PROTO[value]  # type: ignore[index]
    except KeyError:
        raise errors.InvalidArgument(
            f"visibility {value} is not one; use VISIBILITY_PRIVATE, VISIBILITY_SHARED or VISIBILITY_PUBLIC"
        ) from None


def reading_filter_message(flt: domain.ReadingFilter) -> exchange_pb2.ReadingFilter:
    return exchange_pb2.ReadingFilter(
        districts=[city_convert.district_to_proto(d) for d in sorted(flt.districts, key=DISTRICTS.index)],
        kinds=[city_convert.kind_to_proto(k) for k in sorted(flt.kinds, key=KIND_NAMES.index)],
        device_ids=sorted(flt.device_ids),
    )


def timestamp_ms(ms: int) -> timestamp_pb2.Timestamp:
    return timestamp_ns(ms * 1_000_000)


def expiry_ms(request: exchange_pb2.GrantAccessRequest) -> tuple[int | None, int | None]:
    """(expires_at, ttl) of a GrantAccess in milliseconds, None where unset."""
    expires = ttl = None
    if request.HasField("expires_at"):
        expires = -(-_instant("expires_at", request.expires_at) // 1_000_000)
    if request.HasField("ttl"):
        if request.ttl.seconds < 0 or request.ttl.nanos < 0:
            raise errors.InvalidArgument("ttl is negative; a grant lasts at least 1 s")
        ttl = request.ttl.seconds * 1000 + request.ttl.nanos // 1_000_000
    return expires, ttl


def dataset_message(listed: catalog.Listed) -> exchange_pb2.Dataset:
    d = listed.dataset
    message = exchange_pb2.Dataset(
        dataset_id=d.dataset_id,
        name=d.name,
        description=d.description,
        owner_tenant=d.owner,
        visibility=VISIBILITY_TO_PROTO[d.visibility],
        selection=reading_filter_message(d.selection),
        telemetry=d.telemetry,
        readable=listed.readable,
    )
    if d.updated_ms is not None:
        message.updated_at.CopyFrom(timestamp_ms(d.updated_ms))
    if listed.grant_expires_ms is not None:
        message.grant_expires_at.CopyFrom(timestamp_ms(listed.grant_expires_ms))
    return message


def grant_message(grant: catalog.Grant, now_ms: int) -> exchange_pb2.Grant:
    message = exchange_pb2.Grant(
        dataset_id=grant.dataset_id,
        tenant=grant.tenant,
        purpose=grant.purpose,
        state=GRANT_STATE_TO_PROTO[grant.state_at(now_ms)],
        decided_by=grant.decided_by,
        reason=grant.reason,
    )
    for field, ms in (
        (message.requested_at, grant.requested_ms),
        (message.decided_at, grant.decided_ms),
        (message.expires_at, grant.expires_ms),
    ):
        if ms is not None:
            field.CopyFrom(timestamp_ms(ms))
    return message
