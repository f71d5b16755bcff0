"""Rotating the deployment key re-seals embeddings and TOTP secrets, audited and resumable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyotp
import pytest
from argon2 import PasswordHasher

from mobileid.audit import EventType
from mobileid.auth import AuthService, MemoryEvents, console_principal
from mobileid.auth.crypto import key_id, load_key
from mobileid.auth.errors import DeploymentKeyError
from mobileid.config import Settings
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.keys import retired_key_files, rotate_deployment_key

CONSOLE = console_caller()

PID = "test-pipeline/1"
PASSWORD = "correct horse battery"


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def settings(tmp_path):
    """A data folder with five enrolled subjects and a searched (so sealed) index file."""
    settings = replace(Settings(), data_dir=tmp_path / "data")
    ctx = open_context(settings)
    for i in range(5):
        ctx.gallery.enrol("g", f"r{i}", f"N{i}", "t", [(f"h{i}", vec(i))], PID)
    ctx.gallery.search("g", vec(0), PID, k=1)
    return settings


def auth(settings: Settings) -> AuthService:
    key = load_key(settings.deployment_key_path)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return AuthService(settings.main_database_url, key, events=MemoryEvents(), hasher=cheap)


def test_rotation_replaces_the_key_and_everything_still_opens(settings):
    """New 0600 key, no retired file, rows under the new key id, search and logon work, and
    one audit entry names both key ids but holds no key."""
    old = load_key(settings.deployment_key_path)
    svc = auth(settings)
    secret = svc.add_operator(
        console_principal("root"), "alice", role="officer", password=PASSWORD
    ).totp_secret
    svc.close()
    result = rotate_deployment_key(open_context(settings), CONSOLE, batch=2)
    new = load_key(settings.deployment_key_path)
    assert new != old and settings.deployment_key_path.stat().st_mode & 0o777 == 0o600
    assert (result.old_key_id, result.new_key_id) == (key_id(old), key_id(new))
    assert (result.face_rows_resealed, result.operator_secrets_resealed) == (5, 1)
    assert retired_key_files(settings.deployment_key_path) == []
    ctx = open_context(settings)
    assert ctx.gallery.key_ids() == {key_id(new): 5}
    assert ctx.gallery.get(ctx.gallery.search("g", vec(3), PID, k=1)[0].subject_id).name == "N3"
    svc = auth(settings)
    assert svc.logon("alice", PASSWORD, pyotp.TOTP(secret).now()).principal.username == "alice"
    svc.close()
    (entry,) = [e for e in ctx.audit.read() if e.event == EventType.KEY_ROTATION]
    assert dict(entry.details) == {
        "old_key_id": key_id(old),
        "new_key_id": key_id(new),
        "face_rows_resealed": 5,
        "finger_rows_resealed": 0,
        "photo_rows_resealed_count": 0,
        "operator_secrets_resealed": 1,
        "resumed": False,
    }
    assert old.hex() not in str(entry) and new.hex() not in str(entry)


def test_an_interrupted_rotation_is_refused_clearly_then_finished_by_a_rerun(settings, monkeypatch):
    """If the audit entry cannot be written the old key stays as a retired file, searches
    name the unfinished rotation, and running the command again completes it."""
    old = load_key(settings.deployment_key_path)
    ctx = open_context(settings)

    def refuse(session, event):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(ctx.audit, "append", refuse)
    with pytest.raises(RuntimeError):
        rotate_deployment_key(ctx, CONSOLE, batch=2)
    (retired,) = retired_key_files(settings.deployment_key_path)
    assert load_key(retired) == old
    with pytest.raises(DeploymentKeyError, match="rotate-key"):
        open_context(settings).gallery.search("g", vec(0), PID, k=1)
    result = rotate_deployment_key(open_context(settings), CONSOLE, batch=2)
    assert result.resumed and result.face_rows_resealed == 1  # the rolled-back last batch
    assert result.old_key_id == key_id(old)
    assert retired_key_files(settings.deployment_key_path) == []
    assert open_context(settings).gallery.search("g", vec(4), PID, k=1)[0].score > 0.999


def test_two_retired_keys_are_refused(settings):
    """With more than one retired key file the command will not guess which is the old one."""
    path = settings.deployment_key_path
    for name in ("a", "b"):
        path.with_name(f"{path.name}.{name}.retired").hardlink_to(path)
    with pytest.raises(DeploymentKeyError, match="at most one retired key"):
        rotate_deployment_key(open_context(settings), CONSOLE)


def test_rotation_reseals_finger_templates_too(settings):
    """Finger templates are re-sealed before the old key is deleted, and still open after."""
    from mobileid.gallery.fingers import FingerCapture
    from tests.conftest import shared_path

    ctx = open_context(settings)
    path = shared_path("fingerprints", "FVC2002", "DB1_B", "101_1.tif")
    template = ctx.finger_pipeline.enrol_file(path)
    capture = FingerCapture(template=template, position="unknown", image_sha256="f" * 64)
    ctx.fingers.enrol("g", "r0", "N0", "t", [capture])
    result = rotate_deployment_key(open_context(settings), CONSOLE, batch=2)
    new = load_key(settings.deployment_key_path)
    fresh = open_context(settings)
    assert fresh.fingers.key_ids() == {key_id(new): 1}
    entry = [e for e in fresh.audit.read() if e.event == EventType.KEY_ROTATION][-1]
    assert entry.details["finger_rows_resealed"] == 1 and result.new_key_id == key_id(new)
