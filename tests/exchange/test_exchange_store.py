"""The DuckDB store: position and rows in one transaction, reopened where it stopped, queried safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citymesh.exchange import domain
from citymesh.exchange.domain import DeviceInfo, ReadingFilter, StoredBatch
from citymesh.exchange.store import Store
from citymesh.runtime import errors

T0_MS = 1_767_225_600_000


def batch(sequence: int, device_ids: list[str], values: list[float]) -> StoredBatch:
    n = len(values)
    return StoredBatch(
        sequence,
        device_ids,
        np.arange(n, dtype=np.uint32) % len(device_ids),
        np.arange(n, dtype=np.int64) + T0_MS,
        np.array(values),
        np.full(n, 2, np.uint8),
        np.full(n, 3, np.uint8),
    )


def everything(**overrides: object) -> domain.AggregateQuery:
    values: dict[str, object] = {
        "start_ns": T0_MS * 1_000_000,
        "end_ns": (T0_MS + 60_000) * 1_000_000,
        "bucket": None,
        "group_by": [],
        "filter": ReadingFilter(),
        "limit": 0,
    }
    return domain.aggregate_query(**(values | overrides))  # type: ignore[arg-type]


async def test_rows_and_position_survive_a_reopen_and_a_sequence_is_never_stored_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x" / "exchange.duckdb"
    store = Store(path)
    assert await store.open() == {}
    await store.commit([batch(1, ["a"], [1.0, 2.0]), batch(2, ["b"], [3.0])], sequence=2)
    await store.commit([], sequence=5)  # messages 3..5 were malformed: skipped, position still moves
    await store.save_devices({"a": DeviceInfo(2, 3, revision=4, deregistered=True)})
    with pytest.raises(RuntimeError, match="refusing to store sequence 5 again"):
        await store.commit([batch(5, ["a"], [9.0])], sequence=5)
    await store.close()

    reopened = Store(path)
    devices = await reopened.open()
    try:
        assert reopened.position == domain.Position(committed_sequence=5, readings=3, newest_ms=T0_MS + 1)
        assert devices == {"a": DeviceInfo(2, 3, revision=4, deregistered=True)}
        result = await reopened.query(everything())
        assert [(r.count, r.mean, r.district, r.kind) for r in result.rows] == [(3, 2.0, None, None)]
    finally:
        await reopened.close()


async def test_filter_values_are_parameters_not_sql(tmp_path: Path) -> None:
    store = Store(tmp_path / "exchange.duckdb")
    await store.open()
    try:
        hostile = "x') OR 1=1; DROP TABLE readings; --"
        await store.commit([batch(1, [hostile, "b"], [1.0, 2.0, 3.0])], sequence=1)

        only_hostile = await store.query(everything(filter=ReadingFilter(device_ids=frozenset({hostile}))))
        by_device = await store.query(everything(group_by=[3]))
    finally:
        await store.close()
    assert [(r.device_id, r.count) for r in only_hostile.rows] == [(None, 2)]
    assert [(r.device_id, r.count, r.district, r.kind) for r in by_device.rows] == [
        ("b", 1, "wutong", "air"),
        (hostile, 2, "wutong", "air"),
    ]


async def test_an_unopenable_file_fails_fast_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    store = Store(tmp_path / "not-a-dir" / "exchange.duckdb")
    with pytest.raises(Exception, match="CITYMESH_DB_PATH"):
        await store.open()
    await store.close()


async def test_a_file_of_the_earlier_layout_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE readings (sequence UBIGINT, device_id VARCHAR, time_ms BIGINT, value DOUBLE)"
        )
    store = Store(path)
    with pytest.raises(errors.FailedPrecondition, match="rebuilds it from the TELEMETRY stream"):
        await store.open()
    await store.close()
