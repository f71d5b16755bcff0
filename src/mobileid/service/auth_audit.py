"""Operator events (logons, lockouts, denials, changes) written to the audit log."""

from __future__ import annotations

from typing import Any

from mobileid.audit import AuditEvent, EmbeddedAuditLog, EventType, Outcome
from mobileid.database import UnitOfWork

_EVENTS = {
    "logon": EventType.LOGON,
    "logon_failed": EventType.LOGON_FAILED,
    "lockout": EventType.LOCKOUT,
    "logout": EventType.LOGOFF,
    "access_denied": EventType.ACCESS_DENIED,
    "operator_change": EventType.OPERATOR_CHANGE,
    "permission_change": EventType.PERMISSION_CHANGE,
    "token_issued": EventType.TOKEN_ISSUED,
    "token_revoked": EventType.TOKEN_REVOKED,
    "session_expired": EventType.SESSION_EXPIRED,
    "clock_backwards": EventType.CLOCK_BACKWARDS,
}
_OUTCOMES = {"success": Outcome.OK, "failure": Outcome.FAILED, "denied": Outcome.DENIED}


class AuditedAuthEvents:
    """An ``AuthEvents`` sink: each event becomes one audit entry, appended through the unit of
    work of the change it describes when both live in the same database (the deployment's
    main database), so the change and its entry commit together. If the entry cannot be
    written, the error propagates and the unit rolls the change back (with everything else
    its opener wrote in it)."""

    def __init__(self, log: EmbeddedAuditLog):
        self.log = log

    def record(
        self,
        event_type: str,
        operator: str | None,
        role: str | None,
        outcome: str,
        details: dict[str, Any],
        *,
        uow: UnitOfWork | None = None,
    ) -> None:
        event = _EVENTS.get(event_type)
        if event is None:
            raise ValueError(f"event_type: expected one of {sorted(_EVENTS)}, got {event_type!r}")
        entry = AuditEvent(
            event,
            operator or "(unknown)",
            role or "(none)",
            "auth",
            _OUTCOMES.get(outcome, Outcome.FAILED),
            details,
        )
        if uow is not None and uow.engine.url == self.log.engine.url:
            self.log.append(uow, entry)
        else:  # an event outside any unit (a refusal decided before anything was read)
            self.log.record(entry)
