import datetime

from citymesh.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DetectionLabel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETECTION_LABEL_UNSPECIFIED: _ClassVar[DetectionLabel]
    DETECTION_LABEL_FIRE: _ClassVar[DetectionLabel]
    DETECTION_LABEL_SMOKE: _ClassVar[DetectionLabel]
    DETECTION_LABEL_CROWD: _ClassVar[DetectionLabel]
    DETECTION_LABEL_VEHICLE_ACCIDENT: _ClassVar[DetectionLabel]
    DETECTION_LABEL_ILLEGAL_PARKING: _ClassVar[DetectionLabel]
    DETECTION_LABEL_FLOODING_ROAD: _ClassVar[DetectionLabel]
    DETECTION_LABEL_PERSON_FALLEN: _ClassVar[DetectionLabel]

class DetectionRejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETECTION_REJECTION_REASON_UNSPECIFIED: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_UNKNOWN_DEVICE: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_NOT_A_CAMERA: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_UNKNOWN_LABEL: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_CONFIDENCE_OUT_OF_RANGE: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_FUTURE_TIMESTAMP: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_TOO_OLD: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_COUNT_OUT_OF_RANGE: _ClassVar[DetectionRejectionReason]
    DETECTION_REJECTION_REASON_BAD_BOUNDING_BOX: _ClassVar[DetectionRejectionReason]
DETECTION_LABEL_UNSPECIFIED: DetectionLabel
DETECTION_LABEL_FIRE: DetectionLabel
DETECTION_LABEL_SMOKE: DetectionLabel
DETECTION_LABEL_CROWD: DetectionLabel
DETECTION_LABEL_VEHICLE_ACCIDENT: DetectionLabel
DETECTION_LABEL_ILLEGAL_PARKING: DetectionLabel
DETECTION_LABEL_FLOODING_ROAD: DetectionLabel
DETECTION_LABEL_PERSON_FALLEN: DetectionLabel
DETECTION_REJECTION_REASON_UNSPECIFIED: DetectionRejectionReason
DETECTION_REJECTION_REASON_UNKNOWN_DEVICE: DetectionRejectionReason
DETECTION_REJECTION_REASON_NOT_A_CAMERA: DetectionRejectionReason
DETECTION_REJECTION_REASON_UNKNOWN_LABEL: DetectionRejectionReason
DETECTION_REJECTION_REASON_CONFIDENCE_OUT_OF_RANGE: DetectionRejectionReason
DETECTION_REJECTION_REASON_FUTURE_TIMESTAMP: DetectionRejectionReason
DETECTION_REJECTION_REASON_TOO_OLD: DetectionRejectionReason
DETECTION_REJECTION_REASON_COUNT_OUT_OF_RANGE: DetectionRejectionReason
DETECTION_REJECTION_REASON_BAD_BOUNDING_BOX: DetectionRejectionReason

class Device(_message.Message):
    __slots__ = ("device_id", "kind", "position", "owner_tenant", "district", "registered_at")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    OWNER_TENANT_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    kind: _common_pb2.DeviceKind
    position: _common_pb2.GeoPoint
    owner_tenant: str
    district: _common_pb2.District
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, device_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., owner_tenant: _Optional[str] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReadingBatch(_message.Message):
    __slots__ = ("batch_id", "device_ids", "device_index", "time_unix_ms", "values")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    device_index: _containers.RepeatedScalarFieldContainer[int]
    time_unix_ms: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, batch_id: _Optional[str] = ..., device_ids: _Optional[_Iterable[str]] = ..., device_index: _Optional[_Iterable[int]] = ..., time_unix_ms: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class BatchAck(_message.Message):
    __slots__ = ("batch_id", "accepted", "rejected", "rejections", "duplicate", "error_code", "error_message")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    accepted: int
    rejected: int
    rejections: _containers.RepeatedCompositeFieldContainer[_common_pb2.Rejection]
    duplicate: bool
    error_code: int
    error_message: str
    def __init__(self, batch_id: _Optional[str] = ..., accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[_common_pb2.Rejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class RegisterDeviceRequest(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class RegisterDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class GetDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class GetDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "district", "kind", "owner_tenant")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_TENANT_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    district: _common_pb2.District
    kind: _common_pb2.DeviceKind
    owner_tenant: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ..., owner_tenant: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "next_page_token")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    next_page_token: str
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeregisterDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class DeregisterDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: ReadingBatch
    def __init__(self, batch: _Optional[_Union[ReadingBatch, _Mapping]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: BatchAck
    def __init__(self, ack: _Optional[_Union[BatchAck, _Mapping]] = ...) -> None: ...

class StreamReadingsRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: ReadingBatch
    def __init__(self, batch: _Optional[_Union[ReadingBatch, _Mapping]] = ...) -> None: ...

class StreamReadingsResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: BatchAck
    def __init__(self, ack: _Optional[_Union[BatchAck, _Mapping]] = ...) -> None: ...

class GetIngestStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIngestStatsResponse(_message.Message):
    __slots__ = ("batches", "readings_accepted", "readings_rejected", "duplicate_batches", "batches_failed", "devices", "detections_accepted", "detections_rejected")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    READINGS_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    READINGS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_BATCHES_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FAILED_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    batches: int
    readings_accepted: int
    readings_rejected: int
    duplicate_batches: int
    batches_failed: int
    devices: int
    detections_accepted: int
    detections_rejected: int
    def __init__(self, batches: _Optional[int] = ..., readings_accepted: _Optional[int] = ..., readings_rejected: _Optional[int] = ..., duplicate_batches: _Optional[int] = ..., batches_failed: _Optional[int] = ..., devices: _Optional[int] = ..., detections_accepted: _Optional[int] = ..., detections_rejected: _Optional[int] = ...) -> None: ...

class BoundingBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class Detection(_message.Message):
    __slots__ = ("device_id", "time_unix_ms", "label", "confidence", "count", "box")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    time_unix_ms: int
    label: DetectionLabel
    confidence: float
    count: int
    box: BoundingBox
    def __init__(self, device_id: _Optional[str] = ..., time_unix_ms: _Optional[int] = ..., label: _Optional[_Union[DetectionLabel, str]] = ..., confidence: _Optional[float] = ..., count: _Optional[int] = ..., box: _Optional[_Union[BoundingBox, _Mapping]] = ...) -> None: ...

class DetectionBatch(_message.Message):
    __slots__ = ("batch_id", "detections")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    detections: _containers.RepeatedCompositeFieldContainer[Detection]
    def __init__(self, batch_id: _Optional[str] = ..., detections: _Optional[_Iterable[_Union[Detection, _Mapping]]] = ...) -> None: ...

class DetectionRejection(_message.Message):
    __slots__ = ("index", "device_id", "reason", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    device_id: str
    reason: DetectionRejectionReason
    message: str
    def __init__(self, index: _Optional[int] = ..., device_id: _Optional[str] = ..., reason: _Optional[_Union[DetectionRejectionReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ReportDetectionsRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: DetectionBatch
    def __init__(self, batch: _Optional[_Union[DetectionBatch, _Mapping]] = ...) -> None: ...

class ReportDetectionsResponse(_message.Message):
    __slots__ = ("batch_id", "accepted", "rejected", "rejections", "duplicate")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    accepted: int
    rejected: int
    rejections: _containers.RepeatedCompositeFieldContainer[DetectionRejection]
    duplicate: bool
    def __init__(self, batch_id: _Optional[str] = ..., accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[DetectionRejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ...) -> None: ...
