"""Use cases: a consistent backup of a running deployment's data folder, and its restore.

What a backup holds (``mobileid backup DIR``):
- every SQLite database of the data folder (gallery, audit log, operators, training records,
  record sources kept in the folder), each copied with SQLite's online backup, so the copy is
  one committed state even while the service writes;
- the audit witness (``heads.jsonl``), copied first and under the witness's own exclusive
  lock, so the copy never vouches for an entry the database copy lacks;
- the deployers' configuration files (``purposes.json`` and the other files of the folder);
- the public key that verifies the log's checkpoints, and, only with ``--with-keys``, the
  deployment key and the audit signing key: the README asks for keys to be kept apart from
  the data they unlock, so by default the manifest names the keys a restore will need.
Index files and caches are derived and left out: they are rebuilt from the databases.

``manifest.json`` lists every file with its size and SHA-256; restore checks them all before
it writes anything, writes only into an empty folder, and then verifies the restored audit
chain against the restored witness. Both acts are audited (the backup in the live log, before
the copy, so the copy holds its own record; the restore in the restored log).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mobileid import __version__
from mobileid.audit import AuditEvent, EventType, open_deployment_audit_log
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.export import count_lines, sha256_of
from mobileid.auth import Action
from mobileid.auth.crypto import key_id, load_key
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NotFound
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context

FORMAT = "mobileid-backup/1"
SECRET_KEYS = ("deployment.key", "audit-ed25519.pem")
_DERIVED = {"index", "cache", "audit-witness", "keys"}  # rebuilt, or copied on their own terms
_SIDE_FILES = ("-wal", "-shm", "-journal", ".tmp", ".lock")


@dataclass(frozen=True)
class BackupReport:
    destination: Path
    files: int
    bytes: int
    audit_head: int  # the last audit entry in the copy (the backup's own entry)
    witness_heads: int
    deployment_key_id: str
    keys_included: bool


@dataclass(frozen=True)
class RestoreReport:
    data_dir: Path
    files: int
    audit_entries: int
    witness_heads: int
    backup_created: str


def _empty_target(path: Path, field: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidArgument(
            f"{field}: expected a new or empty folder, got {str(path)!r}, which holds files "
            "(choose another, or move it aside first)",
            field=field,
        )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _folder_files(data_dir: Path) -> Iterator[Path]:
    """The data folder's own files: databases and configuration, not derived or side files."""
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if rel.parts[0] in _DERIVED or not path.is_file() or path.is_symlink():
            continue
        if path.name.endswith(_SIDE_FILES):
            continue
        yield path


def _copy_database(src: Path, dest: Path) -> None:
    """One committed state of ``src``, copied page by page while writers may go on (WAL)."""
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=60)) as source,
        closing(sqlite3.connect(dest)) as target,
    ):
        source.backup(target)
    os.chmod(dest, 0o600)


def _copy_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, 0o600)


def _is_database(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def backup(ctx: Context, caller: Caller, destination: Path, *, with_keys: bool) -> BackupReport:
    """Copy the data folder into ``destination`` (new or empty) as described above."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    settings = ctx.settings
    keys = settings.deployment_key_path.parent
    if list(keys.glob("deployment.key.*.retired")):
        raise InvalidArgument(
            "deployment key: a key rotation is unfinished; run `mobileid admin rotate-key` to "
            "finish it before taking a backup",
            field="deployment_key",
        )
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        raise InvalidArgument(
            "MOBILEID_DATABASE_URL: expected the embedded SQLite database, got a server URL; "
            "back a PostgreSQL main database up with its own tools (pg_dump or a base backup "
            "with WAL archiving), together with the audit witness and DATA_DIR/keys",
            field="database_url",
        )
    _empty_target(destination, "DIR")
    log = ctx.audit
    details = {"destination": str(destination.resolve()), "keys_included": with_keys}
    log.record(
        AuditEvent(EventType.BACKUP, caller.operator, caller.role, "backup", details=details)
    )
    witness = settings.witness_dir / "heads.jsonl"
    copied: list[Path] = []
    held = log.witness.lock() if log.witness is not None else nullcontext()
    with held:  # no head is witnessed while the copies are made
        if witness.exists():
            _copy_file(witness, destination / "audit-witness" / "heads.jsonl")
            copied.append(destination / "audit-witness" / "heads.jsonl")
        for path in _folder_files(settings.data_dir):
            rel = path.relative_to(settings.data_dir)
            (_copy_database if _is_database(path) else _copy_file)(path, destination / rel)
            copied.append(destination / rel)
    for name in [p.name for p in keys.glob("*.pub.pem")] + list(SECRET_KEYS if with_keys else ()):
        if (keys / name).exists():
            _copy_file(keys / name, destination / "keys" / name)
            copied.append(destination / "keys" / name)
    head = _copied_head(destination / settings.database_path.name)
    copy = destination / "audit-witness" / "heads.jsonl"
    witness_heads = count_lines(copy) if copy.exists() else 0
    deployment = key_id(load_key(settings.deployment_key_path))
    manifest = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "mobileid": __version__,
        "audit_head": head,
        "witness_heads": witness_heads,
        "deployment_key_id": deployment,
        "keys_included": with_keys,
        "files": [_listing(destination, p) for p in copied],
    }
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    os.chmod(destination / "manifest.json", 0o600)
    size = sum(p.stat().st_size for p in copied)
    return BackupReport(destination, len(copied), size, head, witness_heads, deployment, with_keys)


def _listing(root: Path, path: Path) -> dict[str, object]:
    return {
        "path": str(path.relative_to(root)),
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }


def _copied_head(database: Path) -> int:
    """The last audit entry in the copy (the live log may have moved on since)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT max(sequence) FROM audit_entries").fetchone()[0] or 0)


def read_manifest(backup_dir: Path) -> dict:
    path = backup_dir / "manifest.json"
    if not path.is_file():
        raise NotFound(
            f"BACKUP: expected a backup folder with manifest.json, got {str(backup_dir)!r}",
            field="BACKUP",
        )
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"BACKUP: manifest.json is not JSON ({exc})", field="BACKUP") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise InvalidArgument(
            f"BACKUP: expected a manifest of format {FORMAT!r}, got {got!r}", field="BACKUP"
        )
    for entry in manifest["files"]:
        file = backup_dir / entry["path"]
        if not file.is_file() or sha256_of(file) != entry["sha256"]:
            raise InvalidArgument(
                f"BACKUP: {entry['path']} is missing or differs from the manifest's SHA-256; "
                "this backup cannot be trusted",
                field="BACKUP",
            )
    return manifest


