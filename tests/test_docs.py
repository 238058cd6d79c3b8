"""The docs say what the code does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.docs import README, render

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_configuration_table_is_the_settings_of_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    assert "| `CITYMESH_NATS_URL` |" in text
    assert render(text) == text, "README.md's settings table is stale: run `make docs`"


def test_the_cli_help_names_every_command_the_readme_shows() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "citymesh", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for command in ["serve", "settings", "simulate", "up", "bench"]:
        assert command in done.stdout


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in README.read_text(encoding="utf-8")
