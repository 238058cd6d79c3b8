"""A peak's rules: where its devices may stand, how its scenes are booked, how its experiment
projects move from registration to completion and contracts, and the award claims they make.

Pure functions over plain values (no grpc, nats or protobuf): the store applies them under
compare-and-set, the servicer converts to and from messages.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from citymesh.city import locate
from citymesh.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PROJECT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
CONTRACT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
ZONE_TIME = timezone(timedelta(hours=8), "CST")
"""The zone's clock: China Standard Time, UTC+8, no daylight saving."""
DAY_MINUTES = 24 * 60
BOOKING_HORIZON_MS = 366 * 24 * 3600 * 1000
"""How far ahead a scene may be booked."""
BOOKING_RETENTION_MS = 30 * 24 * 3600 * 1000
"""How long a scene keeps a booking after it ended (older ones are dropped at the next change)."""
MAX_FEN = 10**15
"""Ten trillion CNY: anything above is a typo, not a project (governance has the same bound)."""


def _text(value: str, what: str, most: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidArgument(f"{what} is required (1 to {most} characters)")
    if len(value) > most:
        raise InvalidArgument(f"{what} is {len(value)} characters long; at most {most}")
    return value


# --- devices -----------------------------------------------------------------------------------


def device_district(lon: float, lat: float) -> str:
    """The sub-district a device position lies in; InvalidArgument outside the zone."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidArgument("position: longitude and latitude must be finite numbers")
    district = locate(lon, lat)
    if district is None:
        raise InvalidArgument(
            f"position ({lon}, {lat}) is outside the zone: a device stands in one of its sub-districts"
        )
    return district


# --- scenes ------------------------------------------------------------------------------------


class SceneKind(StrEnum):
    LIFE = "life"
    PRODUCTION = "production"
    ECOLOGY = "ecology"


def zone_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZONE_TIME)


@dataclass(frozen=True)
class Window:
    """Open on `weekdays` (ISO: 1 Monday … 7 Sunday) from `open_minute` to `close_minute` after
    midnight, zone time."""

    weekdays: tuple[int, ...]
    open_minute: int
    close_minute: int

    def __post_init__(self) -> None:
        if not self.weekdays or any(d not in range(1, 8) for d in self.weekdays):
            raise InvalidArgument("an availability window's weekdays are 1 (Monday) to 7 (Sunday)")
        if not 0 <= self.open_minute < self.close_minute <= DAY_MINUTES:
            raise InvalidArgument("an availability window opens before it closes, within one day")

    def admits(self, start_ms: int, end_ms: int) -> bool:
        """Whether [start, end) lies inside this window on the day it starts."""
        start = zone_time(start_ms)
        if start.isoweekday() not in self.weekdays:
            return False
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        midnight_ms = int(midnight.timestamp() * 1000)
        return (
            midnight_ms + self.open_minute * 60_000 <= start_ms
            and end_ms <= midnight_ms + self.close_minute * 60_000
        )

    def describe(self) -> str:
        days = ",".join("MTWTFSS"[d - 1] for d in sorted(self.weekdays))
        o, c = divmod(self.open_minute, 60), divmod(self.close_minute, 60)
        return f"{days} {o[0]:02d}:{o[1]:02d}-{c[0]:02d}:{c[1]:02d}"


@dataclass(frozen=True)
class Scene:
    scene_id: str
    name: str
    place: str
    lon: float
    lat: float
    kind: SceneKind
    capacity: int
    availability: tuple[Window, ...]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["availability"] = [
            {"weekdays": list(w.weekdays), "open_minute": w.open_minute, "close_minute": w.close_minute}
            for w in self.availability
        ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scene:
        windows = tuple(
            Window(tuple(w["weekdays"]), w["open_minute"], w["close_minute"]) for w in d["availability"]
        )
        return cls(**{**d, "kind": SceneKind(d["kind"]), "availability": windows})


@dataclass(frozen=True)
class BookingAsk:
    """What a tenant asks for when it books a scene."""

    scene_id: str
    project_id: str
    start_ms: int
    end_ms: int
    participants: int
    purpose: str


@dataclass(frozen=True)
class Booking:
    booking_id: str
    scene_id: str
    project_id: str
    start_ms: int
    end_ms: int
    participants: int
    purpose: str
    booked_at_ms: int
    booked_by: str

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        return self.start_ms < end_ms and start_ms < self.end_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Booking:
        return cls(**d)


def _when(ms: int) -> str:
    return zone_time(ms).strftime("%Y-%m-%d %H:%M")


def book(
    scene: Scene, bookings: list[Booking], ask: BookingAsk, now_ms: int, booking_id: str, booked_by: str
) -> tuple[list[Booking], Booking, bool]:
    """The scene's bookings after `ask`, the booking, and whether it is new (False: the same
    booking was already made). Raises what stands in the way."""
    if ask.end_ms <= ask.start_ms:
        raise InvalidArgument("time_range: end must be after start")
    if ask.start_ms <= now_ms:
        raise InvalidArgument(f"time_range starts at {_when(ask.start_ms)}, in the past: book a future time")
    if ask.start_ms > now_ms + BOOKING_HORIZON_MS:
        raise InvalidArgument("time_range starts more than 366 days ahead: book within a year")
    if not 1 <= ask.participants <= scene.capacity:
        raise InvalidArgument(
            f"participants {ask.participants}: scene {scene.scene_id} admits 1 to {scene.capacity}"
        )
    purpose = _text(ask.purpose, "purpose", 500, required=False)
    for b in bookings:
        if (b.project_id, b.start_ms, b.end_ms, b.participants, b.purpose) == (
            ask.project_id,
            ask.start_ms,
            ask.end_ms,
            ask.participants,
            purpose,
        ):
            return bookings, b, False
    if not any(w.admits(ask.start_ms, ask.end_ms) for w in scene.availability):
        windows = "; ".join(w.describe() for w in scene.availability)
        raise InvalidArgument(
            f"{_when(ask.start_ms)} to {_when(ask.end_ms)} (zone time, UTC+8) is not inside one "
            f"availability window of scene {scene.scene_id}: {windows}"
        )
    taken = next((b for b in bookings if b.overlaps(ask.start_ms, ask.end_ms)), None)
    if taken is not None:
        raise FailedPrecondition(
            f"scene {scene.scene_id} is booked from {_when(taken.start_ms)} to {_when(taken.end_ms)} "
            f"(zone time) by project {taken.project_id} (booking {taken.booking_id}); choose another time"
        )
    booking = Booking(
        booking_id,
        scene.scene_id,
        ask.project_id,
        ask.start_ms,
        ask.end_ms,
        ask.participants,
        purpose,
        now_ms,
        booked_by,
    )
    kept = [b for b in bookings if b.end_ms > now_ms - BOOKING_RETENTION_MS]
    return sorted([*kept, booking], key=lambda b: (b.start_ms, b.booking_id)), booking, True


def cancel(bookings: list[Booking], booking_id: str, now_ms: int) -> list[Booking]:
    """The bookings without `booking_id`; a booking that has ended stays (it happened)."""
    booking = next((b for b in bookings if b.booking_id == booking_id), None)
    if booking is None:
        raise NotFound(f"no booking {booking_id!r} of this scene; ListBookings names them")
    if booking.end_ms <= now_ms:
        raise FailedPrecondition(
            f"booking {booking_id} ended at {_when(booking.end_ms)}; it cannot be cancelled"
        )
    return [b for b in bookings if b.booking_id != booking_id]


# --- experiment projects -----------------------------------------------------------------------


class ProjectState(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


class Result(StrEnum):
    """How far a project's result went (governance's ProjectResult)."""

    COMPLETED = "completed"
    DEPLOYED_IN_ZONE = "deployed-in-zone"


@dataclass(frozen=True)
class Milestone:
    name: str
    due_ms: int
    reached_at_ms: int = 0


@dataclass(frozen=True)
class Contract:
    contract_id: str
    amount_fen: int
    client: str
    place: str
    recorded_at_ms: int
    claim_id: str


@dataclass(frozen=True)
class Project:
    project_id: str
    name: str
    investment_fen: int
    local_enterprise: bool
    technology: str
    leading_industry: bool
    state: ProjectState = ProjectState.ACTIVE
    milestones: tuple[Milestone, ...] = ()
    registered_at_ms: int = 0
    completed_at_ms: int = 0
    result: Result | None = None
    subsidy_claim_id: str = ""
    contracts: tuple[Contract, ...] = ()

    def facts(self) -> tuple[str, int, bool, str, bool]:
        """What registration sets (compared when the same id is registered again)."""
        return self.name, self.investment_fen, self.local_enterprise, self.technology, self.leading_industry

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.value
        d["result"] = self.result.value if self.result else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Project:
        return cls(
            **{
                **d,
                "state": ProjectState(d["state"]),
                "result": Result(d["result"]) if d.get("result") else None,
                "milestones": tuple(Milestone(**m) for m in d.get("milestones", ())),
                "contracts": tuple(Contract(**c) for c in d.get("contracts", ())),
            }
        )


def check_project_id(project_id: str) -> str:
    if not PROJECT_ID.match(project_id):
        raise InvalidArgument(
            f"project_id {project_id!r}: 1 to 32 lowercase letters, digits and dashes (not at the ends)"
        )
    return project_id


def new_project(
    project_id: str,
    name: str,
    investment_fen: int,
    local_enterprise: bool,
    technology: str,
    leading_industry: bool,
    now_ms: int,
) -> Project:
    check_project_id(project_id)
    if not 0 < investment_fen <= MAX_FEN:
        raise InvalidArgument(
            "investment_fen must be positive (and below 10^15): the total investment in fen"
        )
    return Project(
        project_id,
        _text(name, "name", 200),
        investment_fen,
        local_enterprise,
        _text(technology, "technology", 200),
        leading_industry,
        registered_at_ms=now_ms,
    )


def register(existing: Project | None, new: Project) -> Project:
    """The project stored after registering `new`: it, or the same one registered before."""
    if existing is None:
        return new
    if existing.facts() != new.facts():
        raise AlreadyExists(
            f"project {new.project_id} is registered with different facts; use another project_id"
        )
    return existing


def _active(project: Project, what: str) -> None:
    if project.state is not ProjectState.ACTIVE:
        raise FailedPrecondition(f"project {project.project_id} is {project.state.value}: cannot {what}")


def add_milestone(project: Project, name: str, due_ms: int) -> Project:
    name = _text(name, "milestone name", 100)
    if due_ms <= 0:
        raise InvalidArgument("due is required: when the milestone is due")
    _active(project, "add a milestone")
    if any(m.name == name for m in project.milestones):
        raise AlreadyExists(f"project {project.project_id} already has a milestone {name!r}")
    return replace(project, milestones=(*project.milestones, Milestone(name, due_ms)))


def reach_milestone(project: Project, name: str, now_ms: int) -> Project:
    milestone = next((m for m in project.milestones if m.name == name), None)
    if milestone is None:
        names = ", ".join(repr(m.name) for m in project.milestones) or "none"
        raise NotFound(f"project {project.project_id} has no milestone {name!r} (it has: {names})")
    if milestone.reached_at_ms:
        return project
    _active(project, "reach a milestone")
    reached = tuple(replace(m, reached_at_ms=now_ms) if m.name == name else m for m in project.milestones)
    return replace(project, milestones=reached)


def subsidy_claim_id(tenant: str, project_id: str) -> str:
    """The claim id of a project's subsidy: the same for every submission, so it is paid once."""
    return f"{tenant}_{project_id}_subsidy"


