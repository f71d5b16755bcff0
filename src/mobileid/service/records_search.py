"""Use case: the super query with its stated reason, its kind of data, and its audit entry.

Training purposes reach only synthetic sources, live purposes only real ones: the others are
reported as not entitled and never queried. Every super query leaves one audit entry with the
per-source outcome (answered / not entitled / timed out / failed) and hit counts, never the
records themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import fields

from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth import Action
from mobileid.records import RecordQuery, RecordSource, SourceEntry
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.identify import search_details
from mobileid.service.purpose import SearchReason
from mobileid.service.super_query import SuperQueryResult, super_query


def audited_super_query(
    ctx: Context,
    caller: Caller,
    reason: SearchReason,
    query: RecordQuery,
    sources: Mapping[str, RecordSource],
    registry: Mapping[str, SourceEntry],
    entitled: Collection[str],
    *,
    timeout_s: float = 2.0,
    limit: int = 50,
) -> tuple[str, SuperQueryResult]:
    """Run the fan-out over the entitled sources of the purpose's kind; audit it. For an
    operator, its role and token scope must allow the search and only its sources are
    reached. Live records are records: a live query also needs ``view_record`` (a token
    scoped ``search_live`` alone may search galleries, not read records); the training range's
    synthetic records are part of the practice (``search_training``)."""
    authorize(ctx, caller, Action.SEARCH_LIVE if reason.live else Action.SEARCH_TRAINING)
    if reason.live:
        authorize(ctx, caller, Action.VIEW_RECORD)
    kind_ok = {n for n, e in registry.items() if e.synthetic != reason.live}
    if caller.principal is not None:
        kind_ok &= set(caller.principal.sources)
    allowed = [n for n in entitled if n in kind_ok]
    result = super_query(query, sources, allowed, timeout_s=timeout_s, limit=limit)
    search_id = "R" + uuid.uuid4().hex[:15]
    details = {
        **search_details(search_id, reason, caller, "records"),
        "keys": sorted(f.name for f in fields(query) if getattr(query, f.name)),
        "sources": {o.source: o.state.value for o in result.sources},
        "hits": {o.source: o.hits for o in result.sources},
        "complete": result.complete,
    }
    ctx.audit.record(
        AuditEvent(
            EventType.SUPER_QUERY, caller.operator, caller.role, "query", Outcome.OK, details
        )
    )
    return search_id, result
