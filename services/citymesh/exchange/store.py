"""The exchange's embedded columnar store: one DuckDB file.

Tables:
- `readings`: one row per reading: the stream sequence of its batch, device key, measurement time
  (epoch ms), value, and the kind and sub-district codes of its device *as they were when the
  reading was stored* (denormalised: a device id deregistered and registered again with another kind
  does not re-attribute old readings, and queries need no join). Append-only, no index: inserts
  stay cheap and DuckDB's per-segment min/max (zone maps) prune by time, since batches arrive
  roughly in time order. The device is a small integer key (`device_keys` maps it to the id):
  inserting an integer column costs less than half of inserting the id strings.
- `device_keys`: device key ↔ device id, each key written in the transaction of its first reading.
- `devices`: every device the registry ever described to the exchange, deregistered ones flagged,
  so that readings still in the stream of a device since deregistered keep their attribution.
- `position`: the last TELEMETRY sequence stored, the number of readings and the newest time,
  updated in the same transaction as the rows it counts. That one transaction is what makes the
  materialisation exactly-once: after a crash the store holds either the rows and the position or
  neither.

DuckDB is blocking and its connections are not for concurrent use by several threads: every write
runs on one writer thread with its own cursor; reads run on a small pool, each call on a cursor of
its own (DuckDB's MVCC gives each a consistent snapshot beside the writer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from citymesh.exchange.domain import (
    AggregateQuery,
    AggregateRow,
    DeviceInfo,
    Dimension,
    ExportQuery,
    Position,
    QueryResult,
    ReadingFilter,
    StoredBatch,
    district_name,
    kind_name,
)
from citymesh.exchange.export import export_batch
from citymesh.runtime import errors

log = logging.getLogger("citymesh.exchange.store")

T = TypeVar("T")

STREAM = "TELEMETRY"

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    sequence UBIGINT NOT NULL,
    device_key UINTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    kind UTINYINT NOT NULL,
    district UTINYINT NOT NULL
);
CREATE TABLE IF NOT EXISTS device_keys (
    device_key UINTEGER PRIMARY KEY,
    device_id VARCHAR NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS devices (
    device_id VARCHAR PRIMARY KEY,
    kind UTINYINT NOT NULL,
    district UTINYINT NOT NULL,
    owner_tenant VARCHAR NOT NULL,
    revision UBIGINT NOT NULL,
    deregistered BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS position (
    stream VARCHAR PRIMARY KEY,
    committed_sequence UBIGINT NOT NULL,
    readings UBIGINT NOT NULL,
    newest_ms BIGINT
);
"""

READINGS_SCHEMA = pa.schema(
    [
        ("sequence", pa.uint64()),
        ("device_key", pa.uint32()),
        ("time_ms", pa.int64()),
        ("value", pa.float64()),
        ("kind", pa.uint8()),
        ("district", pa.uint8()),
    ]
)
DEVICES_SCHEMA = pa.schema(
    [
        ("device_id", pa.string()),
        ("kind", pa.uint8()),
        ("district", pa.uint8()),
        ("owner_tenant", pa.string()),
        ("revision", pa.uint64()),
        ("deregistered", pa.bool_()),
    ]
)

GROUP_COLUMNS: dict[Dimension, tuple[str, ...]] = {
    Dimension.DISTRICT: ("district",),
    Dimension.KIND: ("kind",),
    Dimension.DEVICE: ("district", "kind", "device_id"),
}
"""Grouping by device groups by its district and kind too (they are the same for all its readings,
except for an id registered again with another kind, whose readings must not be mixed)."""
COLUMN_ORDER = ("district", "kind", "device_id")