def first_application_claim_id(tenant: str, project_id: str, contract_id: str) -> str:
    return f"{tenant}_{project_id}_first_{contract_id}"


def complete(project: Project, result: Result | None, now_ms: int, tenant: str) -> Project:
    """The project completed with `result` (again with the same result: unchanged)."""
    if result is None:
        raise InvalidArgument("result is required: completed, or deployed in the zone's real scenes")
    if project.state is ProjectState.COMPLETED:
        if project.result is not result:
            raise FailedPrecondition(
                f"project {project.project_id} was completed as {project.result}; it cannot be "
                f"completed again as {result.value}"
            )
        return project
    open_ = [m.name for m in project.milestones if not m.reached_at_ms]
    if open_:
        raise FailedPrecondition(
            f"project {project.project_id} has milestones not reached: {', '.join(map(repr, open_))}; "
            "reach them first"
        )
    return replace(
        project,
        state=ProjectState.COMPLETED,
        completed_at_ms=now_ms,
        result=result,
        subsidy_claim_id=subsidy_claim_id(tenant, project.project_id),
    )


def record_contract(
    project: Project,
    contract_id: str,
    amount_fen: int,
    client: str,
    place: str,
    now_ms: int,
    tenant: str,
) -> tuple[Project, Contract]:
    """The project with the contract (recorded before with the same facts: unchanged)."""
    if not CONTRACT_ID.match(contract_id):
        raise InvalidArgument(
            f"contract_id {contract_id!r}: 1 to 24 lowercase letters, digits and dashes (not at the ends)"
        )
    if not 0 < amount_fen <= MAX_FEN:
        raise InvalidArgument("amount_fen must be positive (and below 10^15): the contract amount in fen")
    client = _text(client, "client", 200)
    place = _text(place, "place", 200)
    if project.state is not ProjectState.COMPLETED:
        raise FailedPrecondition(
            f"project {project.project_id} is {project.state.value}: a first application outside the "
            "zone is of a completed project's technology; complete it first"
        )
    existing = next((c for c in project.contracts if c.contract_id == contract_id), None)
    if existing is not None:
        if (existing.amount_fen, existing.client, existing.place) != (amount_fen, client, place):
            raise AlreadyExists(
                f"contract {contract_id} of project {project.project_id} is recorded with different "
                "facts; use another contract_id"
            )
        return project, existing
    contract = Contract(
        contract_id,
        amount_fen,
        client,
        place,
        now_ms,
        first_application_claim_id(tenant, project.project_id, contract_id),
    )
    return replace(project, contracts=(*project.contracts, contract)), contract


def claim_project(tenant: str, project_id: str) -> str:
    """The project as governance's ledger names it: unique across tenants."""
    return f"{tenant}/{project_id}"
