"""Use case: rotate the deployment key that seals biometric data and secrets at rest.

The procedure (``mobileid admin rotate-key``), run with the API server and other
``mobileid`` commands stopped, since they hold the old key in memory:

1. The key file ``DATA_DIR/keys/deployment.key`` is kept as
   ``deployment.key.<old key id>.retired`` (a hard link: same bytes, mode 0600), then a new
   random key replaces ``deployment.key``.
2. The operators' TOTP secrets (in the main database) are re-sealed under the new key in one
   transaction; then finger templates, reference photos and every face embedding row,
   ``batch`` rows per transaction.
3. The last of those transactions writes the one ``key_rotation`` audit entry (rows
   re-sealed, old and new key ids; never a key). Index files sealed under the old key are
   deleted; the next search rebuilds them.
4. The retired key file is deleted. Back up the new ``deployment.key`` apart from the
   database: without it the stored embeddings and TOTP secrets cannot be read.

A rotation that stops part-way (power cut, full disk, audit log unavailable) leaves the
retired file in place. Running the command again finishes the same rotation: it takes the
retired file as the old key and ``deployment.key`` as the new one, and skips rows already
re-sealed. Until then, searches refuse with a message naming the unfinished rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.audit import AuditEvent, EventType
from mobileid.auth import Action
from mobileid.auth.crypto import SecretBox, key_id, load_key, load_or_create_key
from mobileid.auth.errors import DeploymentKeyError
from mobileid.auth.operators import _totp_context  # the AAD auth seals TOTP secrets with
from mobileid.auth.store import OperatorRow
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument
from mobileid.gallery.protocol import SealedAtRest
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context


@dataclass(frozen=True)
class KeyRotation:
    old_key_id: str
    new_key_id: str
    face_rows_resealed: int
    operator_secrets_resealed: int
    resumed: bool  # finished a rotation an earlier run had started
    photo_rows_resealed: int = 0  # reference photos


def retired_key_files(key_path: Path) -> list[Path]:
    return sorted(key_path.parent.glob(key_path.name + ".*.retired"))


def rotate_deployment_key(ctx: Context, caller: Caller, *, batch: int = 5_000) -> KeyRotation:
    """Replace the deployment key and re-seal everything under it (see the module text)."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    gallery = ctx.gallery
    if not isinstance(gallery, SealedAtRest):
        raise InvalidArgument(
            f"gallery: expected a backend that seals data under the deployment key, got "
            f"{type(gallery).__name__}",
            field="gallery",
        )
    key_path = ctx.settings.deployment_key_path
    old, new, retired, resumed = _keys(key_path)
    old_box, new_box = SecretBox(old), SecretBox(new)
    operators = _reseal_operator_secrets(ctx.engine, old_box, new_box)
    log = ctx.audit  # opened before the unit: opening it inside would wait on its own lock
    # Finger templates first: a rerun skips rows already under the new key, so a rotation
    # interrupted anywhere before the retired key is deleted can be finished.
    finger_rows = ctx.fingers.rotate_key(old, new, batch=batch)
    photo_rows = ctx.photos.rotate_key(old, new, batch=batch)

    with UnitOfWork(ctx.engine) as uow:  # the last face batch and the audit entry
        rows = gallery.rotate_key(old, new, batch=batch, uow=uow)
        details = {
            "old_key_id": old_box.key_id,
            "new_key_id": new_box.key_id,
            "face_rows_resealed": rows,
            "finger_rows_resealed": finger_rows,
            # "photo" names a payload to the log's guard; "_count" says this is a number
            "photo_rows_resealed_count": photo_rows,
            "operator_secrets_resealed": operators,
            "resumed": resumed,
        }
        who = (caller.operator, caller.role)
        log.append(uow, AuditEvent(EventType.KEY_ROTATION, *who, "keys", details=details))
    retired.unlink()
    return KeyRotation(old_box.key_id, new_box.key_id, rows, operators, resumed, photo_rows)


def _keys(key_path: Path) -> tuple[bytes, bytes, Path, bool]:
    """(old key, new key, retired file, resumed): a new key installed, or the pair of an
    unfinished rotation."""
    retired = retired_key_files(key_path)
    if len(retired) > 1:
        raise DeploymentKeyError(
            f"deployment key: expected at most one retired key beside {key_path}, got "
            f"{[p.name for p in retired]} (keep the one that sealed the data, move the others)",
            field="key",
        )
    if retired:
        old, current = load_key(retired[0]), load_key(key_path)
        if current != old:
            return old, current, retired[0], True
        keep = retired[0]  # stopped between keeping the old key and writing the new one
    else:
        old = load_key(key_path)
        keep = key_path.with_name(f"{key_path.name}.{key_id(old)}.retired")
        keep.hardlink_to(key_path)
    return old, _install_new_key(key_path), keep, bool(retired)


def _install_new_key(key_path: Path) -> bytes:
    """A new random key in ``key_path``, written beside it first so the swap is atomic."""
    fresh = key_path.with_name(key_path.name + ".new")
    new = load_or_create_key(fresh)  # a leftover from an interrupted run is as good
    fresh.replace(key_path)
    return new


def _reseal_operator_secrets(engine: Engine, old: SecretBox, new: SecretBox) -> int:
    with Session(engine) as s, s.begin():
        n = 0
        for row in s.scalars(select(OperatorRow)):
            if row.totp_key_id == new.key_id:
                continue
            context = _totp_context(row.username)
            secret = old.open(row.totp_sealed, context, row.totp_key_id)
            row.totp_sealed, row.totp_key_id = new.seal(secret, context), new.key_id
            n += 1
        return n
