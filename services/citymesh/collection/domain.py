"""Devices and the validation of reading batches. No transport, no bus: plain data and NumPy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from citymesh import city
from citymesh.runtime.errors import AlreadyExists, InvalidArgument

DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
BATCH_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: str
    longitude: float
    latitude: float
    owner_tenant: str
    district: str
    registered_at_ms: int

    def same_registration(self, other: Device) -> bool:
        return (self.kind, self.longitude, self.latitude, self.owner_tenant) == (
            other.kind,
            other.longitude,
            other.latitude,
            other.owner_tenant,
        )


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise InvalidArgument(
            f"device_id {device_id[:80]!r} is not valid: use 1 to 64 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return device_id


def new_device(device_id: str, kind: str | None, lon: float, lat: float, owner: str, now_ms: int) -> Device:
    """A device ready to register, its district found from its position; InvalidArgument if not."""
    check_device_id(device_id)
    if kind is None:
        raise InvalidArgument(f"device kind is required; one of {', '.join(city.KIND_NAMES)}")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidArgument(f"position ({lon}, {lat}) is not a WGS84 longitude, latitude in degrees")
    district = city.locate(lon, lat)
    if district is None:
        b = city.bounds()
        raise InvalidArgument(
            f"position ({lon}, {lat}) is outside the zone's five sub-districts "
            f"(longitude {b[0]}..{b[2]}, latitude {b[1]}..{b[3]})"
        )
    if len(owner) > 64:
        raise InvalidArgument("owner_tenant is longer than 64 characters")
    return Device(device_id, kind, lon, lat, owner, district, now_ms)


@dataclass(frozen=True)
class Writer:
    """A tenant bound to a sub-district, as the device checks see it: it may read and write the
    devices of its district and the devices it owns. The platform (the zone administrator, the
    platform's services) is no Writer: it may act on every device."""

    tenant: str
    district: str

    def may_use(self, device: Device) -> bool:
        return bool(self.tenant and device.owner_tenant == self.tenant) or bool(
            self.district and device.district == self.district
        )


class Taken(AlreadyExists):
    """The device id is another tenant's device: said without saying where or whose."""


def reconcile(existing: Device | None, wanted: Device, writer: Writer | None = None) -> Device | None:
    """What registering `wanted` means given `existing`: the device to keep, or None to store it.
    A tenant learns only that another's device id is taken, not where or whose it is."""
    if existing is None:
        return None
    if existing.same_registration(wanted):
        return existing
    if writer is not None and not writer.may_use(existing):
        raise Taken(f"device id {wanted.device_id} is taken; register your device under another id")
    raise AlreadyExists(
        f"device {wanted.device_id} is registered with kind {existing.kind} at "
        f"({existing.longitude}, {existing.latitude}) owned by {existing.owner_tenant!r}; "
        "deregister it first to change it"
    )


class Reason(IntEnum):
    """Why a reading was rejected; the numbers are citymesh.common.v1.RejectionReason's."""

    UNKNOWN_DEVICE = 1
    NOT_FINITE = 2
    FUTURE_TIMESTAMP = 3
    TOO_OLD = 4
    VALUE_OUT_OF_RANGE = 5
    BAD_DEVICE_INDEX = 6


@dataclass(frozen=True)
class Limits:
    max_readings: int
    max_clock_skew_ms: int
    max_age_ms: int


@dataclass(frozen=True)
class Columns:
    """A batch's columns, as decoded from the wire."""

    batch_id: str
    device_ids: list[str]
    device_index: npt.NDArray[np.int64]
    time_unix_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Rejected:
    index: int
    device_id: str
    reason: Reason
    message: str


@dataclass
class Verdict:
    """The outcome of validating a batch."""

    accepted: npt.NDArray[np.bool_]
    district: npt.NDArray[np.int8]
    """Index into city.DISTRICTS of each reading's device (-1 where rejected)."""
    rejected: list[Rejected] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    """Registered devices the writer named but may not write: their readings are rejected as
    UNKNOWN_DEVICE, and the attempt is audited."""

    @property
    def all_accepted(self) -> bool:
        return not self.rejected

    def districts(self) -> list[int]:
        """The districts with accepted readings."""
        counts = np.bincount(self.district[self.accepted].astype(np.int64), minlength=len(city.DISTRICTS))
        return [int(d) for d in np.flatnonzero(counts)]


_LOW = np.array([k.low for k in city.KINDS.values()] + [-np.inf])
_HIGH = np.array([k.high for k in city.KINDS.values()] + [np.inf])


class DeviceIndex:
    """The registry as validation needs it: device id → (kind number, district number)."""

    def __init__(self) -> None:
        self._of: dict[str, tuple[int, int]] = {}
        self._owner: dict[str, str] = {}
        # A gateway sends the same device list batch after batch: remember the last lookups.
        self._recent: dict[tuple[Writer | None, tuple[str, ...]], Lookup] = {}

    def put(self, device: Device) -> None:
        self._of[device.device_id] = (
            city.KIND_NAMES.index(device.kind),
            city.DISTRICTS.index(device.district),
        )
        self._owner[device.device_id] = device.owner_tenant
        self._recent.clear()

    def remove(self, device_id: str) -> None:
        self._of.pop(device_id, None)
        self._owner.pop(device_id, None)
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._of)

    def lookup(self, device_ids: list[str], writer: Writer | None = None) -> Lookup:
        """Kind and district numbers of each device id, -1 for unknown ones and, for a `writer`,
        for the devices it may not write; and those registered devices it may not write."""
        key = (writer, tuple(device_ids))
        hit = self._recent.get(key)
        if hit is not None:
            return hit
        if len(self._recent) >= 1024:
            self._recent.clear()
        self._recent[key] = found = self._lookup(device_ids, writer)
        return found

    def _lookup(self, device_ids: list[str], writer: Writer | None) -> Lookup:
        unknown = (-1, -1)
        get = self._of.get
        found = [get(d, unknown) for d in device_ids]
        arr = np.array(found, dtype=np.int64).reshape(len(device_ids), 2)
        kinds, districts = arr[:, 0], arr[:, 1]
        if writer is None:
            return Lookup(kinds, districts, frozenset())
        own = city.DISTRICTS.index(writer.district) if writer.district in city.DISTRICTS else -2
        owner = self._owner.get
        allowed = np.array(
            [bool(writer.tenant) and owner(d) == writer.tenant for d in device_ids], dtype=bool
        ).reshape(len(device_ids)) | (districts == own)
        denied = (kinds >= 0) & ~allowed
        others = frozenset(device_ids[int(i)] for i in np.flatnonzero(denied))
        return Lookup(np.where(allowed, kinds, -1), np.where(allowed, districts, -1), others)


