"""A data folder written by release 0.1 (commit 5440a3b) upgrades in place when opened.

The folder is rebuilt from ``release-0.1/`` (SQL dumps of that release's two SQLite files, its
keys and its audit witness; ``make_release_fixture.py`` wrote them with that release's code).
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyotp
import pytest
from argon2 import PasswordHasher

from mobileid.auth import AuthService
from mobileid.config import Settings
from mobileid.database import head_revision
from mobileid.database.schema import current_revision
from mobileid.service.context import Context, open_context
from mobileid.service.disposition import find_search
from tests.database.make_release_fixture import PASSWORD, PID, SEARCH_ID

FIXTURE = Path(__file__).with_name("release-0.1")


def release_folder(data: Path) -> Path:
    """The release 0.1 data folder, rebuilt at ``data``."""
    data.mkdir(parents=True)
    for name in ("mobileid", "operators"):
        with closing(sqlite3.connect(data / f"{name}.sqlite3")) as db:
            db.executescript((FIXTURE / f"{name}.sql").read_text())
    (data / "keys").mkdir(mode=0o700)
    key = data / "keys" / "deployment.key"
    key.write_bytes(bytes.fromhex((FIXTURE / "deployment.key.hex").read_text()))
    key.chmod(0o600)
    (data / "audit-witness").mkdir()
    for path in FIXTURE.glob("*--*"):
        folder, name = path.name.split("--", 1)
        shutil.copyfile(path, data / folder / name)
        (data / folder / name).chmod(0o600)  # as the release left its key files
    return data


@pytest.fixture
def upgraded(tmp_path: Path) -> Context:
    settings = replace(Settings(), data_dir=release_folder(tmp_path / "data"))
    ctx = open_context(settings)
    yield ctx
    ctx.close()


def test_the_schema_reaches_the_newest_migration(upgraded: Context) -> None:
    """Opening the old folder upgrades its database to the newest migration."""
    assert current_revision(upgraded.engine) == head_revision()


def test_subjects_are_kept_and_still_found(upgraded: Context) -> None:
    """The two enrolled subjects survive, their sealed vectors open, and a search finds each."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert sorted(s.name for s in upgraded.gallery.subjects()) == ["Ada Fixture", "Ben Fixture"]
    for vector, name in zip(vectors, ("Ada Fixture", "Ben Fixture"), strict=True):
        hits = upgraded.gallery.search("field", vector, PID, 1)
        assert upgraded.gallery.get(hits[0].subject_id).name == name
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_the_audit_log_verifies_and_finds_the_old_search_by_index(upgraded: Context) -> None:
    """The old log still verifies against its witness, and its search is found by the new
    search-id index (filled in by the migration)."""
    assert upgraded.audit.verify().ok
    assert find_search(upgraded, SEARCH_ID).details["best_band"] == "strong"


def test_operators_move_into_the_main_database(upgraded: Context) -> None:
    """The operators file is copied into the main database and removed; the operator logs on
    with the old password and TOTP secret, keeps the entitlement, and the log says so."""
    data = upgraded.settings.data_dir
    assert not (data / "operators.sqlite3").exists()
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    key = upgraded.settings.deployment_key_path.read_bytes()
    auth = AuthService(upgraded.engine, key, hasher=cheap)
    secret = (FIXTURE / "totp-secret.txt").read_text().strip()
    result = auth.logon("alice", PASSWORD, pyotp.TOTP(secret).now())
    assert result.principal.galleries == frozenset({"field"})
    assert upgraded.audit.verify().ok
