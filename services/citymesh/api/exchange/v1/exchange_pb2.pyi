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

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_PRIVATE: _ClassVar[Visibility]
    VISIBILITY_SHARED: _ClassVar[Visibility]
    VISIBILITY_PUBLIC: _ClassVar[Visibility]

class GrantState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANT_STATE_UNSPECIFIED: _ClassVar[GrantState]
    GRANT_STATE_REQUESTED: _ClassVar[GrantState]
    GRANT_STATE_GRANTED: _ClassVar[GrantState]
    GRANT_STATE_DENIED: _ClassVar[GrantState]
    GRANT_STATE_REVOKED: _ClassVar[GrantState]
    GRANT_STATE_EXPIRED: _ClassVar[GrantState]
GROUP_BY_UNSPECIFIED: GroupBy
GROUP_BY_DISTRICT: GroupBy
GROUP_BY_KIND: GroupBy
GROUP_BY_DEVICE: GroupBy
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_PRIVATE: Visibility
VISIBILITY_SHARED: Visibility
VISIBILITY_PUBLIC: Visibility
GRANT_STATE_UNSPECIFIED: GrantState
GRANT_STATE_REQUESTED: GrantState
GRANT_STATE_GRANTED: GrantState
GRANT_STATE_DENIED: GrantState
GRANT_STATE_REVOKED: GrantState
GRANT_STATE_EXPIRED: GrantState

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
    __slots__ = ("time_range", "bucket", "group_by", "filter", "limit", "dataset_id")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    time_range: _common_pb2.TimeRange
    bucket: _duration_pb2.Duration
    group_by: _containers.RepeatedScalarFieldContainer[GroupBy]
    filter: ReadingFilter
    limit: int
    dataset_id: str
    def __init__(self, time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[GroupBy, str]]] = ..., filter: _Optional[_Union[ReadingFilter, _Mapping]] = ..., limit: _Optional[int] = ..., dataset_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("filter", "dataset_id")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    filter: ReadingFilter
    dataset_id: str
    def __init__(self, filter: _Optional[_Union[ReadingFilter, _Mapping]] = ..., dataset_id: _Optional[str] = ...) -> None: ...

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

class Dataset(_message.Message):
    __slots__ = ("dataset_id", "name", "description", "owner_tenant", "visibility", "selection", "telemetry", "updated_at", "readable", "grant_expires_at")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_TENANT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    READABLE_FIELD_NUMBER: _ClassVar[int]
    GRANT_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    description: str
    owner_tenant: str
    visibility: Visibility
    selection: ReadingFilter
    telemetry: bool
    updated_at: _timestamp_pb2.Timestamp
    readable: bool
    grant_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., owner_tenant: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., selection: _Optional[_Union[ReadingFilter, _Mapping]] = ..., telemetry: _Optional[bool] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., readable: _Optional[bool] = ..., grant_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PublishDatasetRequest(_message.Message):
    __slots__ = ("name", "description", "visibility", "selection")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    visibility: Visibility
    selection: ReadingFilter
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., selection: _Optional[_Union[ReadingFilter, _Mapping]] = ...) -> None: ...

class PublishDatasetResponse(_message.Message):
    __slots__ = ("dataset", "created")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    created: bool
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("owner_tenant",)
    OWNER_TENANT_FIELD_NUMBER: _ClassVar[int]
    owner_tenant: str
    def __init__(self, owner_tenant: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("dataset_id", "tenant", "purpose", "state", "requested_at", "decided_at", "decided_by", "expires_at", "reason")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    tenant: str
    purpose: str
    state: GrantState
    requested_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    decided_by: str
    expires_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, dataset_id: _Optional[str] = ..., tenant: _Optional[str] = ..., purpose: _Optional[str] = ..., state: _Optional[_Union[GrantState, str]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RequestAccessRequest(_message.Message):
    __slots__ = ("dataset_id", "purpose")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    purpose: str
    def __init__(self, dataset_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class RequestAccessResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class GrantAccessRequest(_message.Message):
    __slots__ = ("dataset_id", "tenant", "expires_at", "ttl", "note")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    tenant: str
    expires_at: _timestamp_pb2.Timestamp
    ttl: _duration_pb2.Duration
    note: str
    def __init__(self, dataset_id: _Optional[str] = ..., tenant: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class GrantAccessResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class DenyAccessRequest(_message.Message):
    __slots__ = ("dataset_id", "tenant", "reason")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    tenant: str
    reason: str
    def __init__(self, dataset_id: _Optional[str] = ..., tenant: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DenyAccessResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class RevokeGrantRequest(_message.Message):
    __slots__ = ("dataset_id", "tenant", "reason")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    tenant: str
    reason: str
    def __init__(self, dataset_id: _Optional[str] = ..., tenant: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeGrantResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...

class ExportReadingsRequest(_message.Message):
    __slots__ = ("time_range", "filter", "dataset_id", "limit", "batch_rows")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ROWS_FIELD_NUMBER: _ClassVar[int]
    time_range: _common_pb2.TimeRange
    filter: ReadingFilter
    dataset_id: str
    limit: int
    batch_rows: int
    def __init__(self, time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., filter: _Optional[_Union[ReadingFilter, _Mapping]] = ..., dataset_id: _Optional[str] = ..., limit: _Optional[int] = ..., batch_rows: _Optional[int] = ...) -> None: ...

class ExportReadingsResponse(_message.Message):
    __slots__ = ("arrow_ipc", "rows_sent", "rows_total", "truncated")
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    ROWS_SENT_FIELD_NUMBER: _ClassVar[int]
    ROWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    rows_sent: int
    rows_total: int
    truncated: bool
    def __init__(self, arrow_ipc: _Optional[bytes] = ..., rows_sent: _Optional[int] = ..., rows_total: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...
