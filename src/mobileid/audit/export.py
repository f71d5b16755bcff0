"""Export the audit log for outsiders, and re-start a witness after an upgrade or a recovery.

An export is a folder that an oversight body can verify without mobileid (see
docs/audit-export.md and docs/verify_audit_export.py)::

    manifest.json      format, counts, export time, SHA-256 of every other file
    entries.jsonl      one stored row per line, columns as stored (details as its JSON text)
    checkpoints.jsonl  the database's signed checkpoints
    witness.jsonl      a byte copy of the witness file (signed heads kept outside the database)
    keys/*.pub.pem     the public keys trusted to sign checkpoints
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from mobileid.audit.embedded import EmbeddedAuditLog
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.keys import key_id, load_public_key
from mobileid.audit.model import AuditEvent, EventType, Outcome, VerifyReport
from mobileid.audit.tables import CheckpointRow, EntryRow
from mobileid.errors import InvalidArgument

EXPORT_FORMAT = "mobileid-audit-export/1"
_ENTRY_COLUMNS = (
    "sequence",
    "time",
    "operator",
    "role",
    "event",
    "component",
    "outcome",
    "details",
    "clock_regressed",
    "prev_hash",
    "entry_hash",
)


@dataclass(frozen=True)
class ExportSummary:
    folder: Path
    entries: int
    checkpoints: int
    witness_lines: int


def export_log(log: EmbeddedAuditLog, folder: Path) -> ExportSummary:
    """Write the export into ``folder`` (new or empty). Works on a broken log too: it is what
    an investigation starts from."""
    if folder.exists() and any(folder.iterdir()):
        raise InvalidArgument(
            f"out: expected a new or empty folder, got {folder} with files in it", field="out"
        )
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    with log.engine.connect() as conn, (folder / "entries.jsonl").open("w") as out:
        entries = 0
        for row in conn.execute(select(EntryRow).order_by(EntryRow.sequence)):
            values = {c: getattr(row, c) for c in _ENTRY_COLUMNS}
            values["clock_regressed"] = bool(values["clock_regressed"])
            out.write(json.dumps(values, ensure_ascii=False, sort_keys=True) + "\n")
            entries += 1
        cps = list(conn.execute(select(CheckpointRow).order_by(CheckpointRow.sequence)))
    with (folder / "checkpoints.jsonl").open("w") as out:
        for r in cps:
            cp = {f: getattr(r, f) for f in ("sequence", "entry_hash", "time", "key_id")}
            out.write(json.dumps({**cp, "signature": r.signature}, sort_keys=True) + "\n")
    lines = 0
    if log.witness is not None and log.witness.exists():
        shutil.copyfile(log.witness.path, folder / "witness.jsonl")
        lines = count_lines(folder / "witness.jsonl")
    for pem in log.own_keys():
        (folder / "keys" / f"{key_id(load_public_key(pem))}.pub.pem").write_text(pem)
    _manifest(folder, entries, len(cps), lines)
    return ExportSummary(folder, entries, len(cps), lines)


def _manifest(folder: Path, entries: int, checkpoints: int, lines: int) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": entries,
        "checkpoints": checkpoints,
        "witness_lines": lines,
        "sha256": {str(p.relative_to(folder)): sha256_of(p) for p in files},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read a block at a time (an exported log can be gigabytes)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def count_lines(path: Path) -> int:
    """Lines that are not blank: the heads a witness file holds."""
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def adopt_witness(log: EmbeddedAuditLog, *, reason: str, operator: str, role: str) -> VerifyReport:
    """Start a new witness from the database's own signed checkpoints.

    For a data folder written before the witness existed, or after a restore from backup (the
    old witness then holds heads the restored database lacks). The database alone must verify;
    an existing witness file is kept beside the new one as ``heads.<time>.retired.jsonl``, and
    the adoption is logged (with the reason and what the retired witness last vouched for)
    before the new witness is written.
    """
    if not reason.strip():
        raise InvalidArgument(
            "reason: expected why the witness is adopted, got nothing", field="reason"
        )
    witness, signer = log.witness, log.signer
    if witness is None or signer is None:
        raise InvalidArgument(
            "witness: expected a log with a witness and a signing key", field="witness"
        )
    with log.engine.connect() as conn:
        alone = log.verify_on(conn, log.own_keys(), None)
    if not alone.ok:
        raise AuditIntegrityError(
            f"audit log: the database itself is not intact at entry {alone.first_bad_sequence} "
            f"({alone.reason}): restore a backup that verifies before adopting a witness",
            field="audit_log",
        )
    retired = None
    with witness.lock():
        if witness.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            retired = witness.folder / f"heads.{stamp}.retired.jsonl"
            os.replace(witness.path, retired)
    details: dict[str, object] = {
        "reason": reason,
        "retired_witness": str(retired) if retired else None,
        "entries": alone.entries,
        "signed_through": alone.witnessed_through or alone.trusted_through,
    }
    event = AuditEvent(EventType.AUDIT_WITNESS, operator, role, "cli", Outcome.OK, details)
    with log.engine.begin() as conn:
        head = log._lock_head(conn)
        log._write(conn, head, event)
        log._seal(conn, signer)
    witness.create()
    log.sync_witness()
    return log.verify()
