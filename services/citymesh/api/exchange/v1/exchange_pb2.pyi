import datetime

from citymesh.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_BY_UNSPECIFIED: _ClassVar[GroupBy]
    GROUP_BY_DISTRICT: _ClassVar[GroupBy]
    GROUP_BY_KIND: _ClassVar[GroupBy]
    GROUP_BY_DEVICE: _ClassVar[GroupBy]
GROUP_BY_UNSPECIFIED: GroupBy
GROUP_BY_DISTRICT: GroupBy
GROUP_BY_KIND: GroupBy
GROUP_BY_DEVICE: GroupBy

class ReadingFilter(_message.Message):
    __slots__ = ("districts", "kinds", "device_ids")
    DISTRICTS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    districts: _containers.RepeatedScalarFieldContainer[_common_pb2.District]
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.DeviceKind]
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, districts: _Optional[_Iterable[_Union[_common_pb2.District, str]]] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.DeviceKind, str]]] = ..., device_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("time_range", "bucket", "group_by", "filter", "limit")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    time_range: _common_pb2.TimeRange
    bucket: _duration_pb2.Duration
    group_by: _containers.RepeatedScalarFieldContainer[GroupBy]
    filter: ReadingFilter
    limit: int
    def __init__(self, time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[GroupBy, str]]] = ..., filter: _Optional[_Union[ReadingFilter, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class AggregateRow(_message.Message):
    __slots__ = ("bucket_start", "district", "kind", "device_id", "count", "mean", "min", "max", "p50", "p95")
    BUCKET_START_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    bucket_start: _timestamp_pb2.Timestamp
    district: _common_pb2.District
    kind: _common_pb2.DeviceKind
    device_id: str
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p95: float
    def __init__(self, bucket_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ..., device_id: _Optional[str] = ..., count: _Optional[int] = ..., mean: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., p50: _Optional[float] = ..., p95: _Optional[float] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("rows", "truncated")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[AggregateRow]
    truncated: bool
    def __init__(self, rows: _Optional[_Iterable[_Union[AggregateRow, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: ReadingFilter
    def __init__(self, filter: _Optional[_Union[ReadingFilter, _Mapping]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("readings",)
    READINGS_FIELD_NUMBER: _ClassVar[int]
    readings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reading]
    def __init__(self, readings: _Optional[_Iterable[_Union[_common_pb2.Reading, _Mapping]]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("rows", "devices", "committed_sequence", "stream_sequence", "lag_batches", "newest_reading")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STREAM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAG_BATCHES_FIELD_NUMBER: _ClassVar[int]
    NEWEST_READING_FIELD_NUMBER: _ClassVar[int]
    rows: int
    devices: int
    committed_sequence: int
    stream_sequence: int
    lag_batches: int
    newest_reading: _timestamp_pb2.Timestamp
    def __init__(self, rows: _Optional[int] = ..., devices: _Optional[int] = ..., committed_sequence: _Optional[int] = ..., stream_sequence: _Optional[int] = ..., lag_batches: _Optional[int] = ..., newest_reading: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
