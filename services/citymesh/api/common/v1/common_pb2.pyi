import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class District(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISTRICT_UNSPECIFIED: _ClassVar[District]
    DISTRICT_GOUZHAO: _ClassVar[District]
    DISTRICT_FENGYANG: _ClassVar[District]
    DISTRICT_WUTONG: _ClassVar[District]
    DISTRICT_SHIFO: _ClassVar[District]
    DISTRICT_SHUANGQIAO: _ClassVar[District]

class DeviceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_KIND_UNSPECIFIED: _ClassVar[DeviceKind]
    DEVICE_KIND_CAMERA: _ClassVar[DeviceKind]
    DEVICE_KIND_AIR: _ClassVar[DeviceKind]
    DEVICE_KIND_NOISE: _ClassVar[DeviceKind]
    DEVICE_KIND_WATER: _ClassVar[DeviceKind]
    DEVICE_KIND_TRAFFIC: _ClassVar[DeviceKind]
    DEVICE_KIND_TEMPERATURE: _ClassVar[DeviceKind]

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_UNKNOWN_DEVICE: _ClassVar[RejectionReason]
    REJECTION_REASON_NOT_FINITE: _ClassVar[RejectionReason]
    REJECTION_REASON_FUTURE_TIMESTAMP: _ClassVar[RejectionReason]
    REJECTION_REASON_TOO_OLD: _ClassVar[RejectionReason]
    REJECTION_REASON_VALUE_OUT_OF_RANGE: _ClassVar[RejectionReason]
    REJECTION_REASON_BAD_DEVICE_INDEX: _ClassVar[RejectionReason]
DISTRICT_UNSPECIFIED: District
DISTRICT_GOUZHAO: District
DISTRICT_FENGYANG: District
DISTRICT_WUTONG: District
DISTRICT_SHIFO: District
DISTRICT_SHUANGQIAO: District
DEVICE_KIND_UNSPECIFIED: DeviceKind
DEVICE_KIND_CAMERA: DeviceKind
DEVICE_KIND_AIR: DeviceKind
DEVICE_KIND_NOISE: DeviceKind
DEVICE_KIND_WATER: DeviceKind
DEVICE_KIND_TRAFFIC: DeviceKind
DEVICE_KIND_TEMPERATURE: DeviceKind
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_UNKNOWN_DEVICE: RejectionReason
REJECTION_REASON_NOT_FINITE: RejectionReason
REJECTION_REASON_FUTURE_TIMESTAMP: RejectionReason
REJECTION_REASON_TOO_OLD: RejectionReason
REJECTION_REASON_VALUE_OUT_OF_RANGE: RejectionReason
REJECTION_REASON_BAD_DEVICE_INDEX: RejectionReason

class GeoPoint(_message.Message):
    __slots__ = ("longitude", "latitude")
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    longitude: float
    latitude: float
    def __init__(self, longitude: _Optional[float] = ..., latitude: _Optional[float] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Reading(_message.Message):
    __slots__ = ("device_id", "time_unix_ms", "value", "kind", "district")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    time_unix_ms: int
    value: float
    kind: DeviceKind
    district: District
    def __init__(self, device_id: _Optional[str] = ..., time_unix_ms: _Optional[int] = ..., value: _Optional[float] = ..., kind: _Optional[_Union[DeviceKind, str]] = ..., district: _Optional[_Union[District, str]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("index", "device_id", "reason", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    device_id: str
    reason: RejectionReason
    message: str
    def __init__(self, index: _Optional[int] = ..., device_id: _Optional[str] = ..., reason: _Optional[_Union[RejectionReason, str]] = ..., message: _Optional[str] = ...) -> None: ...
