"""Conversions between citymesh.common.v1 messages and the city's vocabulary (citymesh.city)."""

from __future__ import annotations

from typing import cast

from citymesh.api.common.v1 import common_pb2
from citymesh.city import DISTRICTS, KIND_NAMES


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
