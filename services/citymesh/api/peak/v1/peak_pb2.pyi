import datetime

from citymesh.api.collection.v1 import collection_pb2 as _collection_pb2
from citymesh.api.common.v1 import common_pb2 as _common_pb2
from citymesh.api.compute.v1 import compute_pb2 as _compute_pb2
from citymesh.api.exchange.v1 import exchange_pb2 as _exchange_pb2
from citymesh.api.governance.v1 import governance_pb2 as _governance_pb2
from citymesh.api.governance.v1 import incidents_pb2 as _incidents_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Theme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THEME_UNSPECIFIED: _ClassVar[Theme]
    THEME_SENSOR_IOT: _ClassVar[Theme]
    THEME_FIVE_G: _ClassVar[Theme]
    THEME_DIGITAL_GOVERNANCE: _ClassVar[Theme]

class SceneKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCENE_KIND_UNSPECIFIED: _ClassVar[SceneKind]
    SCENE_KIND_LIFE: _ClassVar[SceneKind]
    SCENE_KIND_PRODUCTION: _ClassVar[SceneKind]
    SCENE_KIND_ECOLOGY: _ClassVar[SceneKind]

class ProjectState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_STATE_UNSPECIFIED: _ClassVar[ProjectState]
    PROJECT_STATE_ACTIVE: _ClassVar[ProjectState]
    PROJECT_STATE_COMPLETED: _ClassVar[ProjectState]
THEME_UNSPECIFIED: Theme
THEME_SENSOR_IOT: Theme
THEME_FIVE_G: Theme
THEME_DIGITAL_GOVERNANCE: Theme
SCENE_KIND_UNSPECIFIED: SceneKind
SCENE_KIND_LIFE: SceneKind
SCENE_KIND_PRODUCTION: SceneKind
SCENE_KIND_ECOLOGY: SceneKind
PROJECT_STATE_UNSPECIFIED: ProjectState
PROJECT_STATE_ACTIVE: ProjectState
PROJECT_STATE_COMPLETED: ProjectState

class DescribePeakRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribePeakResponse(_message.Message):
    __slots__ = ("tenant", "district", "theme", "kernels", "scenes")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    THEME_FIELD_NUMBER: _ClassVar[int]
    KERNELS_FIELD_NUMBER: _ClassVar[int]
    SCENES_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    district: _common_pb2.District
    theme: Theme
    kernels: _containers.RepeatedScalarFieldContainer[str]
    scenes: int
    def __init__(self, tenant: _Optional[str] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., theme: _Optional[_Union[Theme, str]] = ..., kernels: _Optional[_Iterable[str]] = ..., scenes: _Optional[int] = ...) -> None: ...

class RegisterDeviceRequest(_message.Message):
    __slots__ = ("device_id", "kind", "position")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    kind: _common_pb2.DeviceKind
    position: _common_pb2.GeoPoint
    def __init__(self, device_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ...) -> None: ...

class RegisterDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: _collection_pb2.Device
    def __init__(self, device: _Optional[_Union[_collection_pb2.Device, _Mapping]] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: _common_pb2.DeviceKind
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "next_page_token")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[_collection_pb2.Device]
    next_page_token: str
    def __init__(self, devices: _Optional[_Iterable[_Union[_collection_pb2.Device, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AvailabilityWindow(_message.Message):
    __slots__ = ("weekdays", "open_minute", "close_minute")
    WEEKDAYS_FIELD_NUMBER: _ClassVar[int]
    OPEN_MINUTE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_MINUTE_FIELD_NUMBER: _ClassVar[int]
    weekdays: _containers.RepeatedScalarFieldContainer[int]
    open_minute: int
    close_minute: int
    def __init__(self, weekdays: _Optional[_Iterable[int]] = ..., open_minute: _Optional[int] = ..., close_minute: _Optional[int] = ...) -> None: ...

class Scene(_message.Message):
    __slots__ = ("scene_id", "name", "place", "position", "kind", "capacity", "availability", "description")
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    scene_id: str
    name: str
    place: str
    position: _common_pb2.GeoPoint
    kind: SceneKind
    capacity: int
    availability: _containers.RepeatedCompositeFieldContainer[AvailabilityWindow]
    description: str
    def __init__(self, scene_id: _Optional[str] = ..., name: _Optional[str] = ..., place: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., kind: _Optional[_Union[SceneKind, str]] = ..., capacity: _Optional[int] = ..., availability: _Optional[_Iterable[_Union[AvailabilityWindow, _Mapping]]] = ..., description: _Optional[str] = ...) -> None: ...

class ListScenesRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: SceneKind
    def __init__(self, kind: _Optional[_Union[SceneKind, str]] = ...) -> None: ...

class ListScenesResponse(_message.Message):
    __slots__ = ("scenes",)
    SCENES_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[Scene]
    def __init__(self, scenes: _Optional[_Iterable[_Union[Scene, _Mapping]]] = ...) -> None: ...

class Booking(_message.Message):
    __slots__ = ("booking_id", "scene_id", "project_id", "time_range", "participants", "purpose", "booked_at", "booked_by")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    BOOKED_AT_FIELD_NUMBER: _ClassVar[int]
    BOOKED_BY_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    scene_id: str
    project_id: str
    time_range: _common_pb2.TimeRange
    participants: int
    purpose: str
    booked_at: _timestamp_pb2.Timestamp
    booked_by: str
    def __init__(self, booking_id: _Optional[str] = ..., scene_id: _Optional[str] = ..., project_id: _Optional[str] = ..., time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., participants: _Optional[int] = ..., purpose: _Optional[str] = ..., booked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., booked_by: _Optional[str] = ...) -> None: ...

class BookSceneRequest(_message.Message):
    __slots__ = ("scene_id", "project_id", "time_range", "participants", "purpose")
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    scene_id: str
    project_id: str
    time_range: _common_pb2.TimeRange
    participants: int
    purpose: str
    def __init__(self, scene_id: _Optional[str] = ..., project_id: _Optional[str] = ..., time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., participants: _Optional[int] = ..., purpose: _Optional[str] = ...) -> None: ...

class BookSceneResponse(_message.Message):
    __slots__ = ("booking",)
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    booking: Booking
    def __init__(self, booking: _Optional[_Union[Booking, _Mapping]] = ...) -> None: ...

class ListBookingsRequest(_message.Message):
    __slots__ = ("scene_id",)
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    scene_id: str
    def __init__(self, scene_id: _Optional[str] = ...) -> None: ...

class ListBookingsResponse(_message.Message):
    __slots__ = ("bookings",)
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    def __init__(self, bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ...) -> None: ...

class CancelBookingRequest(_message.Message):
    __slots__ = ("scene_id", "booking_id")
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    scene_id: str
    booking_id: str
    def __init__(self, scene_id: _Optional[str] = ..., booking_id: _Optional[str] = ...) -> None: ...

class CancelBookingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Milestone(_message.Message):
    __slots__ = ("name", "due", "reached_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    REACHED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    due: _timestamp_pb2.Timestamp
    reached_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reached_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Contract(_message.Message):
    __slots__ = ("contract_id", "amount_fen", "client", "place", "recorded_at", "claim_id")
    CONTRACT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    contract_id: str
    amount_fen: int
    client: str
    place: str
    recorded_at: _timestamp_pb2.Timestamp
    claim_id: str
    def __init__(self, contract_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., client: _Optional[str] = ..., place: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claim_id: _Optional[str] = ...) -> None: ...

class Project(_message.Message):
    __slots__ = ("project_id", "name", "investment_fen", "local_enterprise", "technology", "leading_industry", "state", "milestones", "registered_at", "completed_at", "result", "subsidy_claim_id", "contracts")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INVESTMENT_FEN_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    TECHNOLOGY_FIELD_NUMBER: _ClassVar[int]
    LEADING_INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    investment_fen: int
    local_enterprise: bool
    technology: str
    leading_industry: bool
    state: ProjectState
    milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    registered_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    result: _governance_pb2.ProjectResult
    subsidy_claim_id: str
    contracts: _containers.RepeatedCompositeFieldContainer[Contract]
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., investment_fen: _Optional[int] = ..., local_enterprise: _Optional[bool] = ..., technology: _Optional[str] = ..., leading_industry: _Optional[bool] = ..., state: _Optional[_Union[ProjectState, str]] = ..., milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[_governance_pb2.ProjectResult, str]] = ..., subsidy_claim_id: _Optional[str] = ..., contracts: _Optional[_Iterable[_Union[Contract, _Mapping]]] = ...) -> None: ...

class RegisterProjectRequest(_message.Message):
    __slots__ = ("project_id", "name", "investment_fen", "local_enterprise", "technology", "leading_industry")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INVESTMENT_FEN_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    TECHNOLOGY_FIELD_NUMBER: _ClassVar[int]
    LEADING_INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    investment_fen: int
    local_enterprise: bool
    technology: str
    leading_industry: bool
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., investment_fen: _Optional[int] = ..., local_enterprise: _Optional[bool] = ..., technology: _Optional[str] = ..., leading_industry: _Optional[bool] = ...) -> None: ...

class RegisterProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects",)
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ...) -> None: ...

class AddMilestoneRequest(_message.Message):
    __slots__ = ("project_id", "name", "due")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    due: _timestamp_pb2.Timestamp
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddMilestoneResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class CompleteMilestoneRequest(_message.Message):
    __slots__ = ("project_id", "name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CompleteMilestoneResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class CompleteProjectRequest(_message.Message):
    __slots__ = ("project_id", "result")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    result: _governance_pb2.ProjectResult
    def __init__(self, project_id: _Optional[str] = ..., result: _Optional[_Union[_governance_pb2.ProjectResult, str]] = ...) -> None: ...

class CompleteProjectResponse(_message.Message):
    __slots__ = ("project", "decision")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    project: Project
    decision: _governance_pb2.AwardDecision
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., decision: _Optional[_Union[_governance_pb2.AwardDecision, _Mapping]] = ...) -> None: ...

class RecordContractRequest(_message.Message):
    __slots__ = ("project_id", "contract_id", "amount_fen", "client", "place")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    contract_id: str
    amount_fen: int
    client: str
    place: str
    def __init__(self, project_id: _Optional[str] = ..., contract_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., client: _Optional[str] = ..., place: _Optional[str] = ...) -> None: ...

class RecordContractResponse(_message.Message):
    __slots__ = ("project", "decision")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    project: Project
    decision: _governance_pb2.AwardDecision
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., decision: _Optional[_Union[_governance_pb2.AwardDecision, _Mapping]] = ...) -> None: ...

class ListAwardsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListAwardsResponse(_message.Message):
    __slots__ = ("decisions", "total_fen")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[_governance_pb2.AwardDecision]
    total_fen: int
    def __init__(self, decisions: _Optional[_Iterable[_Union[_governance_pb2.AwardDecision, _Mapping]]] = ..., total_fen: _Optional[int] = ...) -> None: ...

class QueryDataRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: _exchange_pb2.QueryRequest
    def __init__(self, query: _Optional[_Union[_exchange_pb2.QueryRequest, _Mapping]] = ...) -> None: ...

class QueryDataResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.QueryResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.QueryResponse, _Mapping]] = ...) -> None: ...

class ExportReadingsRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.ExportReadingsRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.ExportReadingsRequest, _Mapping]] = ...) -> None: ...

class ExportReadingsResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: _exchange_pb2.ExportReadingsResponse
    def __init__(self, chunk: _Optional[_Union[_exchange_pb2.ExportReadingsResponse, _Mapping]] = ...) -> None: ...

class PublishDatasetRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.PublishDatasetRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.PublishDatasetRequest, _Mapping]] = ...) -> None: ...

class PublishDatasetResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.PublishDatasetResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.PublishDatasetResponse, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.ListDatasetsRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.ListDatasetsRequest, _Mapping]] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.ListDatasetsResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.ListDatasetsResponse, _Mapping]] = ...) -> None: ...

class RequestAccessRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.RequestAccessRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.RequestAccessRequest, _Mapping]] = ...) -> None: ...

class RequestAccessResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.RequestAccessResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.RequestAccessResponse, _Mapping]] = ...) -> None: ...

class GrantAccessRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.GrantAccessRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.GrantAccessRequest, _Mapping]] = ...) -> None: ...

class GrantAccessResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.GrantAccessResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.GrantAccessResponse, _Mapping]] = ...) -> None: ...

class DenyAccessRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.DenyAccessRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.DenyAccessRequest, _Mapping]] = ...) -> None: ...

class DenyAccessResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.DenyAccessResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.DenyAccessResponse, _Mapping]] = ...) -> None: ...

class RevokeGrantRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.RevokeGrantRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.RevokeGrantRequest, _Mapping]] = ...) -> None: ...

class RevokeGrantResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.RevokeGrantResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.RevokeGrantResponse, _Mapping]] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: _exchange_pb2.ListGrantsRequest
    def __init__(self, request: _Optional[_Union[_exchange_pb2.ListGrantsRequest, _Mapping]] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _exchange_pb2.ListGrantsResponse
    def __init__(self, result: _Optional[_Union[_exchange_pb2.ListGrantsResponse, _Mapping]] = ...) -> None: ...

class ListKernelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKernelsResponse(_message.Message):
    __slots__ = ("kernels",)
    KERNELS_FIELD_NUMBER: _ClassVar[int]
    kernels: _containers.RepeatedCompositeFieldContainer[_compute_pb2.KernelSpec]
    def __init__(self, kernels: _Optional[_Iterable[_Union[_compute_pb2.KernelSpec, _Mapping]]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _compute_pb2.SubmitJobRequest
    def __init__(self, job: _Optional[_Union[_compute_pb2.SubmitJobRequest, _Mapping]] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _compute_pb2.Job
    def __init__(self, job: _Optional[_Union[_compute_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _compute_pb2.Job
    def __init__(self, job: _Optional[_Union[_compute_pb2.Job, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _compute_pb2.Job
    def __init__(self, job: _Optional[_Union[_compute_pb2.Job, _Mapping]] = ...) -> None: ...

class ListIncidentsRequest(_message.Message):
    __slots__ = ("states", "types", "limit")
    STATES_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[_incidents_pb2.IncidentState]
    types: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, states: _Optional[_Iterable[_Union[_incidents_pb2.IncidentState, str]]] = ..., types: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListIncidentsResponse(_message.Message):
    __slots__ = ("incidents", "truncated")
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    incidents: _containers.RepeatedCompositeFieldContainer[_incidents_pb2.Incident]
    truncated: bool
    def __init__(self, incidents: _Optional[_Iterable[_Union[_incidents_pb2.Incident, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class AcknowledgeIncidentRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class AcknowledgeIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _incidents_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_incidents_pb2.Incident, _Mapping]] = ...) -> None: ...

class ResolveIncidentRequest(_message.Message):
    __slots__ = ("incident_id", "resolution")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    resolution: str
    def __init__(self, incident_id: _Optional[str] = ..., resolution: _Optional[str] = ...) -> None: ...

class ResolveIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _incidents_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_incidents_pb2.Incident, _Mapping]] = ...) -> None: ...
