"""The exchange's vocabulary: aggregate queries and their validation, stored batches, statistics.

No transport and no storage here: the servicer converts protobuf into these types (convert.py),
the store answers them (store.py). Every refusal is an `errors.InvalidArgument` whose message says
what to change.

Kinds and sub-districts travel through the store and the subscriptions as small integer codes: the
1-based position in `citymesh.city.KIND_NAMES` / `DISTRICTS` (the order of the proto enums), with 0
for "not known" (a reading whose device the registry never described to the exchange).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.runtime import errors

MAX_LIMIT = 10_000
"""Most rows one Query returns (and its default)."""
MAX_BUCKETS = 100_000
"""Most time buckets one Query may span."""
MAX_FILTER_DEVICES = 10_000
"""Most device ids one filter may list."""
MAX_EXPORT_ROWS = 10_000_000
"""Most readings one ExportReadings sends (and its default)."""
DEFAULT_BATCH_ROWS = 32_768
MAX_BATCH_ROWS = 100_000
"""Most readings in one exported record batch."""

NS_PER_MS = 1_000_000
MIN_SECONDS = -62_135_596_800
"""0001-01-01T00:00:00Z, the earliest valid protobuf Timestamp."""
MAX_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the latest valid protobuf Timestamp."""

UNKNOWN = 0
"""Code of a kind or sub-district that is not known."""


def kind_code(name: str | None) -> int:
    return UNKNOWN if name is None else KIND_NAMES.index(name) + 1


def kind_name(code: int) -> str | None:
    return KIND_NAMES[code - 1] if 1 <= code <= len(KIND_NAMES) else None


def district_code(name: str | None) -> int:
    return UNKNOWN if name is None else DISTRICTS.index(name) + 1


def district_name(code: int) -> str | None:
    return DISTRICTS[code - 1] if 1 <= code <= len(DISTRICTS) else None


def format_ms(time_ms: int) -> str:
    """An epoch-millisecond time as RFC 3339 UTC, e.g. 2026-05-01T08:00:00.250Z."""
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def instant_ns(name: str, seconds: int, nanos: int) -> int:
    """A protobuf Timestamp's (seconds, nanos) as epoch nanoseconds, or InvalidArgument."""
    if not 0 <= nanos < 1_000_000_000:
        raise errors.InvalidArgument(f"{name}.nanos is {nanos}; it must be in [0, 999999999]")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise errors.InvalidArgument(
            f"{name} is {seconds} s from the epoch; it must be between 0001-01-01 and 9999-12-31"
        )
    return seconds * 1_000_000_000 + nanos


class Dimension(enum.IntEnum):
    """What aggregates can be grouped by; the value is the order of the grouping columns."""

    DISTRICT = 1
    KIND = 2
    DEVICE = 3


