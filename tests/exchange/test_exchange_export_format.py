"""The export's Arrow framing, without a server: the messages are what pyarrow's stream writer
writes, a batch too large for one message is split, and a failed check stops the stream."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pytest

from citymesh.exchange import domain, export
from citymesh.exchange.domain import ReadingFilter
from citymesh.runtime import errors


def store_rows(n: int, kind: int = 2, district: int = 1) -> pa.RecordBatch:
    """Rows as the store reads them: device id, time_ms, value, kind code, district code."""
    return pa.record_batch(
        [
            pa.array([f"device-{i % 7}" for i in range(n)]),
            pa.array(range(1_767_225_600_000, 1_767_225_600_000 + n), pa.int64()),
            pa.array([i / 4 for i in range(n)], pa.float64()),
            pa.array([kind] * n, pa.uint8()),
            pa.array([district] * n, pa.uint8()),
        ],
        names=["device_id", "time_ms", "value", "kind", "district"],
    )


def test_rows_become_the_documented_columns_with_unknown_codes_as_null() -> None:
    rows = pa.record_batch(
        [
            pa.array(["a", "b", "c"]),
            pa.array([0, 1_000, 2_000], pa.int64()),
            pa.array([1.0, 2.0, 3.0]),
            pa.array([2, 0, 200], pa.uint8()),
            pa.array([5, 0, 1], pa.uint8()),
        ],
        names=["device_id", "time_ms", "value", "kind", "district"],
    )
    batch = export.export_batch(rows)
    assert batch.schema.equals(export.EXPORT_SCHEMA, check_metadata=True)
    assert batch.column("kind").to_pylist() == ["air", None, None]
    assert batch.column("district").to_pylist() == ["shuangqiao", None, "gouzhao"]
    assert batch.column("time").cast(pa.int64()).to_pylist() == [0, 1_000, 2_000]
    units = json.loads(export.EXPORT_SCHEMA.metadata[b"citymesh.units"])
    assert units["air"] == "µg/m³"


async def test_the_messages_are_byte_for_byte_the_ipc_stream_and_each_decodes_alone() -> None:
    batches = [export.export_batch(store_rows(n)) for n in (5, 1, 9)]

    async def source() -> AsyncIterator[pa.RecordBatch]:
        for batch in batches:
            yield batch

    async def allowed() -> None:
        return None

    chunks = [c async for c in export.chunks(source(), allowed)]

    written = io.BytesIO()
    with pa.ipc.new_stream(written, export.EXPORT_SCHEMA) as writer:
        for batch in batches:
            writer.write_batch(batch)
    assert b"".join(c.arrow_ipc for c in chunks) == written.getvalue()
    assert [c.rows_sent for c in chunks] == [0, 5, 6, 15, 15]
    schema = pa.ipc.read_schema(pa.py_buffer(chunks[0].arrow_ipc))
    alone = [pa.ipc.read_record_batch(pa.py_buffer(c.arrow_ipc), schema) for c in chunks[1:-1]]
    assert [b.equals(original) for b, original in zip(alone, batches, strict=True)] == [True] * 3


def test_a_batch_too_large_for_one_message_is_split_until_each_fits() -> None:
    batch = export.export_batch(store_rows(1000))
    whole = len(batch.serialize())
    messages = list(export.batch_messages(batch, max_bytes=whole // 3))
    assert len(messages) >= 4
    assert all(len(m) <= whole // 3 for m, _ in messages)
    assert sum(rows for _, rows in messages) == 1000
    schema_message = export.EXPORT_SCHEMA.serialize().to_pybytes()
    joined = pa.ipc.open_stream(schema_message + b"".join(m for m, _ in messages)).read_all()
    assert joined.equals(pa.Table.from_batches([batch]))
    assert list(export.batch_messages(batch.slice(0, 1), max_bytes=10)) == [
        (batch.slice(0, 1).serialize().to_pybytes(), 1)
    ], "one row goes alone, whatever its size"


async def test_a_failed_check_before_a_batch_ends_the_stream_there() -> None:
    checks = 0

    async def source() -> AsyncIterator[pa.RecordBatch]:
        for _ in range(3):
            yield export.export_batch(store_rows(4))

    async def expires_after_one() -> None:
        nonlocal checks
        checks += 1
        if checks > 1:
            raise errors.PermissionDenied("the grant expired")

    sent: list[int] = []

    async def read() -> None:
        async for chunk in export.chunks(source(), expires_after_one):
            sent.append(chunk.rows_sent)

    with pytest.raises(errors.PermissionDenied):
        await read()
    assert sent == [0, 4], "the schema and the first batch, nothing after the expiry"


def test_an_export_is_validated_with_reasons() -> None:
    window: dict[str, Any] = {"start_ns": 0, "end_ns": 10**9, "filter": ReadingFilter()}
    query = domain.export_query(**window, limit=0, batch_rows=0)
    assert (query.limit, query.batch_rows) == (domain.MAX_EXPORT_ROWS, domain.DEFAULT_BATCH_ROWS)
    for bad, says in [
        ({**window, "limit": domain.MAX_EXPORT_ROWS + 1, "batch_rows": 0}, "split a larger export"),
        ({**window, "limit": 0, "batch_rows": domain.MAX_BATCH_ROWS + 1}, "batch_rows"),
        ({**window, "start_ns": None, "limit": 0, "batch_rows": 0}, "time_range is required"),
        ({**window, "end_ns": 0, "limit": 0, "batch_rows": 0}, "must be after"),
    ]:
        with pytest.raises(errors.InvalidArgument) as info:
            domain.export_query(**bad)
        assert says in str(info.value)