@dataclass(frozen=True)
class Lookup:
    """What validation needs of a batch's device list (see DeviceIndex.lookup)."""

    kinds: npt.NDArray[np.int64]
    districts: npt.NDArray[np.int64]
    others: frozenset[str]
    """Registered devices of the list that the writer may not write (another tenant's, elsewhere)."""


def check_shape(columns: Columns, limits: Limits) -> None:
    """Batch-level checks; InvalidArgument when the batch as a whole cannot be taken."""
    if not BATCH_ID.match(columns.batch_id):
        raise InvalidArgument(
            f"batch_id {columns.batch_id[:40]!r} is not valid: use 1 to 128 printable ASCII characters "
            "without spaces"
        )
    n = len(columns.values)
    if len(columns.device_index) != n or len(columns.time_unix_ms) != n:
        raise InvalidArgument(
            f"batch {columns.batch_id}: columns differ in length (device_index {len(columns.device_index)}, "
            f"time_unix_ms {len(columns.time_unix_ms)}, values {n}); each reading needs one of each"
        )
    if n > limits.max_readings:
        raise InvalidArgument(
            f"batch {columns.batch_id} has {n} readings; at most {limits.max_readings} per batch: split it"
        )
    if len(columns.device_ids) > limits.max_readings:
        raise InvalidArgument(
            f"batch {columns.batch_id} lists {len(columns.device_ids)} devices; "
            f"at most {limits.max_readings} per batch"
        )


def validate(
    columns: Columns, index: DeviceIndex, now_ms: int, limits: Limits, writer: Writer | None = None
) -> Verdict:
    """Check every reading; the first failed check of a reading is its reason. For a `writer`, a
    device it may not write is rejected as UNKNOWN_DEVICE, as if it did not exist."""
    check_shape(columns, limits)
    n = len(columns)
    found = index.lookup(columns.device_ids, writer)
    kinds, districts = found.kinds, found.districts
    idx = columns.device_index
    v, t = columns.values, columns.time_unix_ms
    newest, oldest = now_ms + limits.max_clock_skew_ms, now_ms - limits.max_age_ms
    if n == 0:
        return Verdict(np.ones(0, dtype=bool), np.zeros(0, dtype=np.int8))
    if idx.min() >= 0 and idx.max() < len(columns.device_ids):
        # The common case: every index is sound; one combined mask, reasons only if needed.
        kind = kinds[idx]
        with np.errstate(invalid="ignore"):
            ok = (kind >= 0) & (t <= newest) & (t >= oldest) & (v >= _LOW[kind]) & (v <= _HIGH[kind])
        if ok.all():
            return Verdict(ok, districts[idx].astype(np.int8))
    verdict = _reasons(columns, kinds, districts, now_ms, limits, writer)
    if found.others:
        used = {
            columns.device_ids[int(j)] for j in np.unique(idx[(idx >= 0) & (idx < len(columns.device_ids))])
        }
        verdict.others = sorted(found.others & used)
    return verdict


