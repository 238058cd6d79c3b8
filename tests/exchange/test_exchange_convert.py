"""Conversions between protobuf and the exchange's domain types."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from citymesh.api.collection.v1 import collection_pb2
from citymesh.api.common.v1 import common_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as pb
from citymesh.exchange import convert, domain
from citymesh.runtime import errors


def test_a_reading_batch_payload_becomes_numpy_columns() -> None:
    payload = collection_pb2.ReadingBatch(
        batch_id="b",
        device_ids=["x", "y"],
        device_index=[1, 0, 1],
        time_unix_ms=[5, 6, 7],
        values=[0.5, 1.5, 2.5],
    ).SerializeToString()

    columns = convert.reading_columns(payload)

    assert columns.device_ids == ["x", "y"]
    assert columns.device_index.dtype == np.uint32
    assert columns.time_ms.tolist() == [5, 6, 7]
    assert columns.value.tolist() == [0.5, 1.5, 2.5]


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff",
        collection_pb2.ReadingBatch(
            device_ids=["x"], device_index=[0], time_unix_ms=[1, 2], values=[1]
        ).SerializeToString(),
        collection_pb2.ReadingBatch(
            device_ids=["x"], device_index=[3], time_unix_ms=[1], values=[1]
        ).SerializeToString(),
    ],
)
def test_a_malformed_payload_is_a_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        convert.reading_columns(payload)


def test_a_device_entry_becomes_device_info() -> None:
    payload = collection_pb2.Device(
        device_id="n1",
        kind=common_pb2.DEVICE_KIND_NOISE,
        district=common_pb2.DISTRICT_SHIFO,
        owner_tenant="huawei",
    ).SerializeToString()
    info = convert.device_info(payload, revision=9)
    assert info == domain.DeviceInfo(kind=3, district=4, revision=9, owner_tenant="huawei")


def test_a_query_request_becomes_a_validated_query() -> None:
    request = pb.QueryRequest(
        time_range=common_pb2.TimeRange(
            start=timestamp_pb2.Timestamp(seconds=100, nanos=1), end=timestamp_pb2.Timestamp(seconds=200)
        ),
        bucket=duration_pb2.Duration(seconds=30),
        group_by=[pb.GROUP_BY_KIND],
        filter=pb.ReadingFilter(
            districts=[common_pb2.DISTRICT_WUTONG], kinds=[common_pb2.DEVICE_KIND_AIR], device_ids=["a"]
        ),
        limit=7,
    )

    q = convert.aggregate_query(request)

    assert q.time_range == domain.TimeRange(100_000_000_001, 200_000_000_000)
    assert q.time_range.first_ms == 100_001
    assert (q.bucket_s, q.group_by, q.limit) == (30, (domain.Dimension.KIND,), 7)
    assert q.filter == domain.ReadingFilter(frozenset({"wutong"}), frozenset({"air"}), frozenset({"a"}))


def test_an_unknown_enum_number_in_a_filter_is_invalid_argument() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"filter\.kinds"):
        convert.reading_filter(pb.ReadingFilter(kinds=[cast(common_pb2.DeviceKind, 99)]))


def test_rows_and_stats_become_responses() -> None:
    row = domain.AggregateRow(1_500_000_001, "fengyang", "camera", "c1", 3, 2.0, 1.0, 3.0, 2.0, 2.9)
    response = convert.query_response(domain.QueryResult([row], truncated=True))
    (out,) = response.rows
    assert (out.bucket_start.seconds, out.bucket_start.nanos) == (1, 500_000_001)
    assert (out.district, out.kind, out.device_id, out.count, out.p95) == (
        common_pb2.DISTRICT_FENGYANG,
        common_pb2.DEVICE_KIND_CAMERA,
        "c1",
        3,
        2.9,
    )
    assert response.truncated

    stats = convert.stats_response(domain.Stats(10, 2, 4, 9, newest_ms=1_250))
    assert (
        stats.rows,
        stats.devices,
        stats.committed_sequence,
        stats.stream_sequence,
        stats.lag_batches,
    ) == (
        10,
        2,
        4,
        9,
        5,
    )
    assert stats.newest_reading.ToMilliseconds() == 1_250
    assert not convert.stats_response(domain.Stats(0, 0, 0, 0, None)).HasField("newest_reading")


def test_a_stored_batch_becomes_readings_with_kind_and_district() -> None:
    batch = domain.StoredBatch(
        3,
        ["a", "b"],
        np.array([1, 0], np.uint32),
        np.array([10, 11], np.int64),
        np.array([1.5, 2.5]),
        np.array([2, 6], np.uint8),
        np.array([1, 0], np.uint8),
    )
    response = convert.subscribe_response(batch)
    assert [(r.device_id, r.time_unix_ms, r.value, r.kind, r.district) for r in response.readings] == [
        ("b", 10, 1.5, common_pb2.DEVICE_KIND_AIR, common_pb2.DISTRICT_GOUZHAO),
        ("a", 11, 2.5, common_pb2.DEVICE_KIND_TEMPERATURE, common_pb2.DISTRICT_UNSPECIFIED),
    ]