@dataclass(frozen=True)
class ReadingFilter:
    """Which readings to take: each non-empty set must contain the reading's value (sets are ANDed)."""

    districts: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    device_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown_districts = sorted(self.districts - set(DISTRICTS))
        if unknown_districts:
            raise errors.InvalidArgument(
                f"filter.districts: unknown sub-district(s) {unknown_districts}; known: {list(DISTRICTS)}"
            )
        unknown_kinds = sorted(self.kinds - set(KIND_NAMES))
        if unknown_kinds:
            raise errors.InvalidArgument(
                f"filter.kinds: unknown kind(s) {unknown_kinds}; known: {list(KIND_NAMES)}"
            )
        if len(self.device_ids) > MAX_FILTER_DEVICES:
            raise errors.InvalidArgument(
                f"filter.device_ids lists {len(self.device_ids)} devices; at most {MAX_FILTER_DEVICES}: "
                "filter by sub-district or kind instead, or split the request"
            )
        if "" in self.device_ids:
            raise errors.InvalidArgument("filter.device_ids contains an empty id")

    @property
    def district_codes(self) -> list[int]:
        return sorted(district_code(d) for d in self.districts)

    @property
    def kind_codes(self) -> list[int]:
        return sorted(kind_code(k) for k in self.kinds)

    @property
    def matches_all(self) -> bool:
        return not (self.districts or self.kinds or self.device_ids)

    def within(self, other: ReadingFilter) -> ReadingFilter | None:
        """The readings both filters match (a dataset's selection narrowed by a request's filter),
        or None when no reading can match both."""

        def both(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
            if not a or not b:
                return a or b
            return (a & b) or None

        districts = both(self.districts, other.districts)
        kinds = both(self.kinds, other.kinds)
        device_ids = both(self.device_ids, other.device_ids)
        if districts is None or kinds is None or device_ids is None:
            return None
        return ReadingFilter(districts, kinds, device_ids)

    def select(self, batch: StoredBatch) -> StoredBatch | None:
        """The part of `batch` this filter matches, or None when nothing matches."""
        if self.matches_all:
            return batch if len(batch) else None
        mask = np.ones(len(batch), dtype=bool)
        if self.districts:
            mask &= np.isin(batch.district, self.district_codes)
        if self.kinds:
            mask &= np.isin(batch.kind, self.kind_codes)
        if self.device_ids:
            wanted = np.fromiter((d in self.device_ids for d in batch.device_ids), dtype=bool)
            mask &= wanted[batch.device_index] if len(wanted) else False
        if not mask.any():
            return None
        if mask.all():
            return batch
        return batch.take(mask)


@dataclass(frozen=True)
class TimeRange:
    """The half-open interval [start, end) in epoch nanoseconds; end is after start."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise errors.InvalidArgument(
                "time_range.end must be after time_range.start (the range is half-open: [start, end))"
            )

    @property
    def first_ms(self) -> int:
        """The first whole millisecond in the range (readings are stored in milliseconds)."""
        return -(-self.start_ns // NS_PER_MS)

    @property
    def end_ms(self) -> int:
        """The first whole millisecond after the range."""
        return -(-self.end_ns // NS_PER_MS)


@dataclass(frozen=True)
class AggregateQuery:
    """A validated Query: build it with `aggregate_query`."""

    time_range: TimeRange
    bucket_s: int | None
    group_by: tuple[Dimension, ...]
    filter: ReadingFilter
    limit: int

    @property
    def bucket_ms(self) -> int | None:
        return None if self.bucket_s is None else self.bucket_s * 1000

    @property
    def buckets(self) -> int:
        """How many epoch-aligned buckets the range touches."""
        if self.bucket_ms is None:
            return 1
        r = self.time_range
        if r.end_ms <= r.first_ms:
            return 1
        return (r.end_ms - 1) // self.bucket_ms - r.first_ms // self.bucket_ms + 1


def time_range(start_ns: int | None, end_ns: int | None) -> TimeRange:
    if start_ns is None or end_ns is None:
        raise errors.InvalidArgument("time_range is required: set both time_range.start and time_range.end")
    return TimeRange(start_ns, end_ns)


def aggregate_query(
    *,
    start_ns: int | None,
    end_ns: int | None,
    bucket: tuple[int, int] | None,
    group_by: list[int],
    filter: ReadingFilter,
    limit: int,
) -> AggregateQuery:
    """Validate a query. `bucket` is a Duration's (seconds, nanos); `group_by` GroupBy numbers."""
    range_ = time_range(start_ns, end_ns)
    bucket_s: int | None = None
    if bucket is not None:
        seconds, nanos = bucket
        if nanos != 0 or seconds < 1:
            raise errors.InvalidArgument(
                f"bucket is {seconds + nanos / 1e9:g} s; it must be a whole number of seconds, at least 1 s"
                " (or unset for one bucket over the whole range)"
            )
        bucket_s = seconds
    dims: set[Dimension] = set()
    for number in group_by:
        try:
            dims.add(Dimension(number))
        except ValueError:
            raise errors.InvalidArgument(
                f"group_by: {number} is not a dimension; use GROUP_BY_DISTRICT, GROUP_BY_KIND or GROUP_BY_DEVICE"
            ) from None
    if limit < 0 or limit > MAX_LIMIT:
        raise errors.InvalidArgument(
            f"limit is {limit}; it must be at most {MAX_LIMIT} (0 means {MAX_LIMIT})"
        )
    query = AggregateQuery(range_, bucket_s, tuple(sorted(dims)), filter, limit or MAX_LIMIT)
    if query.buckets > MAX_BUCKETS:
        raise errors.InvalidArgument(
            f"the range spans {query.buckets} buckets of {bucket_s} s; at most {MAX_BUCKETS}: "
            "widen the bucket or narrow the time range"
        )
    return query


@dataclass(frozen=True)
class ExportQuery:
    """A validated ExportReadings: build it with `export_query`."""

    time_range: TimeRange
    filter: ReadingFilter
    limit: int
    batch_rows: int


def export_query(
    *, start_ns: int | None, end_ns: int | None, filter: ReadingFilter, limit: int, batch_rows: int
) -> ExportQuery:
    """Validate an export; `limit` and `batch_rows` 0 take their defaults."""
    if limit < 0 or limit > MAX_EXPORT_ROWS:
        raise errors.InvalidArgument(
            f"limit is {limit}; it must be at most {MAX_EXPORT_ROWS} (0 means {MAX_EXPORT_ROWS}): "
            "split a larger export by time range"
        )
    if batch_rows < 0 or batch_rows > MAX_BATCH_ROWS:
        raise errors.InvalidArgument(
            f"batch_rows is {batch_rows}; it must be at most {MAX_BATCH_ROWS} (0 means {DEFAULT_BATCH_ROWS})"
        )
    return ExportQuery(
        time_range(start_ns, end_ns), filter, limit or MAX_EXPORT_ROWS, batch_rows or DEFAULT_BATCH_ROWS
    )


@dataclass(frozen=True)
class AggregateRow:
    """The aggregate of one bucket and group; district/kind/device_id are None when not grouped by."""

    bucket_start_ns: int
    district: str | None
    kind: str | None
    device_id: str | None
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p95: float


@dataclass(frozen=True)
class QueryResult:
    rows: list[AggregateRow]
    truncated: bool


@dataclass(frozen=True, eq=False)
class ReadingColumns:
    """The readings of one stream message as collection published them (device_index → device_ids)."""

    device_ids: list[str]
    device_index: npt.NDArray[np.uint32]
    time_ms: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.time_ms)
        if len(self.device_index) != n or len(self.value) != n:
            raise ValueError(
                f"columns of different lengths: device_index {len(self.device_index)}, "
                f"time_unix_ms {n}, values {len(self.value)}"
            )
        if n and int(self.device_index.max()) >= len(self.device_ids):
            raise ValueError(f"a device_index points past the {len(self.device_ids)} device ids")


