"""Where a deployment keeps its audit log and signing key, and how to open them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mobileid.audit.embedded import Clock, EmbeddedAuditLog, system_clock
from mobileid.audit.keys import (
    PRIVATE_KEY_FILE,
    load_or_create_signer,
    load_signer,
)
from mobileid.audit.remote import open_remote
from mobileid.audit.witness import FileWitness
from mobileid.database import Where

if TYPE_CHECKING:
    from mobileid.config import Settings


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
    checkpoint_every: int = 1,
    checkpoint_minutes: float = 5.0,
    witness_dir: Path | None = None,
    witness_url: str | None = None,
    full_verify_minutes: float | None = None,
    database: Where | None = None,
) -> EmbeddedAuditLog:
    """The log of ``data_dir``; with ``create_key`` a signing key is made if absent.

    The entries live in the main database: ``database`` (an engine, shared, or a URL), by
    default the SQLite file in ``data_dir``.

    Signed heads are witnessed in ``witness_dir`` (default ``DATA_DIR/audit-witness``) and,
    with ``witness_url``, remotely. Without ``create_key`` and without a key on disk the log
    still appends and verifies, but signs no checkpoints.
    """
    keys = key_dir(data_dir)
    if create_key:
        signer = load_or_create_signer(keys)
    elif (keys / PRIVATE_KEY_FILE).exists():
        signer = load_signer(keys)
    else:
        signer = None
    witness = FileWitness(witness_dir or data_dir / "audit-witness")
    own = signer.public_key_pem() if signer is not None else None
    others = [pem for pem in local_public_keys(data_dir) if pem != own]
    return EmbeddedAuditLog(
        audit_database(data_dir) if database is None else database,
        signer=signer,
        trusted_keys=others,
        clock=clock,
        checkpoint_every=checkpoint_every,
        checkpoint_minutes=checkpoint_minutes,
        witness=witness,
        remote=open_remote(witness_url, witness),
        full_verify_minutes=full_verify_minutes,
    )


def open_deployment_audit_log(
    settings: Settings,
    *,
    create_key: bool = True,
    clock: Clock = system_clock,
    database: Where | None = None,
) -> EmbeddedAuditLog:
    """The deployment's log, with the schedule and witness its settings name, in its main
    database (``database``: that database's shared engine, when the caller holds one)."""
    return open_audit_log(
        settings.data_dir,
        create_key=create_key,
        clock=clock,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_minutes=settings.audit_checkpoint_minutes,
        witness_dir=settings.witness_dir,
        witness_url=settings.audit_witness_url,
        full_verify_minutes=settings.audit_full_verify_minutes,
        database=settings.main_database if database is None else database,
    )
