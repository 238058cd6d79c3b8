"""Fixtures: a real nats-server per test (free port, data in tmp_path), and service runners."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from citymesh.launcher.process import free_port
from citymesh.runtime.natsd import NatsServer

__all__ = ["free_port", "nats_server"]

# CI runs property tests on a fixed seed, so a submission's verdict does not depend on the draw;
# everywhere else each run explores new examples (and keeps failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()
