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

class IncidentSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCIDENT_SEVERITY_UNSPECIFIED: _ClassVar[IncidentSeverity]
    INCIDENT_SEVERITY_MINOR: _ClassVar[IncidentSeverity]
    INCIDENT_SEVERITY_MAJOR: _ClassVar[IncidentSeverity]
    INCIDENT_SEVERITY_CRITICAL: _ClassVar[IncidentSeverity]

class IncidentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCIDENT_STATE_UNSPECIFIED: _ClassVar[IncidentState]
    INCIDENT_STATE_OPEN: _ClassVar[IncidentState]
    INCIDENT_STATE_ACKNOWLEDGED: _ClassVar[IncidentState]
    INCIDENT_STATE_DISPATCHED: _ClassVar[IncidentState]
    INCIDENT_STATE_RESOLVED: _ClassVar[IncidentState]

class RuleAggregate(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_AGGREGATE_UNSPECIFIED: _ClassVar[RuleAggregate]
    RULE_AGGREGATE_VALUE: _ClassVar[RuleAggregate]
    RULE_AGGREGATE_MEAN: _ClassVar[RuleAggregate]
    RULE_AGGREGATE_MAX: _ClassVar[RuleAggregate]
    RULE_AGGREGATE_MIN: _ClassVar[RuleAggregate]
INCIDENT_SEVERITY_UNSPECIFIED: IncidentSeverity
INCIDENT_SEVERITY_MINOR: IncidentSeverity
INCIDENT_SEVERITY_MAJOR: IncidentSeverity
INCIDENT_SEVERITY_CRITICAL: IncidentSeverity
INCIDENT_STATE_UNSPECIFIED: IncidentState
INCIDENT_STATE_OPEN: IncidentState
INCIDENT_STATE_ACKNOWLEDGED: IncidentState
INCIDENT_STATE_DISPATCHED: IncidentState
INCIDENT_STATE_RESOLVED: IncidentState
RULE_AGGREGATE_UNSPECIFIED: RuleAggregate
RULE_AGGREGATE_VALUE: RuleAggregate
RULE_AGGREGATE_MEAN: RuleAggregate
RULE_AGGREGATE_MAX: RuleAggregate
RULE_AGGREGATE_MIN: RuleAggregate

class Incident(_message.Message):
    __slots__ = ("incident_id", "district", "type", "severity", "state", "rule_id", "description", "position", "opened", "last_seen", "acknowledged", "dispatched", "resolved", "triggers", "device_ids", "peak_value", "threshold", "unit_id", "dispatched_unit_id", "eta_s", "eta_source", "acknowledged_by", "dispatched_by", "resolved_by", "resolution", "escalation_level", "escalation_reason", "acknowledge_due", "resolve_due", "version")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    PEAK_VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    ETA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_REASON_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_DUE_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_DUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    district: _common_pb2.District
    type: str
    severity: IncidentSeverity
    state: IncidentState
    rule_id: str
    description: str
    position: _common_pb2.GeoPoint
    opened: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    acknowledged: _timestamp_pb2.Timestamp
    dispatched: _timestamp_pb2.Timestamp
    resolved: _timestamp_pb2.Timestamp
    triggers: int
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    peak_value: float
    threshold: float
    unit_id: str
    dispatched_unit_id: str
    eta_s: float
    eta_source: str
    acknowledged_by: str
    dispatched_by: str
    resolved_by: str
    resolution: str
    escalation_level: int
    escalation_reason: str
    acknowledge_due: _timestamp_pb2.Timestamp
    resolve_due: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, incident_id: _Optional[str] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., type: _Optional[str] = ..., severity: _Optional[_Union[IncidentSeverity, str]] = ..., state: _Optional[_Union[IncidentState, str]] = ..., rule_id: _Optional[str] = ..., description: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., opened: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dispatched: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., triggers: _Optional[int] = ..., device_ids: _Optional[_Iterable[str]] = ..., peak_value: _Optional[float] = ..., threshold: _Optional[float] = ..., unit_id: _Optional[str] = ..., dispatched_unit_id: _Optional[str] = ..., eta_s: _Optional[float] = ..., eta_source: _Optional[str] = ..., acknowledged_by: _Optional[str] = ..., dispatched_by: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolution: _Optional[str] = ..., escalation_level: _Optional[int] = ..., escalation_reason: _Optional[str] = ..., acknowledge_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class IncidentFilter(_message.Message):
    __slots__ = ("districts", "types", "states")
    DISTRICTS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    districts: _containers.RepeatedScalarFieldContainer[_common_pb2.District]
    types: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[IncidentState]
    def __init__(self, districts: _Optional[_Iterable[_Union[_common_pb2.District, str]]] = ..., types: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[IncidentState, str]]] = ...) -> None: ...

