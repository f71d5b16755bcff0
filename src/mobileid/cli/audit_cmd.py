"""``mobileid audit ...``: verify, checkpoint, export, adopt a witness, read the log.

Reading or exporting the log is itself an audited event (``audit_read``, ``audit_export``).
``verify`` exits 7 when the log is not intact, naming the first bad sequence number; it and
``export`` still work on a broken log (they are how an investigation starts), warning that
their own entry could not be written.

``show``, ``verify`` and ``export`` act as the operator of ``--token`` (an auditor's token:
``read_audit``, ``export_audit`` for an export); the local console may run them only while
the deployment has no operators. ``checkpoint``, ``export-key`` and ``adopt-witness`` stay
with the console: they reveal nothing, and restoring a broken log happens on the server.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobileid.cli.reason import MANAGEMENT_NOTE, token_argument
from mobileid.config import Settings

if TYPE_CHECKING:
    from mobileid.service.caller import Caller

EXIT_TAMPERED = 7  # == AuditIntegrityError.exit_code


def add_audit_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    au = sub.add_parser(
        "audit", help="verify, checkpoint and read the tamper-evident audit log"
    ).add_subparsers(dest="what", required=True, metavar="ACTION")
    v = au.add_parser(
        "verify",
        parents=[common],
        help="check every entry and signed checkpoint; exit 7 naming the first bad entry "
        "(an auditor's token, scope read_audit)",
        description="Verify the audit log." + MANAGEMENT_NOTE,
    )
    v.add_argument(
        "--public-key",
        action="append",
        type=Path,
        metavar="PEM",
        help="trust only this exported public key (repeatable; default: DATA_DIR/keys)",
    )
    v.add_argument(
        "--witness",
        type=Path,
        metavar="FILE",
        help="compare with this copy of the witness (heads.jsonl) instead of the configured one",
    )
    c = au.add_parser("checkpoint", parents=[common], help="sign the log's last entry now")
    e = au.add_parser(
        "export",
        parents=[common],
        help="write entries, checkpoints, witness and public keys for outside verification "
        "(an auditor's token, scope export_audit)",
        description="Export the audit log." + MANAGEMENT_NOTE,
    )
    e.add_argument("out", type=Path, metavar="DIR", help="a new or empty folder")
    a = au.add_parser(
        "adopt-witness",
        parents=[common],
        help="start a new witness from the database's own signed checkpoints (after an "
        "upgrade from a release without one, or a restore from backup); the database must verify",
    )
    a.add_argument("--reason", required=True, help="why (logged with the adoption)")
    k = au.add_parser(
        "export-key", parents=[common], help="print the public key that verifies checkpoints"
    )
    k.add_argument("--out", type=Path, metavar="FILE", help="write the PEM here instead")
    s = au.add_parser(
        "show",
        parents=[common],
        help="print entries (an audited read; an auditor's token, scope read_audit)",
        description="Print audit entries." + MANAGEMENT_NOTE,
    )
    s.add_argument("--from", dest="start", type=int, default=1, metavar="SEQ")
    s.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    for p in (v, e, s):
        token_argument(p)
    v.set_defaults(handler=_verify)
    c.set_defaults(handler=_checkpoint)
    e.set_defaults(handler=_export)
    a.set_defaults(handler=_adopt)
    k.set_defaults(handler=_export_key)
    s.set_defaults(handler=_show)


def _who() -> tuple[str, str]:
    """The person at the terminal, until operator logons reach the command line."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"os:{user}", "local"


def _event(kind: str, outcome: str = "ok", who: Caller | None = None, **details: Any) -> Any:
    from mobileid.audit import AuditEvent, EventType, Outcome

    operator, role = _who() if who is None else (who.operator, who.role)
    return AuditEvent(EventType(kind), operator, role, "cli", Outcome(outcome), details)


def _reader(settings: Settings, log: Any, args: argparse.Namespace, action: Any) -> Caller:
    from mobileid.cli.reason import log_reader

    return log_reader(settings, log, args.token, f"audit {args.what}", action)


def _existing_log(settings: Settings, create_key: bool) -> Any:
    from mobileid.audit import audit_database, open_deployment_audit_log
    from mobileid.errors import NotFound

    path = audit_database(settings.data_dir)
    if not path.exists():
        raise NotFound(f"audit log: expected a database at {path}, got no file", field="data_dir")
    return open_deployment_audit_log(settings, create_key=create_key)


