"""What a simulation run counts, from the acknowledgements collection sent back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stopped, to resume from: per gateway, the simulated instant up to which it has
    generated readings, and the ids of its batches still without an ack. A resumed run sends those
    batches again (regenerated: values are a pure function of device and time, so they are the same
    batches, and JetStream stores each once within its dedup window) and goes on from the cursors."""

    seed: int
    cursors: dict[str, int]
    pending: dict[str, list[str]]

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "cursors": self.cursors, "pending": self.pending}

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint | None:
        """The checkpoint in `value`, or None when it is not one."""
        try:
            return cls(
                seed=int(value["seed"]),
                cursors={str(k): int(v) for k, v in value["cursors"].items()},
                pending={str(k): [str(i) for i in v] for k, v in value.get("pending", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass
class SimulationStats:
    """Counters of one run; updated in place while it runs, readable at any time."""

    seed: int = 0
    phase: str = "starting"
    """starting → registering → streaming → draining → stopped."""
    devices: int = 0
    registered: int = 0
    registration_conflicts: int = 0
    """Devices already registered with another kind, position or owner (ALREADY_EXISTS)."""
    registration_failures: int = 0
    batches_sent: int = 0
    """Batches generated and sent (each counted once, however often it was resent)."""
    readings_sent: int = 0
    batches_acked: int = 0
    """Batches collection made durable (error_code 0), duplicates included."""
    duplicate_batches: int = 0
    readings_accepted: int = 0
    readings_rejected: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    """Rejected readings and detections by reason."""
    batches_failed: int = 0
    """Batches refused as a whole with an error other than UNAVAILABLE; not resent."""
    readings_failed: int = 0
    resends: int = 0
    """Batches sent again: their ack said UNAVAILABLE, or their stream broke before the ack."""
    reconnects: int = 0
    unconfirmed_batches: int = 0
    """Batches still without an ack when the run ended (a resumed run sends them again)."""
    recovered_batches: int = 0
    """Batches a previous run left unconfirmed, sent again by this one."""
    detections_sent: int = 0
    """Camera detections reported (each counted once, however often its batch was resent)."""
    detections_accepted: int = 0
    detections_rejected: int = 0
    detection_batches_failed: int = 0
    """Detection batches refused as a whole (not resent)."""
    last_error: str = ""
    sim_time_ms: int = 0
    """The simulated clock (the furthest any gateway has generated)."""
    live: bool = False
    """True once simulated time has caught up with the wall clock."""
    cursors: dict[str, int] = field(default_factory=dict)
    """Per gateway: every reading before this instant has been generated."""
    unacked: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """Per gateway: its batches without an ack yet, by id (the gateway's own dict, shared)."""

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            self.seed, dict(self.cursors), {name: list(batches) for name, batches in self.unacked.items()}
        )

    @property
    def in_flight(self) -> int:
        return self.batches_sent - self.batches_acked - self.batches_failed - self.unconfirmed_batches

    def summary(self) -> str:
        parts = [
            f"{self.registered}/{self.devices} devices registered",
            f"{self.batches_sent} batches ({self.readings_sent} readings) sent",
            f"{self.readings_accepted} accepted",
            f"{self.readings_rejected} rejected",
            f"{self.duplicate_batches} duplicate batches",
            f"{self.batches_failed} failed batches",
            f"{self.resends} resends",
            f"{self.reconnects} reconnects",
        ]
        if self.registration_conflicts:
            parts.append(f"{self.registration_conflicts} registration conflicts")
        if self.recovered_batches:
            parts.append(f"{self.recovered_batches} batches of the previous run sent again")
        if self.unconfirmed_batches:
            parts.append(f"{self.unconfirmed_batches} batches unconfirmed (sent again on resume)")
        if self.detections_sent:
            parts.append(
                f"{self.detections_sent} camera detections reported ({self.detections_accepted} accepted, "
                f"{self.detections_rejected} rejected)"
            )
        if self.detection_batches_failed:
            parts.append(f"{self.detection_batches_failed} failed detection batches")
        if self.rejections:
            parts.append("rejections: " + ", ".join(f"{k} {v}" for k, v in self.rejections.most_common()))
        return "; ".join(parts)