def readings_table(batches: Sequence[StoredBatch], keys: Callable[[list[str]], np.ndarray]) -> pa.Table:
    """The rows of `batches` as one Arrow table in the layout of `readings`; `keys` gives the
    device key of each of a batch's device ids."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return READINGS_SCHEMA.empty_table()
    lengths = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))
    sequences = np.repeat(np.fromiter((b.sequence for b in batches), dtype=np.uint64), lengths)
    device_keys = np.concatenate([keys(b.device_ids)[b.device_index] for b in batches])
    return pa.table(
        [
            pa.array(sequences),
            pa.array(device_keys),
            pa.array(np.concatenate([b.time_ms for b in batches])),
            pa.array(np.concatenate([b.value for b in batches])),
            pa.array(np.concatenate([b.kind for b in batches])),
            pa.array(np.concatenate([b.district for b in batches])),
        ],
        schema=READINGS_SCHEMA,
    )


def devices_table(devices: Mapping[str, DeviceInfo]) -> pa.Table:
    items = sorted(devices.items())
    return pa.table(
        [
            pa.array([k for k, _ in items], pa.string()),
            pa.array([d.kind for _, d in items], pa.uint8()),
            pa.array([d.district for _, d in items], pa.uint8()),
            pa.array([d.owner_tenant for _, d in items], pa.string()),
            pa.array([d.revision for _, d in items], pa.uint64()),
            pa.array([d.deregistered for _, d in items], pa.bool_()),
        ],
        schema=DEVICES_SCHEMA,
    )


def filter_sql(flt: ReadingFilter, params: dict[str, Any]) -> list[str]:
    """The conditions of `readings` rows in [$first_ms, $end_ms) that `flt` matches (ANDed); the
    values they need are added to `params`."""
    where = ["time_ms >= $first_ms", "time_ms < $end_ms"]
    if flt.districts:
        where.append("list_contains($districts, district)")
        params["districts"] = flt.district_codes
    if flt.kinds:
        where.append("list_contains($kinds, kind)")
        params["kinds"] = flt.kind_codes
    if flt.device_ids:
        where.append(
            "device_key IN (SELECT device_key FROM device_keys WHERE device_id IN (SELECT unnest($device_ids)))"
        )
        params["device_ids"] = sorted(flt.device_ids)
    return where


def query_sql(query: AggregateQuery) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters answering `query`. Only fixed fragments are pasted; every value the
    caller chose is a parameter."""
    keys: list[str] = []
    select: list[str] = []
    params: dict[str, Any] = {
        "first_ms": query.time_range.first_ms,
        "end_ms": query.time_range.end_ms,
        "limit": query.limit + 1,
    }
    if query.bucket_ms is not None:
        select.append("(time_ms // $bucket_ms) * $bucket_ms AS bucket_ms")
        keys.append("bucket_ms")
        params["bucket_ms"] = query.bucket_ms
    else:
        select.append("NULL::BIGINT AS bucket_ms")
    grouped = {column for dim in query.group_by for column in GROUP_COLUMNS[dim]}
    for column in COLUMN_ORDER:
        if column in grouped:
            select.append(column)
            keys.append(column)
        else:
            select.append(f"NULL AS {column}")
    where = filter_sql(query.filter, params)
    source = "readings"
    if "device_id" in grouped:
        source = "readings JOIN device_keys USING (device_key)"
    sql = (
        f"SELECT {', '.join(select)}, count(*) AS n, avg(value), min(value), max(value),"
        " quantile_cont(value, [0.5, 0.95])"
        f" FROM {source} WHERE {' AND '.join(where)}"
        + (f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else "")
        + " LIMIT $limit"
    )
    return sql, params


def export_sql(query: ExportQuery, upto: int) -> tuple[str, str, dict[str, Any]]:
    """The SQL counting and reading the rows of `query` stored up to stream sequence `upto` (one
    snapshot for both, since `readings` is append-only in sequence order), and their parameters."""
    params: dict[str, Any] = {
        "first_ms": query.time_range.first_ms,
        "end_ms": query.time_range.end_ms,
        "upto": upto,
    }
    where = " AND ".join([*filter_sql(query.filter, params), "sequence <= $upto"])
    count = f"SELECT count(*) FROM readings WHERE {where}"
    rows = (
        "SELECT device_id, time_ms, value, kind, district FROM readings JOIN device_keys USING (device_key)"
        f" WHERE {where} ORDER BY time_ms, device_id, sequence, value LIMIT {int(query.limit)}"
    )
    return count, rows, params


