"""Use case: the operator records what became of a search's candidates.

A result is a list of leads; the disposition says what a person concluded by other means.
It is written to the audit log against the search it concerns, so oversight can count, for
example, how often a strong candidate was later judged not a match.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class DispositionRecord:
    """A recorded disposition: its audit entry, the one it replaces (None: the first for
    that search) and whether it is the current one (the latest for the search)."""

    entry: AuditEntry
    supersedes: int | None
    current: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"recorded": self.entry.sequence, **dict(self.entry.details), "current": True}


def find_search(ctx: Context, search_id: str) -> AuditEntry:
    """The audit entry of the search ``search_id`` (an indexed lookup); NotFound if none."""
    for entry in ctx.audit.of_search(search_id):
        if entry.event == EventType.SEARCH:
            return entry
    raise NotFound(f"search_id: no search {search_id!r} in the audit log", field="search_id")


def dispositions_of(ctx: Context, search_id: str) -> list[AuditEntry]:
    """Every disposition recorded for a search, oldest first: the last one is current, the
    others stay in the log, each superseded by the next."""
    return [
        e
        for e in ctx.audit.read()
        if e.event == EventType.DISPOSITION and e.details.get("search_id") == search_id
    ]


def _concerns(search: AuditEntry, subject_id: str | None) -> tuple[list[str], str | None]:
    """The galleries a disposition concerns (the subject's, or every gallery the search
    reached), and the strong candidate it was shown beside when the subject was a look-alike
    rather than a candidate. InvalidArgument when ``subject_id`` was neither."""
    refs = search.details.get("candidate_ids")
    if subject_id is None:
        reached = search.details.get("galleries") or {}
        named = {g for part in reached.values() if isinstance(part, dict) for g in part}
        return sorted(named | {g for g in reached if not isinstance(reached[g], dict)}), None
    if not isinstance(refs, list):
        raise InvalidArgument(
            f"search_id: expected a search whose candidates were recorded, got "
            f"{search.details.get('search_id')!r}, logged before candidates were kept",
            field="search_id",
        )
    gallery = _gallery_of(refs, subject_id)
    if gallery is not None:
        return [gallery], None
    # a look-alike shares its candidate's gallery (the check searches only that one)
    alike = search.details.get("lookalike_ids") or []
    of = next((r["of"] for r in alike if r.get("subject_id") == subject_id), None)
    gallery = _gallery_of(refs, of) if of is not None else None
    if gallery is not None:
        return [gallery], of
    shown = f" or the {len(alike)} look-alikes shown beside them" if alike else ""
    raise InvalidArgument(
        f"subject_id: expected one of the {len(refs)} candidates{shown} of search "
        f"{search.details.get('search_id')!r}, got {subject_id!r}",
        field="subject_id",
    )


def _gallery_of(refs: list[dict[str, str]], subject_id: str) -> str | None:
    """The gallery of the first of a search's candidates that is ``subject_id``."""
    return next((r["gallery"] for r in refs if r.get("subject_id") == subject_id), None)


def record_disposition(
    ctx: Context,
    caller: Caller,
    search_id: str,
    disposition: str,
    subject_id: str | None = None,
) -> DispositionRecord:
    """Audit the disposition of a search that happened: only for one of its candidates, or a
    subject shown beside a strong candidate as its look-alike (``lookalike_of`` names that
    candidate), or, without ``subject_id``, the search as a whole; by an operator entitled to
    the gallery it concerns. A later disposition of the same search supersedes the earlier one
    explicitly (``supersedes`` names its entry); both stay in the log, the latest is current."""
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
    galleries, lookalike_of = _concerns(search, subject_id)
    authorize(ctx, caller, Action.RECORD_DISPOSITION, galleries=galleries)
    earlier = dispositions_of(ctx, search_id)
    previous = earlier[-1].sequence if earlier else None
    details = {
        "search_id": search_id,
        "disposition": value.value,
        "subject_id": subject_id,
        "lookalike_of": lookalike_of,
        "galleries": galleries,
        "best_band": search.details.get("best_band"),
        "training": search.details.get("training"),
        "supersedes": previous,
    }
    event = AuditEvent(
        EventType.DISPOSITION, caller.operator, caller.role, "disposition", details=details
    )
    return DispositionRecord(ctx.audit.record(event), previous)
