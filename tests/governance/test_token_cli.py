"""`citymesh token`: the first administrator's keys and token, made offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from citymesh.cli import main
from citymesh.runtime.auth import load_public_key, verify


def test_keys_then_a_token_that_the_public_key_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "keys", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    signing = str(tmp_path / "signing-key.pem")
    assert main(["token", "sign", "--signing-key", signing, "--roles", "zone-admin,auditor"]) == 0
    token = capsys.readouterr().out.strip()
    identity = verify(token, load_public_key((tmp_path / "public-key.pem").read_text()))
    assert identity.tenant == "zone"
    assert identity.roles == frozenset({"zone-admin", "auditor"})


def test_keys_are_never_overwritten_and_a_bad_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "keys", "--out", str(tmp_path)]) == 0
    assert main(["token", "keys", "--out", str(tmp_path)]) == 1
    (tmp_path / "bad.pem").write_text("not a key")
    assert main(["token", "sign", "--signing-key", str(tmp_path / "bad.pem")]) == 2
    assert "signing key" in capsys.readouterr().err