def _reasons(
    columns: Columns,
    kinds: npt.NDArray[np.int64],
    districts: npt.NDArray[np.int64],
    now_ms: int,
    limits: Limits,
    writer: Writer | None,
) -> Verdict:
    n = len(columns)
    idx = columns.device_index
    v, t = columns.values, columns.time_unix_ms
    newest, oldest = now_ms + limits.max_clock_skew_ms, now_ms - limits.max_age_ms
    bad_index = (idx < 0) | (idx >= len(columns.device_ids))
    safe = np.where(bad_index, 0, idx) if len(columns.device_ids) else np.zeros(n, dtype=np.int64)
    kind = np.where(bad_index, -1, kinds[safe] if len(kinds) else -1)
    district = np.where(bad_index, -1, districts[safe] if len(districts) else -1)

    reason = np.zeros(n, dtype=np.int8)
    finite = np.isfinite(v)
    checks = [
        (bad_index, Reason.BAD_DEVICE_INDEX),
        (kind < 0, Reason.UNKNOWN_DEVICE),
        (~finite, Reason.NOT_FINITE),
        (t > newest, Reason.FUTURE_TIMESTAMP),
        (t < oldest, Reason.TOO_OLD),
        (finite & ((v < _LOW[kind]) | (v > _HIGH[kind])), Reason.VALUE_OUT_OF_RANGE),
    ]
    for failed, why in checks:
        reason = np.where((reason == 0) & failed, np.int8(why), reason)
    accepted = reason == 0
    verdict = Verdict(accepted, np.where(accepted, district, -1).astype(np.int8))
    for i in np.flatnonzero(~accepted):
        why = Reason(int(reason[i]))
        verdict.rejected.append(_explain(columns, int(i), why, int(kind[i]), now_ms, limits, writer))
    return verdict


def _explain(
    columns: Columns, i: int, why: Reason, kind: int, now_ms: int, limits: Limits, writer: Writer | None
) -> Rejected:
    j = int(columns.device_index[i])
    device = columns.device_ids[j] if j < len(columns.device_ids) else ""
    v, t = float(columns.values[i]), int(columns.time_unix_ms[i])
    if why is Reason.BAD_DEVICE_INDEX:
        text = f"device_index {j} points past the batch's {len(columns.device_ids)} device_ids"
    elif why is Reason.UNKNOWN_DEVICE and writer is not None:
        text = (
            f"device {device!r} is not registered in district {writer.district or '(none)'} nor to "
            f"tenant {writer.tenant or '(none)'}: register it with RegisterDevice first"
        )
    elif why is Reason.UNKNOWN_DEVICE:
        text = f"device {device!r} is not registered: register it with RegisterDevice first"
    elif why is Reason.NOT_FINITE:
        text = f"value {v} is not a finite number"
    elif why is Reason.FUTURE_TIMESTAMP:
        text = (
            f"time_unix_ms {t} is {(t - now_ms) / 1000:.0f} s in the future; at most "
            f"{limits.max_clock_skew_ms / 1000:.0f} s of clock skew is accepted: check the device clock"
        )
    elif why is Reason.TOO_OLD:
        text = (
            f"time_unix_ms {t} is {(now_ms - t) / 86_400_000:.1f} days old; readings older than "
            f"{limits.max_age_ms / 86_400_000:.1f} days are not accepted"
        )
    else:
        k = city.KINDS[city.KIND_NAMES[kind]]
        text = f"value {v} is outside the {k.name} range [{k.low:g}, {k.high:g}] {k.unit} ({k.quantity})"
    return Rejected(i, device, why, text)


def select(columns: Columns, keep: npt.NDArray[np.bool_]) -> Columns:
    """The readings where keep is true, with device_ids compacted to the devices still used."""
    idx = columns.device_index[keep]
    used, remapped = np.unique(idx, return_inverse=True)
    return Columns(
        columns.batch_id,
        [columns.device_ids[int(u)] for u in used],
        remapped.astype(np.int64),
        columns.time_unix_ms[keep],
        columns.values[keep],
    )
