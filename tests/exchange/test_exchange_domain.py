"""The exchange's domain: query validation, time ranges and buckets, filters over stored batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.exchange import domain
from citymesh.exchange.domain import AggregateQuery, Dimension, ReadingFilter, StoredBatch, TimeRange
from citymesh.runtime import errors

MINUTE_NS = 60 * 1_000_000_000
T0 = 1_767_225_600 * 1_000_000_000


def query(**overrides: object) -> AggregateQuery:
    values: dict[str, object] = {
        "start_ns": T0,
        "end_ns": T0 + MINUTE_NS,
        "bucket": None,
        "group_by": [],
        "filter": ReadingFilter(),
        "limit": 0,
    }
    return domain.aggregate_query(**(values | overrides))  # type: ignore[arg-type]


def test_a_valid_query_has_defaults_filled_in() -> None:
    q = query(bucket=(10, 0), group_by=[3, 1, 3])
    assert q.limit == domain.MAX_LIMIT
    assert q.bucket_ms == 10_000
    assert q.group_by == (Dimension.DISTRICT, Dimension.DEVICE)
    assert q.buckets == 6


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"start_ns": None}, "time_range is required"),
        ({"end_ns": None}, "time_range is required"),
        ({"end_ns": T0}, "must be after time_range.start"),
        ({"end_ns": T0 - 1}, "must be after time_range.start"),
        ({"bucket": (0, 0)}, "at least 1 s"),
        ({"bucket": (-5, 0)}, "at least 1 s"),
        ({"bucket": (1, 500_000_000)}, "whole number of seconds"),
        ({"bucket": (0, 999_999_999)}, "whole number of seconds"),
        ({"limit": 10_001}, "at most 10000"),
        ({"group_by": [0]}, "not a dimension"),
        ({"group_by": [4]}, "not a dimension"),
        ({"end_ns": T0 + 100_001 * 1_000_000_000, "bucket": (1, 0)}, "100001 buckets"),
    ],
)
def test_bad_queries_are_refused_with_what_to_change(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=reason):
        query(**overrides)


def test_exactly_the_bucket_limit_is_accepted() -> None:
    q = query(end_ns=T0 + domain.MAX_BUCKETS * 1_000_000_000, bucket=(1, 0))
    assert q.buckets == domain.MAX_BUCKETS


@pytest.mark.parametrize(
    ("filter_args", "reason"),
    [
        ({"districts": frozenset({"atlantis"})}, "unknown sub-district"),
        ({"kinds": frozenset({"radar"})}, "unknown kind"),
        ({"device_ids": frozenset({""})}, "empty id"),
        ({"device_ids": frozenset(f"d{i}" for i in range(10_001))}, "at most 10000"),
    ],
)
def test_bad_filters_are_refused(filter_args: dict[str, frozenset[str]], reason: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=reason):
        ReadingFilter(**filter_args)


@pytest.mark.parametrize(
    ("seconds", "nanos", "reason"),
    [
        (0, -1, "nanos"),
        (0, 1_000_000_000, "nanos"),
        (domain.MAX_SECONDS + 1, 0, "9999"),
        (-(10**12), 0, "0001"),
    ],
)
def test_invalid_timestamps_are_refused(seconds: int, nanos: int, reason: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=reason):
        domain.instant_ns("time_range.start", seconds, nanos)


@given(
    start_ns=st.integers(-(10**15), 10**15),
    length_ns=st.integers(1, 10**13),
    t_ms=st.integers(-(10**9), 10**9),
)
def test_a_reading_is_in_the_range_exactly_when_its_millisecond_is(
    start_ns: int, length_ns: int, t_ms: int
) -> None:
    r = TimeRange(start_ns, start_ns + length_ns)
    t = r.first_ms + t_ms % 2000 - 1000
    assert (r.first_ms <= t < r.end_ms) == (r.start_ns <= t * 1_000_000 < r.end_ns)


@given(
    start_ms=st.integers(-(10**12), 10**12),
    length_ms=st.integers(1, 10**6),
    bucket_s=st.integers(1, 5000),
)
def test_bucket_count_is_the_number_of_epoch_aligned_buckets_touched(
    start_ms: int, length_ms: int, bucket_s: int
) -> None:
    q = AggregateQuery(
        TimeRange(start_ms * 1_000_000, (start_ms + length_ms) * 1_000_000), bucket_s, (), ReadingFilter(), 1
    )
    b = bucket_s * 1000
    touched = {t // b for t in (start_ms, start_ms + length_ms - 1)}
    assert q.buckets == max(touched) - min(touched) + 1


def batch_of(
    device_ids: list[str], index: list[int], kinds: list[int], districts: list[int], sequence: int = 1
) -> StoredBatch:
    n = len(index)
    return StoredBatch(
        sequence,
        device_ids,
        np.array(index, dtype=np.uint32),
        np.arange(n, dtype=np.int64) + 1000,
        np.arange(n, dtype=np.float64),
        np.array(kinds, dtype=np.uint8),
        np.array(districts, dtype=np.uint8),
    )


@st.composite
def batches_and_filters(draw: st.DrawFn) -> tuple[StoredBatch, ReadingFilter]:
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
    n = draw(st.integers(0, 30))
    index = draw(st.lists(st.integers(0, len(ids) - 1), min_size=n, max_size=n))
    kinds = draw(st.lists(st.integers(0, len(KIND_NAMES)), min_size=n, max_size=n))
    districts = draw(st.lists(st.integers(0, len(DISTRICTS)), min_size=n, max_size=n))
    flt = ReadingFilter(
        districts=frozenset(draw(st.sets(st.sampled_from(DISTRICTS), max_size=2))),
        kinds=frozenset(draw(st.sets(st.sampled_from(KIND_NAMES), max_size=2))),
        device_ids=frozenset(draw(st.sets(st.sampled_from(["a", "b", "x"]), max_size=2))),
    )
    return batch_of(ids, index, kinds, districts), flt


@given(batches_and_filters())
def test_a_filter_selects_the_readings_matching_every_nonempty_list(
    case: tuple[StoredBatch, ReadingFilter],
) -> None:
    batch, flt = case

    def matches(i: int) -> bool:
        return (
            (not flt.districts or domain.district_name(int(batch.district[i])) in flt.districts)
            and (not flt.kinds or domain.kind_name(int(batch.kind[i])) in flt.kinds)
            and (not flt.device_ids or batch.device_ids[batch.device_index[i]] in flt.device_ids)
        )

    want = [float(batch.value[i]) for i in range(len(batch)) if matches(i)]
    selected = flt.select(batch)
    got = [] if selected is None else selected.value.tolist()
    assert got == want
    if selected is not None:
        assert selected.sequence == batch.sequence
        assert len(selected.kind) == len(selected.district) == len(selected.device_index) == len(want)


def test_codes_follow_the_city_order_with_zero_for_unknown() -> None:
    assert [domain.kind_code(k) for k in KIND_NAMES] == list(range(1, len(KIND_NAMES) + 1))
    assert domain.district_name(0) is None
    assert domain.kind_name(99) is None
    assert domain.district_name(domain.district_code("wutong")) == "wutong"


def test_malformed_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        domain.ReadingColumns(["a"], np.zeros(2, np.uint32), np.zeros(1, np.int64), np.zeros(1))
    with pytest.raises(ValueError, match="points past"):
        domain.ReadingColumns(["a"], np.ones(1, np.uint32), np.zeros(1, np.int64), np.zeros(1))


def test_format_ms_is_rfc3339_utc() -> None:
    assert domain.format_ms(1_767_225_600_250) == "2026-01-01T00:00:00.250Z"


def test_lag_is_never_negative() -> None:
    assert domain.Stats(0, 0, committed_sequence=5, stream_sequence=3, newest_ms=None).lag_batches == 0
