"""Certification figures: were the window's live searches made by certified operators (they
should all be), who was refused for a missing or lapsed certification, and who lapsed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from mobileid.audit import AuditEntry, EventType, Outcome
from mobileid.oversight.tally import counter, entry_day, is_training, label

CURRENT = ("certified", "exempt")


def _expiry(entry: AuditEntry) -> datetime | None:
    try:
        return datetime.fromisoformat(str(entry.details["expires_at"])).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return None


def lapsed_operators(entries: Sequence[AuditEntry], date_to: date) -> list[str]:
    """Operators whose latest certification logged by the window's end had expired by then
    (a later certification renews it; one logged after the window is not counted)."""
    end = datetime.combine(date_to, time.max, tzinfo=UTC)
    latest: dict[str, datetime | None] = {}
    for e in entries:
        day = entry_day(e)
        if e.event != EventType.CERTIFICATION or e.outcome != Outcome.OK:
            continue
        if day is not None and day <= date_to:
            latest[label(e.details, "username")] = _expiry(e)
    return sorted(u for u, expires in latest.items() if expires is not None and expires <= end)


def certification_figures(
    window: Sequence[AuditEntry], entries: Sequence[AuditEntry], date_to: date
) -> dict[str, Any]:
    searches = [e for e in window if e.event == EventType.SEARCH and e.outcome == Outcome.OK]
    live = [e for e in searches if not is_training(e.details)]
    refused = [
        e
        for e in window
        if e.event == EventType.ACCESS_DENIED and e.details.get("reason") == "not certified"
    ]
    certs = [e for e in window if e.event == EventType.CERTIFICATION]
    return {
        "live_searches": len(live),
        "live_by_certified_operators": sum(
            1 for e in live if e.details.get("certification") in CURRENT
        ),
        "live_by_certification": counter(label(e.details, "certification") for e in live),
        "refused_not_certified": len(refused),
        "refused_by_operator": counter(e.operator for e in refused),
        "lapsed": lapsed_operators(entries, date_to),
        "certified": sum(
            1 for e in certs if e.outcome == Outcome.OK and not e.details.get("exempt")
        ),
        "exempted": [
            {
                "operator": label(e.details, "username"),
                "by": e.operator,
                "reason": label(e.details, "exempt_reason"),
            }
            for e in certs
            if e.outcome == Outcome.OK and e.details.get("exempt")
        ],
        "certifications_refused": sum(1 for e in certs if e.outcome == Outcome.REFUSED),
    }