class ListIncidentsRequest(_message.Message):
    __slots__ = ("filter", "limit")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    filter: IncidentFilter
    limit: int
    def __init__(self, filter: _Optional[_Union[IncidentFilter, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListIncidentsResponse(_message.Message):
    __slots__ = ("incidents", "truncated")
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    incidents: _containers.RepeatedCompositeFieldContainer[Incident]
    truncated: bool
    def __init__(self, incidents: _Optional[_Iterable[_Union[Incident, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetIncidentRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class GetIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

class WatchIncidentsRequest(_message.Message):
    __slots__ = ("filter", "include_current")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CURRENT_FIELD_NUMBER: _ClassVar[int]
    filter: IncidentFilter
    include_current: bool
    def __init__(self, filter: _Optional[_Union[IncidentFilter, _Mapping]] = ..., include_current: _Optional[bool] = ...) -> None: ...

class WatchIncidentsResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

class AcknowledgeIncidentRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class AcknowledgeIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

class DispatchIncidentRequest(_message.Message):
    __slots__ = ("incident_id", "unit_id")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    unit_id: str
    def __init__(self, incident_id: _Optional[str] = ..., unit_id: _Optional[str] = ...) -> None: ...

class DispatchIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

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
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

class IncidentRule(_message.Message):
    __slots__ = ("rule_id", "type", "kind", "aggregate", "window_s", "threshold", "above", "severity", "description", "cooldown_s", "detection_label", "detection_min_count")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ABOVE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_S_FIELD_NUMBER: _ClassVar[int]
    DETECTION_LABEL_FIELD_NUMBER: _ClassVar[int]
    DETECTION_MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    type: str
    kind: _common_pb2.DeviceKind
    aggregate: RuleAggregate
    window_s: float
    threshold: float
    above: bool
    severity: IncidentSeverity
    description: str
    cooldown_s: float
    detection_label: str
    detection_min_count: int
    def __init__(self, rule_id: _Optional[str] = ..., type: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.DeviceKind, str]] = ..., aggregate: _Optional[_Union[RuleAggregate, str]] = ..., window_s: _Optional[float] = ..., threshold: _Optional[float] = ..., above: _Optional[bool] = ..., severity: _Optional[_Union[IncidentSeverity, str]] = ..., description: _Optional[str] = ..., cooldown_s: _Optional[float] = ..., detection_label: _Optional[str] = ..., detection_min_count: _Optional[int] = ...) -> None: ...

class IncidentSla(_message.Message):
    __slots__ = ("severity", "acknowledge_s", "resolve_s")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_S_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_S_FIELD_NUMBER: _ClassVar[int]
    severity: IncidentSeverity
    acknowledge_s: float
    resolve_s: float
    def __init__(self, severity: _Optional[_Union[IncidentSeverity, str]] = ..., acknowledge_s: _Optional[float] = ..., resolve_s: _Optional[float] = ...) -> None: ...

class ListIncidentRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListIncidentRulesResponse(_message.Message):
    __slots__ = ("rules", "correlation_radius_m", "correlation_window_s", "slas", "source")
    RULES_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_RADIUS_M_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    SLAS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[IncidentRule]
    correlation_radius_m: float
    correlation_window_s: float
    slas: _containers.RepeatedCompositeFieldContainer[IncidentSla]
    source: str
    def __init__(self, rules: _Optional[_Iterable[_Union[IncidentRule, _Mapping]]] = ..., correlation_radius_m: _Optional[float] = ..., correlation_window_s: _Optional[float] = ..., slas: _Optional[_Iterable[_Union[IncidentSla, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class ResponderUnit(_message.Message):
    __slots__ = ("unit_id", "name", "district", "position", "types")
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    unit_id: str
    name: str
    district: _common_pb2.District
    position: _common_pb2.GeoPoint
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, unit_id: _Optional[str] = ..., name: _Optional[str] = ..., district: _Optional[_Union[_common_pb2.District, str]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class ListResponderUnitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListResponderUnitsResponse(_message.Message):
    __slots__ = ("units",)
    UNITS_FIELD_NUMBER: _ClassVar[int]
    units: _containers.RepeatedCompositeFieldContainer[ResponderUnit]
    def __init__(self, units: _Optional[_Iterable[_Union[ResponderUnit, _Mapping]]] = ...) -> None: ...

class DistrictIncidentStats(_message.Message):
    __slots__ = ("district", "open", "acknowledged", "dispatched", "resolved", "escalated", "mean_time_to_acknowledge_s", "mean_time_to_resolve_s")
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_FIELD_NUMBER: _ClassVar[int]
    MEAN_TIME_TO_ACKNOWLEDGE_S_FIELD_NUMBER: _ClassVar[int]
    MEAN_TIME_TO_RESOLVE_S_FIELD_NUMBER: _ClassVar[int]
    district: _common_pb2.District
    open: int
    acknowledged: int
    dispatched: int
    resolved: int
    escalated: int
    mean_time_to_acknowledge_s: float
    mean_time_to_resolve_s: float
    def __init__(self, district: _Optional[_Union[_common_pb2.District, str]] = ..., open: _Optional[int] = ..., acknowledged: _Optional[int] = ..., dispatched: _Optional[int] = ..., resolved: _Optional[int] = ..., escalated: _Optional[int] = ..., mean_time_to_acknowledge_s: _Optional[float] = ..., mean_time_to_resolve_s: _Optional[float] = ...) -> None: ...

class GetIncidentStatsRequest(_message.Message):
    __slots__ = ("districts",)
    DISTRICTS_FIELD_NUMBER: _ClassVar[int]
    districts: _containers.RepeatedScalarFieldContainer[_common_pb2.District]
    def __init__(self, districts: _Optional[_Iterable[_Union[_common_pb2.District, str]]] = ...) -> None: ...

class GetIncidentStatsResponse(_message.Message):
    __slots__ = ("districts",)
    DISTRICTS_FIELD_NUMBER: _ClassVar[int]
    districts: _containers.RepeatedCompositeFieldContainer[DistrictIncidentStats]
    def __init__(self, districts: _Optional[_Iterable[_Union[DistrictIncidentStats, _Mapping]]] = ...) -> None: ...
