"""The live status view of `citymesh up`: a few lines redrawn in place on a terminal, or one line
every few seconds when the output is a file or a pipe. Pure formatting of a Snapshot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from citymesh.simulator.stats import SimulationStats


@dataclass
class ServiceRow:
    name: str
    address: str
    pid: int | None
    up: bool
    """Running and answering its probe (or health)."""
    exit_code: int | None = None
    detail: str = ""


@dataclass
class Snapshot:
    data_dir: str
    uptime_s: float
    services: list[ServiceRow]
    readings_per_s: float = 0.0
    """Readings collection accepted per second, over the last interval."""
    accepted: int = 0
    rejected: int = 0
    duplicate_batches: int = 0
    rows: int | None = None
    lag_batches: int | None = None
    simulator: SimulationStats | None = None
    rate: float = 1.0
    errors: list[str] = field(default_factory=list)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _sim_time(stats: SimulationStats) -> str:
    if not stats.sim_time_ms:
        return "-"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stats.sim_time_ms / 1000))
    if stats.live:
        return f"{when} (live)"
    behind_h = (time.time() * 1000 - stats.sim_time_ms) / 3_600_000
    return f"{when} (replaying, {behind_h:.1f} h behind the clock)"


def _or_dash(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render(s: Snapshot) -> list[str]:
    """The status as lines for a terminal."""
    lines = [f"citymesh up · {s.data_dir} · up {_clock(s.uptime_s)} · Ctrl-C stops everything"]
    for row in s.services:
        if row.up:
            state = "up"
        elif row.exit_code is not None:
            state = f"DOWN (exit {row.exit_code})"
        else:
            state = "not answering"
        pid = f"pid {row.pid}" if row.pid else ""
        lines.append(f"  {row.name:<11} {state:<15} {row.address:<26} {pid:<11} {row.detail}".rstrip())
    lines.append(
        f"  ingest      {s.readings_per_s:>10,.0f} readings/s · {s.accepted:,} accepted · "
        f"{s.rejected:,} rejected · {s.duplicate_batches:,} duplicate batches"
    )
    lines.append(f"  store       {_or_dash(s.rows)} rows · lag {_or_dash(s.lag_batches)} batches")
    sim = s.simulator
    if sim is None:
        lines.append("  simulator   off")
    else:
        lines.append(
            f"  simulator   {sim.phase} at {s.rate:g}× · {sim.registered:,}/{sim.devices:,} devices · "
            f"{sim.in_flight} batches in flight · {sim.resends} resends · {sim.reconnects} reconnects"
        )
        lines.append(f"  sim time    {_sim_time(sim)}")
    lines.extend(f"  ! {e}" for e in s.errors)
    return lines


def render_line(s: Snapshot) -> str:
    """The status as one line, for logs and pipes."""
    services = " ".join(f"{r.name}={'up' if r.up else 'down'}" for r in s.services)
    parts = [
        f"[{_clock(s.uptime_s)}]",
        f"{s.readings_per_s:,.0f} readings/s",
        f"accepted {s.accepted:,}",
        f"rejected {s.rejected:,}",
        f"rows {_or_dash(s.rows)}",
        f"lag {_or_dash(s.lag_batches)}",
        services,
    ]
    if s.simulator is not None:
        parts.append(f"simulator {s.simulator.phase}{' live' if s.simulator.live else ''}")
    line = " · ".join(parts)
    return line + "".join(f" ! {e}" for e in s.errors)


class Screen:
    """Redraws the status in place with ANSI escapes (terminal), or prints a line every
    `every_s` seconds (anything else)."""

    def __init__(self, out: TextIO, tty: bool, every_s: float = 5.0) -> None:
        self.out = out
        self.tty = tty
        self.every_s = every_s
        self.drawn = 0
        self.last_line = 0.0

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def show(self, snapshot: Snapshot, force: bool = False) -> None:
        if self.tty:
            lines = render(snapshot)
            up = f"\x1b[{self.drawn}F" if self.drawn else ""
            self._write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
            self.drawn = len(lines)
        elif force or time.monotonic() - self.last_line >= self.every_s:
            self.last_line = time.monotonic()
            self._write(render_line(snapshot) + "\n")

    def say(self, text: str) -> None:
        """A message below the status (which is then redrawn under it)."""
        self._write(text + "\n")
        self.drawn = 0