@dataclass(frozen=True, eq=False)
class StoredBatch:
    """The readings of one stream message, columnar, with each reading's kind and sub-district code.

    `device_index[i]` points into `device_ids`, as in collection's ReadingBatch.
    """

    sequence: int
    device_ids: list[str]
    device_index: npt.NDArray[np.uint32]
    time_ms: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    kind: npt.NDArray[np.uint8]
    district: npt.NDArray[np.uint8]
    oldest_ms: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "oldest_ms", int(self.time_ms.min()) if len(self.time_ms) else 0)

    def __len__(self) -> int:
        return len(self.time_ms)

    def take(self, mask: npt.NDArray[np.bool_]) -> StoredBatch:
        return StoredBatch(
            self.sequence,
            self.device_ids,
            self.device_index[mask],
            self.time_ms[mask],
            self.value[mask],
            self.kind[mask],
            self.district[mask],
        )

    @property
    def newest_ms(self) -> int | None:
        return int(self.time_ms.max()) if len(self.time_ms) else None


@dataclass(frozen=True)
class DeviceInfo:
    """What the exchange knows of a device: enough to attribute its readings."""

    kind: int
    district: int
    revision: int
    deregistered: bool = False
    owner_tenant: str = ""


@dataclass(frozen=True)
class Position:
    """How far the store is: the last stream sequence committed, and what it holds."""

    committed_sequence: int = 0
    readings: int = 0
    newest_ms: int | None = None


@dataclass(frozen=True)
class Stats:
    rows: int
    devices: int
    committed_sequence: int
    stream_sequence: int
    newest_ms: int | None

    @property
    def lag_batches(self) -> int:
        return max(0, self.stream_sequence - self.committed_sequence)
