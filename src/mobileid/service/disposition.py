"""Use case: the operator records what became of a search's candidates.

A result is a list of leads; the disposition says what a person concluded by other means.
It is written to the audit log against the search it concerns, so oversight can count, for
example, how often a strong candidate was later judged not a match.
"""

from __future__ import annotations

import enum

from mobileid.audit import AuditEntry, AuditEvent, EventType
from mobileid.auth import Action
from mobileid.errors import InvalidArgument, NotFound
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context


class Disposition(enum.StrEnum):
    CONFIRMED = "confirmed"  # identity confirmed by other means
    NOT_A_MATCH = "not_a_match"
    INCONCLUSIVE = "inconclusive"
    NO_ACTION = "no_action"


def find_search(ctx: Context, search_id: str) -> AuditEntry:
    """The audit entry of the search ``search_id`` (an indexed lookup); NotFound if none."""
    for entry in ctx.audit.of_search(search_id):
        if entry.event == EventType.SEARCH:
            return entry
    raise NotFound(f"search_id: no search {search_id!r} in the audit log", field="search_id")


def record_disposition(
    ctx: Context,
    caller: Caller,
    search_id: str,
    disposition: str,
    subject_id: str | None = None,
) -> AuditEntry:
    """Audit the disposition of a search that happened; refuse unknown values or searches."""
    authorize(ctx, caller, Action.RECORD_DISPOSITION)
    try:
        value = Disposition(disposition)
    except ValueError:
        raise InvalidArgument(
            f"disposition: expected one of {[d.value for d in Disposition]}, got {disposition!r}",
            field="disposition",
        ) from None
    search = find_search(ctx, search_id)
    if search.outcome != "ok":
        raise InvalidArgument(
            f"search_id: expected a search that returned candidates, got one that was "
            f"{search.outcome}",
            field="search_id",
        )
    details = {
        "search_id": search_id,
        "disposition": value.value,
        "subject_id": subject_id,
        "best_band": search.details.get("best_band"),
        "training": search.details.get("training"),
    }
    event = AuditEvent(
        EventType.DISPOSITION, caller.operator, caller.role, "disposition", details=details
    )
    return ctx.audit.record(event)
