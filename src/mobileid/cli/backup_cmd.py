"""``mobileid backup DIR`` and ``mobileid restore BACKUP``: a consistent copy of a running
deployment's data folder, and bringing one back (see ``service/backup.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mobileid.cli.reason import MANAGEMENT_NOTE, management, token_argument
from mobileid.config import Settings

BACKUP_HELP = (
    """\
Copy the data folder into DIR (new or empty) while the service may keep running: every
database through SQLite's online backup, the audit witness under its lock, the configuration
files, and the public key that verifies the audit log, with manifest.json listing each file's
SHA-256. Indexes and caches are left out (rebuilt from the databases).
Keys: without --with-keys the deployment key and the audit signing key are NOT copied: keep
them apart from the data they unlock (DATA_DIR/keys/), and give them to `mobileid restore
--keys`. The manifest names the deployment key id a restore needs. Audited (event backup).
An admin's act (it reads every gallery):"""
    + MANAGEMENT_NOTE
)

RESTORE_HELP = """\
Bring BACKUP back into the data folder, which must be new or empty. Every file is checked
against the manifest first; the deployment key must be the one the backup names (from the
backup itself or from --keys). Then the restored audit log is verified against the restored
witness: if it is not intact nothing is left behind and the exit code is 7. The restore is
recorded in the restored log (event restore)."""


def add_backup_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser(
        "backup",
        parents=[common],
        help="copy the data folder consistently while the service runs (audited)",
        description=BACKUP_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("dir", type=Path, metavar="DIR", help="a new or empty folder")
    b.add_argument(
        "--with-keys",
        action="store_true",
        help="also copy the deployment key and audit signing key (then guard DIR like them)",
    )
    token_argument(b)
    b.set_defaults(handler=_backup)
    r = sub.add_parser(
        "restore",
        parents=[common],
        help="restore a backup into an empty data folder and verify its audit chain",
        description=RESTORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("backup", type=Path, metavar="BACKUP", help="a folder written by backup")
    r.add_argument(
        "--keys",
        type=Path,
        metavar="KEYDIR",
        help="folder holding deployment.key and audit-ed25519.pem (for a backup without keys)",
    )
    r.set_defaults(handler=_restore)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.main import _ctx
    from mobileid.service.backup import backup

    ctx = _ctx(settings)
    report = backup(ctx, management(ctx, args, "backup"), args.dir, with_keys=args.with_keys)
    if args.json:
        print(json.dumps({**vars(report), "destination": str(report.destination)}))
        return 0
    print(
        f"backup written to {report.destination}: {report.files} files, "
        f"{report.bytes / 2**20:.1f} MiB; audit log through entry {report.audit_head}, "
        f"{report.witness_heads} witnessed heads"
    )
    if not report.keys_included:
        print(
            f"keys not included: keep DATA_DIR/keys/deployment.key (key id "
            f"{report.deployment_key_id}) and audit-ed25519.pem in separate safe storage; "
            "`mobileid restore --keys` needs them"
        )
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.backup import restore
    from mobileid.service.caller import console_caller

    report = restore(args.backup, settings, console_caller(), keys_dir=args.keys)
    if args.json:
        print(json.dumps({**vars(report), "data_dir": str(report.data_dir)}))
        return 0
    print(
        f"restored {report.files} files into {report.data_dir} from the backup of "
        f"{report.backup_created}; audit log intact ({report.audit_entries} entries, the "
        "restore included)"
    )
    return 0
