"""`citymesh up`'s credentials: governance's key pair made once in the data folder, a `service`
token for every process, and the signing key for governance alone."""

from __future__ import annotations

import stat
from pathlib import Path

from citymesh.launcher.process import DEVELOPMENT_ENV, ServiceProcess
from citymesh.launcher.services import SERVICES
from citymesh.launcher.up import credentials
from citymesh.runtime import auth


def test_the_key_pair_is_made_once_and_the_signing_key_is_private(tmp_path: Path) -> None:
    first = credentials(tmp_path / "keys")
    signing = tmp_path / "keys" / "signing-key.pem"
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600
    again = credentials(tmp_path / "keys")
    assert (again.public_key, again.signing_key) == (first.public_key, first.signing_key)
    who = auth.verify(again.token, auth.load_public_key(first.public_key))
    assert who == auth.Identity("zone", "", frozenset({"service"}))
    assert who.is_platform


def test_a_lost_public_key_is_made_again_from_the_signing_key(tmp_path: Path) -> None:
    first = credentials(tmp_path / "keys")
    (tmp_path / "keys" / "public-key.pem").unlink()
    assert credentials(tmp_path / "keys").public_key == first.public_key


def test_every_process_verifies_tokens_and_only_governance_signs(tmp_path: Path) -> None:
    creds = credentials(tmp_path / "keys")
    for spec in SERVICES:
        env = ServiceProcess(spec, tmp_path, "nats://x:1", creds).credentials.env(spec.name)  # type: ignore[union-attr]
        assert env["CITYMESH_AUTH_PUBLIC_KEY"] == creds.public_key
        assert env["CITYMESH_TOKEN"] == creds.token
        assert ("CITYMESH_SIGNING_KEY" in env) is (spec.name == "governance")
    # Without credentials (benchmarks), a process runs in development mode, and says so.
    assert DEVELOPMENT_ENV["CITYMESH_AUTH_DEV_HEADERS"] == "true"
