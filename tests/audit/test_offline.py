"""An outsider verifies the log with the exported public key and a plain read of the tables."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from mobileid.audit import (
    AuditEntry,
    Checkpoint,
    audit_database,
    export_public_key,
    key_dir,
    verify_log,
)
from tests.audit.conftest import TOTAL


def _read_tables(path: Path) -> tuple[list[AuditEntry], list[Checkpoint]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT sequence, time, operator, role, event, component, outcome, details, "
            "clock_regressed, prev_hash, entry_hash FROM audit_entries ORDER BY sequence"
        ).fetchall()
        cps = db.execute(
            "SELECT sequence, entry_hash, time, key_id, signature FROM audit_checkpoints"
        ).fetchall()
    names = ["sequence", "time", "operator", "role", "event", "component", "outcome"]
    entries = [
        AuditEntry(
            **dict(zip(names, r[:7], strict=True)),
            details=json.loads(r[7]),
            clock_regressed=bool(r[8]),
            prev_hash=r[9],
            entry_hash=r[10],
        )
        for r in rows
    ]
    return entries, [Checkpoint(*c) for c in cps]


def test_offline_verify_with_exported_key(data_dir: Path) -> None:
    """verify_log needs only the tables and the exported PEM public key."""
    pem = export_public_key(key_dir(data_dir))
    entries, checkpoints = _read_tables(audit_database(data_dir))
    report = verify_log(entries, checkpoints, [pem])
    assert report.ok and report.entries == TOTAL and report.trusted_through == 300


def test_format_can_be_reimplemented_without_mobileid(data_dir: Path) -> None:
    """The documented rules (sorted compact UTF-8 JSON, SHA-256, Ed25519) reproduce the log."""
    entries, checkpoints = _read_tables(audit_database(data_dir))
    prev = "0" * 64
    for e in entries:
        fields = {k: v for k, v in e.__dict__.items() if k != "entry_hash"}
        fields["details"] = dict(e.details)
        blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e.prev_hash == prev
        assert hashlib.sha256(blob.encode("utf-8")).hexdigest() == e.entry_hash
        prev = e.entry_hash
    public = load_pem_public_key(export_public_key(key_dir(data_dir)).encode())
    assert isinstance(public, Ed25519PublicKey)
    for cp in checkpoints:
        message = {
            "format": "mobileid-audit-checkpoint/1",
            "sequence": cp.sequence,
            "entry_hash": cp.entry_hash,
            "time": cp.time,
            "key_id": cp.key_id,
        }
        signed = json.dumps(message, sort_keys=True, separators=(",", ":")).encode()
        public.verify(bytes.fromhex(cp.signature), signed)
        assert entries[cp.sequence - 1].entry_hash == cp.entry_hash
