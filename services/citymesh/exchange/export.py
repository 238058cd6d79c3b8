"""Bulk export of readings as one Arrow IPC stream, one IPC message at a time.

An export is the schema message, record batch messages, and the end-of-stream marker: concatenated,
byte for byte what pyarrow's `RecordBatchStreamWriter` writes for the same batches, so any Arrow
reader reads it. Each message travels in one ExportReadings response and can be decoded alone
(`pa.ipc.read_schema`, `pa.ipc.read_record_batch`); a record batch is split until its message fits
in MAX_MESSAGE_BYTES, below gRPC's default 4 MiB limit on what a client receives.

The store reads readings in its own layout (device id, time_ms, value, kind and district codes);
`export_batch` turns them into EXPORT_SCHEMA's columns.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from citymesh.city import DISTRICTS, KIND_NAMES, KINDS

MAX_MESSAGE_BYTES = 3 * 1024 * 1024
"""Largest record batch message sent (a batch above it is split in halves until each fits)."""

END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"
"""The IPC stream's end marker: continuation token and a zero length."""

EXPORT_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("district", pa.string()),
    ],
    metadata={"citymesh.units": json.dumps({k.name: k.unit for k in KINDS.values()}, ensure_ascii=False)},
)
"""The columns of an export (documented in exchange.proto, ExportReadings)."""


def _names(names: tuple[str, ...]) -> pa.Array:
    """Code → name for every uint8 code (0 and codes past the names: null)."""
    return pa.array([None, *names, *[None] * (255 - len(names))], pa.string())


KIND_BY_CODE = _names(KIND_NAMES)
DISTRICT_BY_CODE = _names(DISTRICTS)


def export_batch(rows: pa.RecordBatch) -> pa.RecordBatch:
    """The store's rows (device_id, time_ms, value, kind code, district code) in EXPORT_SCHEMA."""
    device_id, time_ms, value, kind, district = rows.columns
    return pa.RecordBatch.from_arrays(
        [
            device_id.cast(pa.string()),
            time_ms.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            value.cast(pa.float64()),
            KIND_BY_CODE.take(kind),
            DISTRICT_BY_CODE.take(district),
        ],
        schema=EXPORT_SCHEMA,
    )


def schema_message() -> bytes:
    return bytes(EXPORT_SCHEMA.serialize().to_pybytes())


def batch_messages(batch: pa.RecordBatch, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[tuple[bytes, int]]:
    """`batch` as record batch messages of at most `max_bytes` each (a single row above it goes
    alone), with the rows of each."""
    if batch.num_rows == 0:
        return
    message = batch.serialize().to_pybytes()
    if len(message) <= max_bytes or batch.num_rows == 1:
        yield message, batch.num_rows
        return
    half = batch.num_rows // 2
    yield from batch_messages(batch.slice(0, half), max_bytes)
    yield from batch_messages(batch.slice(half), max_bytes)


@dataclass(frozen=True)
class Chunk:
    """One message of the stream, and the rows sent up to and including it."""

    arrow_ipc: bytes
    rows_sent: int


async def chunks(
    batches: AsyncIterable[pa.RecordBatch],
    before_batch: Callable[[], Awaitable[None]],
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> AsyncIterator[Chunk]:
    """The whole stream of an export whose record batches are `batches`: the schema, their
    messages, the end marker. `before_batch` runs before each batch is sent (a grant's check)."""
    yield Chunk(schema_message(), 0)
    sent = 0
    async for batch in batches:
        await before_batch()
        for message, rows in batch_messages(batch, max_bytes):
            sent += rows
            yield Chunk(message, sent)
    yield Chunk(END_OF_STREAM, sent)


def empty() -> tuple[Chunk, Chunk]:
    """The whole stream of an export that matches nothing."""
    return Chunk(schema_message(), 0), Chunk(END_OF_STREAM, 0)
