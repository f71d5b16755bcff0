"""Figures about everything around the searches: access refused, lockouts, retention purges,
enrolments, and the window's events by type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mobileid.audit import AuditEntry, EventType, Outcome
from mobileid.oversight.tally import count, counter, label, live_training


def of(entries: Sequence[AuditEntry], kind: EventType) -> list[AuditEntry]:
    return [e for e in entries if e.event == kind]


def access_figures(window: Sequence[AuditEntry]) -> dict[str, Any]:
    """Refusals by the access rules, lockouts and failed logons; ``denied_by_event`` counts
    every entry whose outcome was ``denied``, whatever component logged it."""
    denied = of(window, EventType.ACCESS_DENIED)
    lockouts = of(window, EventType.LOCKOUT)
    failed = of(window, EventType.LOGON_FAILED)
    return {
        "denied": len(denied),
        "denied_by_reason": counter(label(e.details, "reason") for e in denied),
        "denied_by_operator": counter(e.operator for e in denied),
        "denied_by_event": counter(e.event for e in window if e.outcome == Outcome.DENIED),
        "lockouts": len(lockouts),
        "lockouts_by_operator": counter(e.operator for e in lockouts),
        "logon_failures": len(failed),
        "logon_failures_by_reason": counter(label(e.details, "reason") for e in failed),
    }


def _target(details: Mapping[str, Any]) -> tuple[str, str]:
    for kind in ("gallery", "source"):
        if kind in details:
            return kind, label(details, kind)
    return "(not recorded)", label(details, "gallery")


def retention_figures(window: Sequence[AuditEntry]) -> dict[str, Any]:
    """Purge receipts grouped by what was purged and under which rule."""
    purges = of(window, EventType.PURGE)
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in purges:
        kind, name = _target(e.details)
        key = (kind, name, label(e.details, "rule"))
        row = groups.setdefault(
            key, {"kind": kind, "name": name, "rule": key[2], "purges": 0, "deleted": 0}
        )
        row["purges"] += 1
        row["deleted"] += count(e.details.get("deleted"))
    return {
        "purges": len(purges),
        "deleted": sum(count(e.details.get("deleted")) for e in purges),
        "failed": sum(1 for e in purges if e.outcome != Outcome.OK),
        "unfinished": unfinished_purges(window),
        "by_target": [groups[k] for k in sorted(groups)],
    }


def unfinished_purges(window: Sequence[AuditEntry]) -> int:
    """Purges of a record source whose intent is in the window but whose receipt is not: the
    log or the process failed between deleting and recording (some records may be gone)."""
    receipts = {e.details.get("purge_id") for e in of(window, EventType.PURGE)}
    return sum(
        1 for e in of(window, EventType.PURGE_STARTED) if e.details.get("purge_id") not in receipts
    )


def training_figures(window: Sequence[AuditEntry]) -> dict[str, dict[str, int]]:
    return {
        name: live_training(e.details for e in of(window, kind))
        for name, kind in (
            ("searches", EventType.SEARCH),
            ("super_queries", EventType.SUPER_QUERY),
            ("enrolments", EventType.ENROL),
            ("deletions", EventType.DELETE),
        )
    }


def event_figures(window: Sequence[AuditEntry]) -> dict[str, Any]:
    return {
        "total": len(window),
        "by_event": counter(e.event for e in window),
        "by_outcome": counter(e.outcome for e in window),
        "by_operator": counter(e.operator for e in window),
    }
