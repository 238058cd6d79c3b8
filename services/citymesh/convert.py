"""Conversions between citymesh.common.v1 messages and the city's vocabulary (citymesh.city)."""

from __future__ import annotations

from typing import cast

from google.protobuf import timestamp_pb2

from citymesh.api.common.v1 import common_pb2
from citymesh.city import DISTRICTS, KIND_NAMES
from citymesh.runtime.errors import InvalidArgument

_MIN_SECONDS = -62_135_596_800
"""0001-01-01T00:00:00Z, the earliest instant a protobuf Timestamp may hold."""
_MAX_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the latest."""


def district_to_proto(name: str | None) -> common_pb2.District:
    if name is None:
        return common_pb2.DISTRICT_UNSPECIFIED
    return cast(common_pb2.District, common_pb2.District.Value(f"DISTRICT_{name.upper()}"))


def district_from_proto(value: int) -> str | None:
    """The district's name, or None for DISTRICT_UNSPECIFIED; ValueError for an unknown number."""
    if value == 0:
        return None
    if not 1 <= value <= len(DISTRICTS):
        raise ValueError(f"unknown district {value}; expected 1..{len(DISTRICTS)}")
    return DISTRICTS[value - 1]


def kind_to_proto(name: str | None) -> common_pb2.DeviceKind:
    if name is None:
        return common_pb2.DEVICE_KIND_UNSPECIFIED
    return cast(common_pb2.DeviceKind, common_pb2.DeviceKind.Value(f"DEVICE_KIND_{name.upper()}"))


def kind_from_proto(value: int) -> str | None:
    """The kind's name, or None for DEVICE_KIND_UNSPECIFIED; ValueError for an unknown number."""
    if value == 0:
        return None
    if not 1 <= value <= len(KIND_NAMES):
        raise ValueError(f"unknown device kind {value}; expected 1..{len(KIND_NAMES)}")
    return KIND_NAMES[value - 1]


def timestamp_ms(name: str, ts: timestamp_pb2.Timestamp) -> int:
    """A protobuf Timestamp as epoch milliseconds; InvalidArgument when it is not a valid instant
    (nanos outside [0, 1e9), or outside 0001-01-01 .. 9999-12-31)."""
    if not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidArgument(f"{name}.nanos is {ts.nanos}; it must be in [0, 999999999]")
    if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS:
        raise InvalidArgument(
            f"{name} is {ts.seconds} s from the epoch; it must be between 0001-01-01 and 9999-12-31"
        )
    return ts.seconds * 1000 + ts.nanos // 1_000_000
