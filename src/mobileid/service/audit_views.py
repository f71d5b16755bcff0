"""Use cases of oversight: reading and verifying the audit log, and the oversight report.

Each read is itself an audit entry (``audit_read``), written in the transaction that reads, so
no read happens without its entry. Reading the log needs ``read_audit`` (auditor); the report
needs ``run_report`` (auditor or supervisor). The local console may do both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mobileid.audit import AuditEntry, AuditEvent, EventType, VerifyReport
from mobileid.audit.errors import AuditIntegrityError
from mobileid.auth import Action
from mobileid.errors import InvalidArgument
from mobileid.oversight import OversightReport, build_report, check_window, entry_day, load_accuracy
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context

MAX_PAGE = 500


@dataclass(frozen=True)
class EntryFilter:
    """Which entries to return: ``start`` (a sequence number) on, at most ``limit``, of one
    event kind and/or one operator when given."""

    start: int = 1
    limit: int = 100
    event: str | None = None
    operator: str | None = None


def _read_event(caller: Caller, **details: Any) -> AuditEvent:
    return AuditEvent(EventType.AUDIT_READ, caller.operator, caller.role, "api", details=details)


def audit_entries(ctx: Context, caller: Caller, wanted: EntryFilter) -> list[AuditEntry]:
    """A page of entries, oldest first, filtered; the read is logged with what it returned."""
    authorize(ctx, caller, Action.READ_AUDIT)
    if not 1 <= wanted.limit <= MAX_PAGE or wanted.start < 1:
        raise InvalidArgument(
            f"limit: expected 1..{MAX_PAGE} entries from start >= 1, got limit {wanted.limit} "
            f"from {wanted.start}",
            field="limit",
        )
    if wanted.event is not None and wanted.event not in {e.value for e in EventType}:
        raise InvalidArgument(
            f"event: expected one of {sorted(e.value for e in EventType)}, got {wanted.event!r}",
            field="event",
        )
    log = ctx.audit
    out: list[AuditEntry] = []
    with log.engine.begin() as conn:
        for e in log.read(wanted.start, target=conn):
            if (wanted.event is None or e.event == wanted.event) and (
                wanted.operator is None or e.operator == wanted.operator
            ):
                out.append(e)
                if len(out) == wanted.limit:
                    break
        details = {"action": "entries", "from": wanted.start, "limit": wanted.limit}
        log.append(conn, _read_event(caller, **details, returned=len(out)))
    return out


def verify_audit(ctx: Context, caller: Caller) -> VerifyReport:
    """Verify the whole chain, its signed heads and the witness. The verification is logged;
    on a broken log it cannot be, and the report is still returned (an auditor needs it)."""
    authorize(ctx, caller, Action.READ_AUDIT)
    log = ctx.audit
    report = log.verify()
    details = {"action": "verify", "intact": report.ok}
    try:
        log.record(_read_event(caller, **details, first_bad_sequence=report.first_bad_sequence))
    except AuditIntegrityError:
        if report.ok:  # the log broke between the verification and the entry: say so
            raise
    return report


def oversight_report(
    ctx: Context, caller: Caller, date_from: date, date_to: date
) -> OversightReport:
    """The oversight report of ``date_from``..``date_to`` (UTC days, inclusive), from the log
    alone, read in the transaction that logs the read."""
    authorize(ctx, caller, Action.RUN_REPORT)
    check_window(date_from, date_to, ("from", "to"))
    log = ctx.audit
    details = {"report": "oversight", "from": date_from.isoformat(), "to": date_to.isoformat()}
    with log.engine.begin() as conn:
        # Appending first takes the log's write lock: what is read next is one snapshot. On a
        # broken log the read cannot be logged; the report is made and says BROKEN.
        try:
            with conn.begin_nested():
                log.append(conn, _read_event(caller, **details))
        except AuditIntegrityError:
            pass
        chain = log.verify_on(conn, log.own_keys(), log.witness)
        entries = [
            e
            for e in log.iter_entries(conn)
            if isinstance(e, AuditEntry) and ((d := entry_day(e)) is None or d >= date_from)
        ]
    return build_report(
        entries,
        date_from=date_from,
        date_to=date_to,
        chain=chain,
        accuracy=load_accuracy(ctx.settings.data_dir / "eval"),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