def _key_source(backup_dir: Path, manifest: dict, keys_dir: Path | None) -> Path:
    folder = keys_dir or backup_dir / "keys"
    missing = [name for name in SECRET_KEYS if not (folder / name).is_file()]
    if missing:
        raise InvalidArgument(
            f"--keys: expected {', '.join(missing)} in {str(folder)!r} (this backup was taken "
            f"without keys; give the folder where deployment key {manifest['deployment_key_id']} "
            "and the audit signing key are kept)",
            field="keys",
        )
    got = key_id(load_key(folder / "deployment.key"))
    if got != manifest["deployment_key_id"]:
        raise InvalidArgument(
            f"--keys: expected deployment key {manifest['deployment_key_id']}, got {got}",
            field="keys",
        )
    return folder


def restore(
    backup_dir: Path, settings: Settings, caller: Caller, *, keys_dir: Path | None = None
) -> RestoreReport:
    """Bring a backup back into an empty data folder and prove its audit chain: every file
    checked first, then copied, then the whole log verified against the restored witness.
    Anything short of an intact log removes what was written and raises."""
    manifest = read_manifest(backup_dir)
    keys = _key_source(backup_dir, manifest, keys_dir)
    data = settings.data_dir
    _empty_target(data, "data_dir")
    try:
        for entry in manifest["files"]:
            rel = Path(entry["path"])
            if rel.parts[0] in ("audit-witness", "keys"):
                continue
            _copy_file(backup_dir / rel, data / rel)
        witness = backup_dir / "audit-witness" / "heads.jsonl"
        if witness.exists():
            _copy_file(witness, settings.witness_dir / "heads.jsonl")
        for pub in (backup_dir / "keys").glob("*.pub.pem"):
            _copy_file(pub, data / "keys" / pub.name)
        for name in SECRET_KEYS:
            _copy_file(keys / name, data / "keys" / name)
        return _prove(backup_dir, settings, caller, manifest)
    except BaseException:
        shutil.rmtree(data, ignore_errors=True)
        raise


def _prove(backup_dir: Path, settings: Settings, caller: Caller, manifest: dict) -> RestoreReport:
    log = open_deployment_audit_log(settings, create_key=False)
    try:
        report = log.verify()
        if not report.ok:
            raise AuditIntegrityError(
                f"the restored audit log does not verify (entry {report.first_bad_sequence}: "
                f"{report.reason}); nothing was restored"
            )
        details = {
            "from": str(backup_dir.resolve()),
            "backup_created": manifest["created"],
            "backup_audit_head": manifest["audit_head"],
        }
        log.record(
            AuditEvent(EventType.RESTORE, caller.operator, caller.role, "backup", details=details)
        )
    finally:
        log.close()
    return RestoreReport(
        settings.data_dir,
        len(manifest["files"]),
        report.entries + 1,
        int(manifest["witness_heads"]),
        str(manifest["created"]),
    )
