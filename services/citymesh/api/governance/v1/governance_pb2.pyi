import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PeakState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PEAK_STATE_UNSPECIFIED: _ClassVar[PeakState]
    PEAK_STATE_NEGOTIATING: _ClassVar[PeakState]
    PEAK_STATE_SIGNED: _ClassVar[PeakState]
    PEAK_STATE_ACTIVE: _ClassVar[PeakState]
    PEAK_STATE_SUSPENDED: _ClassVar[PeakState]
    PEAK_STATE_RETIRED: _ClassVar[PeakState]

class AwardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AWARD_KIND_UNSPECIFIED: _ClassVar[AwardKind]
    AWARD_KIND_PROJECT_SUBSIDY: _ClassVar[AwardKind]
    AWARD_KIND_FIRST_APPLICATION: _ClassVar[AwardKind]
    AWARD_KIND_RECOGNITION: _ClassVar[AwardKind]

class ProjectResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_RESULT_UNSPECIFIED: _ClassVar[ProjectResult]
    PROJECT_RESULT_COMPLETED: _ClassVar[ProjectResult]
    PROJECT_RESULT_DEPLOYED_IN_ZONE: _ClassVar[ProjectResult]

class RecognitionLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECOGNITION_LEVEL_UNSPECIFIED: _ClassVar[RecognitionLevel]
    RECOGNITION_LEVEL_MUNICIPAL: _ClassVar[RecognitionLevel]
    RECOGNITION_LEVEL_PROVINCIAL: _ClassVar[RecognitionLevel]
    RECOGNITION_LEVEL_NATIONAL: _ClassVar[RecognitionLevel]

class EconomyIndicator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ECONOMY_INDICATOR_UNSPECIFIED: _ClassVar[EconomyIndicator]
    ECONOMY_INDICATOR_INFRASTRUCTURE: _ClassVar[EconomyIndicator]
    ECONOMY_INDICATOR_CITY_SERVICES: _ClassVar[EconomyIndicator]
    ECONOMY_INDICATOR_CITY_GOVERNANCE: _ClassVar[EconomyIndicator]
    ECONOMY_INDICATOR_INDUSTRY_INTEGRATION: _ClassVar[EconomyIndicator]
PEAK_STATE_UNSPECIFIED: PeakState
PEAK_STATE_NEGOTIATING: PeakState
PEAK_STATE_SIGNED: PeakState
PEAK_STATE_ACTIVE: PeakState
PEAK_STATE_SUSPENDED: PeakState
PEAK_STATE_RETIRED: PeakState
AWARD_KIND_UNSPECIFIED: AwardKind
AWARD_KIND_PROJECT_SUBSIDY: AwardKind
AWARD_KIND_FIRST_APPLICATION: AwardKind
AWARD_KIND_RECOGNITION: AwardKind
PROJECT_RESULT_UNSPECIFIED: ProjectResult
PROJECT_RESULT_COMPLETED: ProjectResult
PROJECT_RESULT_DEPLOYED_IN_ZONE: ProjectResult
RECOGNITION_LEVEL_UNSPECIFIED: RecognitionLevel
RECOGNITION_LEVEL_MUNICIPAL: RecognitionLevel
RECOGNITION_LEVEL_PROVINCIAL: RecognitionLevel
RECOGNITION_LEVEL_NATIONAL: RecognitionLevel
ECONOMY_INDICATOR_UNSPECIFIED: EconomyIndicator
ECONOMY_INDICATOR_INFRASTRUCTURE: EconomyIndicator
ECONOMY_INDICATOR_CITY_SERVICES: EconomyIndicator
ECONOMY_INDICATOR_CITY_GOVERNANCE: EconomyIndicator
ECONOMY_INDICATOR_INDUSTRY_INTEGRATION: EconomyIndicator

class Peak(_message.Message):
    __slots__ = ("peak_id", "name", "district", "enterprise", "tenant", "state", "candidates", "version", "updated_at", "reason")
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    peak_id: str
    name: str
    district: str
    enterprise: str
    tenant: str
    state: PeakState
    candidates: _containers.RepeatedScalarFieldContainer[str]
    version: int
    updated_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, peak_id: _Optional[str] = ..., name: _Optional[str] = ..., district: _Optional[str] = ..., enterprise: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[PeakState, str]] = ..., candidates: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListPeaksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPeaksResponse(_message.Message):
    __slots__ = ("peaks",)
    PEAKS_FIELD_NUMBER: _ClassVar[int]
    peaks: _containers.RepeatedCompositeFieldContainer[Peak]
    def __init__(self, peaks: _Optional[_Iterable[_Union[Peak, _Mapping]]] = ...) -> None: ...