def _record_despite(log: Any, event: Any) -> None:
    """Log ``event``; on a broken log, warn instead: the read must still be possible."""
    from mobileid.errors import MobileIdError

    try:
        log.record(event)
    except MobileIdError as exc:
        print(f"mobileid: warning: this read was not logged: {exc.message}", file=sys.stderr)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit import FileWitness
    from mobileid.auth import Action

    log = _existing_log(settings, create_key=False)
    try:
        who = _reader(settings, log, args, Action.READ_AUDIT)
        keys = [p.read_text(encoding="ascii") for p in args.public_key or ()] or None
        witness = FileWitness(args.witness.parent, args.witness) if args.witness else None
        report = log.verify(keys, witness)
        details = {"action": "verify", "intact": report.ok}
        details["first_bad_sequence"] = report.first_bad_sequence
        _record_despite(log, _event("audit_read", who=who, **details))
    finally:
        log.close()
    if getattr(args, "json", False):
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.ok else EXIT_TAMPERED
    if report.ok:
        print(
            f"audit log intact: {report.entries} entries, {report.checkpoints} checkpoints, "
            f"signed through entry {report.trusted_through}, head {report.head_hash[:16]}"
        )
    else:
        print(f"audit log NOT intact: first bad entry {report.first_bad_sequence}")
        print(f"reason: {report.reason}")
    print(_tail_line(report))
    for note in report.notes:
        print(f"note: {note}")
    return 0 if report.ok else EXIT_TAMPERED


def _tail_line(report: Any) -> str:
    witness = (
        "no witness compared"
        if report.witness_heads is None
        else f"witness: {report.witness_heads} signed heads "
        f"through entry {report.witnessed_through}"
    )
    age = report.tail_age_seconds
    tail = f"unsigned tail: {report.tail_entries} entries"
    if report.tail_entries and age is not None:
        tail += f", the oldest {age:.0f} s old"
    return f"{witness}; {tail}"


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit.export import export_log
    from mobileid.auth import Action

    log = _existing_log(settings, create_key=False)
    try:
        who = _reader(settings, log, args, Action.EXPORT_AUDIT)
        # Logged first, so that the export holds its own entry (when the log takes it).
        _record_despite(log, _event("audit_export", who=who, what="log", to=str(args.out)))
        summary = export_log(log, args.out)
    finally:
        log.close()
    fields = {
        "out": str(summary.folder),
        "entries": summary.entries,
        "checkpoints": summary.checkpoints,
        "witness_lines": summary.witness_lines,
    }
    if getattr(args, "json", False):
        print(json.dumps(fields, indent=2))
    else:
        print(
            f"exported {summary.entries} entries, {summary.checkpoints} checkpoints and "
            f"{summary.witness_lines} witness lines to {summary.folder} "
            "(verify with docs/verify_audit_export.py)"
        )
    return 0


def _adopt(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit.export import adopt_witness

    log = _existing_log(settings, create_key=True)
    try:
        operator, role = _who()
        report = adopt_witness(log, reason=args.reason, operator=operator, role=role)
    finally:
        log.close()
    if getattr(args, "json", False):
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(
            f"witness adopted: {report.witness_heads} signed heads through entry "
            f"{report.witnessed_through}; audit log intact: {report.ok}"
        )
    return 0 if report.ok else EXIT_TAMPERED


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit import open_deployment_audit_log

    log = open_deployment_audit_log(settings)
    try:
        operator, role = _who()
        cp = log.checkpoint(operator=operator, role=role)
    finally:
        log.close()
    fields = {
        "sequence": cp.sequence,
        "entry_hash": cp.entry_hash,
        "time": cp.time,
        "key_id": cp.key_id,
        "signature": cp.signature,
    }
    if getattr(args, "json", False):
        print(json.dumps({"checkpoint": fields}, indent=2))
    else:
        print("\n".join(f"{k}: {v}" for k, v in fields.items()))
    return 0


def _export_key(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit import open_deployment_audit_log

    log = open_deployment_audit_log(settings)
    try:
        assert log.signer is not None  # create_key=True makes one
        pem, kid = log.signer.public_key_pem(), log.signer.key_id
        target = str(args.out) if args.out else "stdout"
        # Logged first and in its own transaction: no export happens without its entry.
        log.record(_event("audit_export", what="public_key", key_id=kid, to=target))
    finally:
        log.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(pem, encoding="ascii")
    if getattr(args, "json", False):
        print(json.dumps({"key_id": kid, "public_key": pem, "out": target}, indent=2))
    elif not args.out:
        print(pem, end="")
    else:
        print(f"public key {kid} written to {args.out}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.audit import describe
    from mobileid.auth import Action

    log = _existing_log(settings, create_key=False)
    try:
        who = _reader(settings, log, args, Action.READ_AUDIT)
        # The read and its audit entry commit together, or neither does.
        with log.engine.begin() as conn:
            entries = log.read(args.start, args.limit, target=conn)
            details = {"action": "show", "from": args.start, "limit": args.limit}
            details["returned"] = len(entries)
            log.append(conn, _event("audit_read", who=who, **details))
    finally:
        log.close()
    if getattr(args, "json", False):
        print(json.dumps({"entries": [describe(e) for e in entries]}, indent=2))
        return 0
    for e in entries:
        flag = " CLOCK-REGRESSED" if e.clock_regressed else ""
        print(
            f"{e.sequence:>8} {e.time} {e.operator} ({e.role}) {e.event} {e.outcome} "
            f"[{e.component}]{flag} {json.dumps(dict(e.details), sort_keys=True)}"
        )
    return 0
