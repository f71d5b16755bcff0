"""Where a deployment keeps its audit log and signing key, and how to open them."""

from __future__ import annotations

from pathlib import Path

from mobileid.audit.embedded import Clock, EmbeddedAuditLog, system_clock
from mobileid.audit.keys import (
    PRIVATE_KEY_FILE,
    load_or_create_signer,
    load_signer,
)
from mobileid.audit.tables import open_audit_engine


def audit_database(data_dir: Path) -> Path:
    """The audit tables live in the deployment's main database, beside the galleries, so that
    a gallery change and its audit entry commit in one transaction (or neither does)."""
    return data_dir / "mobileid.sqlite3"


def key_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def local_public_keys(data_dir: Path) -> list[str]:
    """The deployment's public key and any retired ones kept beside it (``*.pub.pem``)."""
    keys = key_dir(data_dir)
    return [p.read_text(encoding="ascii") for p in sorted(keys.glob("*.pub.pem"))]


def open_audit_log(
    data_dir: Path,
    *,
    create_key: bool = True,
    clock: Clock = system_clock,
    checkpoint_every: int = 100,
) -> EmbeddedAuditLog:
    """The embedded log in ``data_dir``; with ``create_key`` a signing key is made if absent.

    Without ``create_key`` and without a key on disk the log still appends and verifies, but
    signs no checkpoints.
    """
    keys = key_dir(data_dir)
    if create_key:
        signer = load_or_create_signer(keys)
    elif (keys / PRIVATE_KEY_FILE).exists():
        signer = load_signer(keys)
    else:
        signer = None
    own = signer.public_key_pem() if signer is not None else None
    others = [pem for pem in local_public_keys(data_dir) if pem != own]
    return EmbeddedAuditLog(
        open_audit_engine(audit_database(data_dir)),
        signer=signer,
        trusted_keys=others,
        clock=clock,
        checkpoint_every=checkpoint_every,
    )
