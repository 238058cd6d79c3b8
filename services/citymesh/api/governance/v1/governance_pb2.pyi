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
    __slots__ = ("claim_id", "enterprise", "project", "kind", "project_subsidy", "first_application", "recognition")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROJECT_SUBSIDY_FIELD_NUMBER: _ClassVar[int]
    FIRST_APPLICATION_FIELD_NUMBER: _ClassVar[int]
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    enterprise: str
    project: str
    kind: AwardKind
    project_subsidy: ProjectClaim
    first_application: FirstApplicationClaim
    recognition: RecognitionClaim
    def __init__(self, claim_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., project: _Optional[str] = ..., kind: _Optional[_Union[AwardKind, str]] = ..., project_subsidy: _Optional[_Union[ProjectClaim, _Mapping]] = ..., first_application: _Optional[_Union[FirstApplicationClaim, _Mapping]] = ..., recognition: _Optional[_Union[RecognitionClaim, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("enterprise",)
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    enterprise: str
    def __init__(self, enterprise: _Optional[str] = ...) -> None: ...

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