class Export:
    """The rows of one export, read a record batch at a time on the store's reader threads, on a
    cursor of their own. `close` it (it does not wait)."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        cursor: duckdb.DuckDBPyConnection,
        reader: pa.RecordBatchReader,
        matched: int,
        limit: int,
        batch_rows: int,
    ) -> None:
        self._pool = pool
        self._cursor = cursor
        self._reader: pa.RecordBatchReader | None = reader
        self._lock = threading.Lock()
        self._batch_rows = batch_rows
        self.rows_total = min(matched, limit)
        """Rows the export sends in all."""
        self.truncated = matched > limit
        """More rows matched than the limit."""

    def _next(self) -> pa.RecordBatch | None:
        with self._lock:
            if self._reader is None:
                return None
            try:
                return export_batch(self._reader.read_next_batch())
            except StopIteration:
                return None

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        """The rows in EXPORT_SCHEMA, at most `batch_rows` per batch."""
        loop = asyncio.get_running_loop()
        while (batch := await loop.run_in_executor(self._pool, self._next)) is not None:
            for start in range(0, batch.num_rows, self._batch_rows):
                yield batch.slice(start, self._batch_rows)

    def _close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._cursor.close()

    def close(self) -> None:
        """Release the result and the cursor, after the read in flight (on a reader thread)."""
        try:
            self._pool.submit(self._close)
        except RuntimeError:  # the store is closing: its reader threads are gone
            self._close()


class Store:
    """The DuckDB file: `open` it, `commit` batches with their position, `query` it, `close` it."""

    def __init__(self, path: Path, readers: int = 2, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="exchange-store-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="exchange-store-reader")
        self._lock = threading.Lock()
        self._root: duckdb.DuckDBPyConnection | None = None
        self._write: duckdb.DuckDBPyConnection | None = None
        self._position = Position()
        self._keys: dict[str, int] = {}
        self._key_arrays: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def position(self) -> Position:
        """The last committed position (updated only after its transaction committed)."""
        return self._position

    async def _on(self, pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    async def open(self) -> dict[str, DeviceInfo]:
        """Open (or create) the file; returns the devices it knows. Sets `position`."""
        return await self._on(self._writer, self._open)

    def _open(self) -> dict[str, DeviceInfo]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._root = duckdb.connect(str(self.path), config={"threads": self.threads})
        except (OSError, duckdb.Error) as exc:
            raise errors.FailedPrecondition(
                f"cannot open the DuckDB file {self.path} (CITYMESH_DB_PATH): {exc}"
            ) from exc
        self._write = self._root.cursor()
        columns = {
            c
            for (c,) in self._write.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'readings'"
            ).fetchall()
        }
        if "device_id" in columns:
            raise errors.FailedPrecondition(
                f"{self.path} was written by an earlier citymesh (readings keyed by device id): move it "
                "away and restart; the exchange rebuilds it from the TELEMETRY stream"
            )
        self._write.execute(SCHEMA)
        self._keys = dict(self._write.execute("SELECT device_id, device_key FROM device_keys").fetchall())
        row = self._write.execute(
            "SELECT committed_sequence, readings, newest_ms FROM position WHERE stream = ?", [STREAM]
        ).fetchone()
        if row is not None:
            self._position = Position(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))
        devices = {
            device_id: DeviceInfo(kind, district, revision, deregistered, owner)
            for device_id, kind, district, owner, revision, deregistered in self._write.execute(
                "SELECT device_id, kind, district, owner_tenant, revision, deregistered FROM devices"
            ).fetchall()
        }
        log.info(
            "store opened",
            extra={
                "path": str(self.path),
                "committed_sequence": self._position.committed_sequence,
                "readings": self._position.readings,
                "devices": len(devices),
            },
        )
        return devices

    async def commit(self, batches: Sequence[StoredBatch], sequence: int) -> Position:
        """Store `batches` and move the position to `sequence` (their last message), in one transaction."""
        return await self._on(self._writer, lambda: self._commit(batches, sequence))

    def _commit(self, batches: Sequence[StoredBatch], sequence: int) -> Position:
        cur = self._cursor_for_writes()
        before = self._position
        if sequence <= before.committed_sequence:
            raise RuntimeError(
                f"refusing to store sequence {sequence} again (committed {before.committed_sequence})"
            )
        new_keys: dict[str, int] = {}

        def keys(device_ids: list[str]) -> np.ndarray:
            ids = tuple(device_ids)
            known = self._key_arrays.get(ids)
            if known is not None:
                return known
            out = np.empty(len(ids), dtype=np.uint32)
            for i, device_id in enumerate(ids):
                key = self._keys.get(device_id)
                if key is None:
                    key = new_keys.get(device_id)
                if key is None:
                    key = new_keys[device_id] = len(self._keys) + len(new_keys)
                out[i] = key
            if len(self._key_arrays) >= 4096:
                self._key_arrays.clear()
            if not any(d in new_keys for d in ids):
                self._key_arrays[ids] = out
            return out

        table = readings_table(batches, keys)
        newest = max(
            (n for n in [before.newest_ms, *(b.newest_ms for b in batches)] if n is not None), default=None
        )
        after = Position(sequence, before.readings + table.num_rows, newest)
        cur.begin()
        try:
            if new_keys:
                cur.executemany(
                    "INSERT INTO device_keys VALUES (?, ?)", [(k, d) for d, k in new_keys.items()]
                )
            if table.num_rows:
                cur.register("incoming_readings", table)
                cur.execute("INSERT INTO readings SELECT * FROM incoming_readings")
                cur.unregister("incoming_readings")
            cur.execute(
                "INSERT OR REPLACE INTO position VALUES (?, ?, ?, ?)",
                [STREAM, after.committed_sequence, after.readings, after.newest_ms],
            )
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        self._position = after
        self._keys.update(new_keys)
        return after

    async def save_devices(self, devices: Mapping[str, DeviceInfo]) -> None:
        """Upsert devices in a transaction of their own."""
        if devices:
            await self._on(self._writer, lambda: self._save_devices(devices))

    def _save_devices(self, devices: Mapping[str, DeviceInfo]) -> None:
        cur = self._cursor_for_writes()
        cur.begin()
        try:
            self._upsert_devices(cur, devices)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise

    @staticmethod
    def _upsert_devices(cur: duckdb.DuckDBPyConnection, devices: Mapping[str, DeviceInfo]) -> None:
        cur.register("incoming_devices", devices_table(devices))
        cur.execute("INSERT OR REPLACE INTO devices SELECT * FROM incoming_devices")
        cur.unregister("incoming_devices")

    def _cursor_for_writes(self) -> duckdb.DuckDBPyConnection:
        if self._write is None:
            raise errors.Unavailable("the store is not open")
        return self._write

    async def query(self, query: AggregateQuery) -> QueryResult:
        sql, params = query_sql(query)
        rows = await self._on(self._readers, lambda: self._read(sql, params))
        truncated = len(rows) > query.limit
        out: list[AggregateRow] = []
        for bucket_ms, district, kind, device_id, n, mean, lo, hi, quantiles in rows[: query.limit]:
            if n == 0:
                continue
            out.append(
                AggregateRow(
                    bucket_start_ns=query.time_range.start_ns if bucket_ms is None else bucket_ms * 1_000_000,
                    district=None if district is None else district_name(district),
                    kind=None if kind is None else kind_name(kind),
                    device_id=device_id,
                    count=n,
                    mean=mean,
                    min=lo,
                    max=hi,
                    p50=quantiles[0],
                    p95=quantiles[1],
                )
            )
        return QueryResult(out, truncated)

    async def export(self, query: ExportQuery) -> Export:
        """Start reading the rows of `query` stored until now (those stored later are not in it)."""
        count, rows, params = export_sql(query, self._position.committed_sequence)

        def start() -> Export:
            cur = self._cursor()
            try:
                [(matched,)] = cur.execute(count, params).fetchall()
                reader = cur.sql(rows, params=params).to_arrow_reader(batch_size=query.batch_rows)
            except BaseException:
                cur.close()
                raise
            return Export(self._readers, cur, reader, int(matched), query.limit, query.batch_rows)

        return await self._on(self._readers, start)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._root is None:
                raise errors.Unavailable("the store is closed")
            return self._root.cursor()

    def _read(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cur = self._cursor()
        try:
            rows: list[tuple[Any, ...]] = cur.execute(sql, params).fetchall()
            return rows
        finally:
            cur.close()

    async def close(self) -> None:
        """Wait for the reads and the write in flight, then close the file."""
        await asyncio.get_running_loop().run_in_executor(None, self._readers.shutdown, True)
        await self._on(self._writer, self._close)
        self._writer.shutdown(wait=True)

    def _close(self) -> None:
        with self._lock:
            if self._write is not None:
                self._write.close()
                self._write = None
            if self._root is not None:
                self._root.close()
                self._root = None
        log.info("store closed", extra={"path": str(self.path)})