class GetPeakRequest(_message.Message):
    __slots__ = ("peak_id",)
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    peak_id: str
    def __init__(self, peak_id: _Optional[str] = ...) -> None: ...

class GetPeakResponse(_message.Message):
    __slots__ = ("peak",)
    PEAK_FIELD_NUMBER: _ClassVar[int]
    peak: Peak
    def __init__(self, peak: _Optional[_Union[Peak, _Mapping]] = ...) -> None: ...

class TransitionPeakRequest(_message.Message):
    __slots__ = ("peak_id", "target", "reason", "tenant", "enterprise", "name")
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    peak_id: str
    target: PeakState
    reason: str
    tenant: str
    enterprise: str
    name: str
    def __init__(self, peak_id: _Optional[str] = ..., target: _Optional[_Union[PeakState, str]] = ..., reason: _Optional[str] = ..., tenant: _Optional[str] = ..., enterprise: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TransitionPeakResponse(_message.Message):
    __slots__ = ("peak",)
    PEAK_FIELD_NUMBER: _ClassVar[int]
    peak: Peak
    def __init__(self, peak: _Optional[_Union[Peak, _Mapping]] = ...) -> None: ...

class ProjectClaim(_message.Message):
    __slots__ = ("local_enterprise", "total_investment_fen", "result", "leading_industry")
    LOCAL_ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_INVESTMENT_FEN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    LEADING_INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    local_enterprise: bool
    total_investment_fen: int
    result: ProjectResult
    leading_industry: bool
    def __init__(self, local_enterprise: _Optional[bool] = ..., total_investment_fen: _Optional[int] = ..., result: _Optional[_Union[ProjectResult, str]] = ..., leading_industry: _Optional[bool] = ...) -> None: ...

class FirstApplicationClaim(_message.Message):
    __slots__ = ("technology", "contract_fen")
    TECHNOLOGY_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FEN_FIELD_NUMBER: _ClassVar[int]
    technology: str
    contract_fen: int
    def __init__(self, technology: _Optional[str] = ..., contract_fen: _Optional[int] = ...) -> None: ...

class RecognitionClaim(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: RecognitionLevel
    def __init__(self, level: _Optional[_Union[RecognitionLevel, str]] = ...) -> None: ...

class AwardClaim(_message.Message):
    __slots__ = ("claim_id", "enterprise", "project", "kind", "project_subsidy", "first_application", "recognition", "peak_id")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROJECT_SUBSIDY_FIELD_NUMBER: _ClassVar[int]
    FIRST_APPLICATION_FIELD_NUMBER: _ClassVar[int]
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    enterprise: str
    project: str
    kind: AwardKind
    project_subsidy: ProjectClaim
    first_application: FirstApplicationClaim
    recognition: RecognitionClaim
    peak_id: str
    def __init__(self, claim_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., project: _Optional[str] = ..., kind: _Optional[_Union[AwardKind, str]] = ..., project_subsidy: _Optional[_Union[ProjectClaim, _Mapping]] = ..., first_application: _Optional[_Union[FirstApplicationClaim, _Mapping]] = ..., recognition: _Optional[_Union[RecognitionClaim, _Mapping]] = ..., peak_id: _Optional[str] = ...) -> None: ...

class AwardDecision(_message.Message):
    __slots__ = ("claim", "granted", "amount_fen", "rule", "explanation", "decided_at", "decided_by")
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    claim: AwardClaim
    granted: bool
    amount_fen: int
    rule: str
    explanation: str
    decided_at: _timestamp_pb2.Timestamp
    decided_by: str
    def __init__(self, claim: _Optional[_Union[AwardClaim, _Mapping]] = ..., granted: _Optional[bool] = ..., amount_fen: _Optional[int] = ..., rule: _Optional[str] = ..., explanation: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ...) -> None: ...

class SubmitAwardClaimRequest(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: AwardClaim
    def __init__(self, claim: _Optional[_Union[AwardClaim, _Mapping]] = ...) -> None: ...

class SubmitAwardClaimResponse(_message.Message):
    __slots__ = ("decision", "duplicate")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    decision: AwardDecision
    duplicate: bool
    def __init__(self, decision: _Optional[_Union[AwardDecision, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ListAwardsRequest(_message.Message):
    __slots__ = ("enterprise", "peak_id")
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    enterprise: str
    peak_id: str
    def __init__(self, enterprise: _Optional[str] = ..., peak_id: _Optional[str] = ...) -> None: ...

class ListAwardsResponse(_message.Message):
    __slots__ = ("decisions", "total_fen")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[AwardDecision]
    total_fen: int
    def __init__(self, decisions: _Optional[_Iterable[_Union[AwardDecision, _Mapping]]] = ..., total_fen: _Optional[int] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("tenant", "roles", "ttl_s")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    ttl_s: int
    def __init__(self, tenant: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., ttl_s: _Optional[int] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at", "district")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    district: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., district: _Optional[str] = ...) -> None: ...

class GetEconomyIndexRequest(_message.Message):
    __slots__ = ("peak_id",)
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    peak_id: str
    def __init__(self, peak_id: _Optional[str] = ...) -> None: ...

class GetEconomyIndexResponse(_message.Message):
    __slots__ = ("peaks", "zone", "computed_at")
    PEAKS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    peaks: _containers.RepeatedCompositeFieldContainer[EconomyIndex]
    zone: EconomyIndex
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, peaks: _Optional[_Iterable[_Union[EconomyIndex, _Mapping]]] = ..., zone: _Optional[_Union[EconomyIndex, _Mapping]] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EconomyIndex(_message.Message):
    __slots__ = ("peak_id", "district", "score", "indicators", "figures", "measured_weight", "rank")
    PEAK_ID_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    INDICATORS_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    MEASURED_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    peak_id: str
    district: str
    score: float
    indicators: _containers.RepeatedCompositeFieldContainer[IndicatorScore]
    figures: PlatformFigures
    measured_weight: float
    rank: int
    def __init__(self, peak_id: _Optional[str] = ..., district: _Optional[str] = ..., score: _Optional[float] = ..., indicators: _Optional[_Iterable[_Union[IndicatorScore, _Mapping]]] = ..., figures: _Optional[_Union[PlatformFigures, _Mapping]] = ..., measured_weight: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class IndicatorScore(_message.Message):
    __slots__ = ("indicator", "score", "weight", "measured", "parts")
    INDICATOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    indicator: EconomyIndicator
    score: float
    weight: float
    measured: bool
    parts: _containers.RepeatedCompositeFieldContainer[SubIndicatorScore]
    def __init__(self, indicator: _Optional[_Union[EconomyIndicator, str]] = ..., score: _Optional[float] = ..., weight: _Optional[float] = ..., measured: _Optional[bool] = ..., parts: _Optional[_Iterable[_Union[SubIndicatorScore, _Mapping]]] = ...) -> None: ...

class SubIndicatorScore(_message.Message):
    __slots__ = ("name", "score", "weight", "measured", "basis")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: float
    weight: float
    measured: bool
    basis: str
    def __init__(self, name: _Optional[str] = ..., score: _Optional[float] = ..., weight: _Optional[float] = ..., measured: _Optional[bool] = ..., basis: _Optional[str] = ...) -> None: ...

class PlatformFigures(_message.Message):
    __slots__ = ("devices", "cameras", "device_kinds", "telemetry_batches", "compute_jobs", "compute_jobs_succeeded", "compute_jobs_finished", "compute_core_seconds", "incidents", "incidents_acknowledged", "incidents_resolved", "mean_time_to_acknowledge_s", "mean_time_to_resolve_s", "awards_granted", "awarded_fen", "projects", "first_applications")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_KINDS_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_BATCHES_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_JOBS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_JOBS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_JOBS_FINISHED_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_CORE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    INCIDENTS_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    INCIDENTS_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    MEAN_TIME_TO_ACKNOWLEDGE_S_FIELD_NUMBER: _ClassVar[int]
    MEAN_TIME_TO_RESOLVE_S_FIELD_NUMBER: _ClassVar[int]
    AWARDS_GRANTED_FIELD_NUMBER: _ClassVar[int]
    AWARDED_FEN_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    devices: int
    cameras: int
    device_kinds: int
    telemetry_batches: int
    compute_jobs: int
    compute_jobs_succeeded: int
    compute_jobs_finished: int
    compute_core_seconds: float
    incidents: int
    incidents_acknowledged: int
    incidents_resolved: int
    mean_time_to_acknowledge_s: float
    mean_time_to_resolve_s: float
    awards_granted: int
    awarded_fen: int
    projects: int
    first_applications: int
    def __init__(self, devices: _Optional[int] = ..., cameras: _Optional[int] = ..., device_kinds: _Optional[int] = ..., telemetry_batches: _Optional[int] = ..., compute_jobs: _Optional[int] = ..., compute_jobs_succeeded: _Optional[int] = ..., compute_jobs_finished: _Optional[int] = ..., compute_core_seconds: _Optional[float] = ..., incidents: _Optional[int] = ..., incidents_acknowledged: _Optional[int] = ..., incidents_resolved: _Optional[int] = ..., mean_time_to_acknowledge_s: _Optional[float] = ..., mean_time_to_resolve_s: _Optional[float] = ..., awards_granted: _Optional[int] = ..., awarded_fen: _Optional[int] = ..., projects: _Optional[int] = ..., first_applications: _Optional[int] = ...) -> None: ...
