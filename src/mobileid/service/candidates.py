"""What a reviewer sees beside each candidate: its reference photo and the records linked to
the subject that the caller may see.

Records come from the record sources the caller is entitled to and that the search's purpose
may reach (training purposes reach synthetic sources only, live purposes real ones), looked up
by subject id. Showing them is one ``record_view`` audit entry per search, with counts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mobileid.audit import AuditEvent, EventType
from mobileid.auth import Action
from mobileid.records.query import make_query
from mobileid.records.registry import SourceRegistry
from mobileid.records.serial import record_to_dict
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.purpose import SearchReason
from mobileid.service.review import may, photo_url
from mobileid.service.super_query import super_query

RECORDS_PER_SOURCE = 5
RECORDS_TIMEOUT_S = 2.0


def candidate_records(
    ctx: Context,
    caller: Caller,
    reason: SearchReason,
    search_id: str,
    subject_ids: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """{subject id: its linked records} over the sources the caller may see (empty lists for
    a caller whose role or token may not view records)."""
    out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in subject_ids}
    principal = caller.principal
    if not subject_ids or not may(principal, Action.VIEW_RECORD):
        return out
    registry = SourceRegistry(ctx.settings.data_dir / "records", timeout_s=RECORDS_TIMEOUT_S)
    if not registry.path.exists():
        return out
    allowed = [
        e.name
        for e in registry.entries()
        if e.synthetic != reason.live and (principal is None or e.name in principal.sources)
    ]
    if not allowed:
        return out
    opened = {n: s for n, s in registry.open_all().items() if n in allowed}
    try:
        for sid in dict.fromkeys(subject_ids):
            found = super_query(
                make_query(subject_id=sid),
                opened,
                allowed,
                timeout_s=RECORDS_TIMEOUT_S,
                limit=RECORDS_PER_SOURCE,
            )
            out[sid] = [_record(h) for h in found.hits if h.hop == 0]
    finally:
        for source in opened.values():
            source.close()
    details = {
        "search_id": search_id,
        "view": "candidate_records",
        "subjects": len(out),
        "records": sum(len(v) for v in out.values()),
        "sources": sorted(allowed),
        "training": not reason.live,
    }
    ctx.audit.record(
        AuditEvent(EventType.RECORD_VIEW, caller.operator, caller.role, "review", details=details)
    )
    return out


def _record(hit: Any) -> dict[str, Any]:
    return {
        "source": hit.source,
        "record_type": hit.record.record_type.value,
        "record_id": hit.record.record_id,
        "synthetic": hit.record.synthetic,
        "record": record_to_dict(hit.record),
    }


def with_review(answer: dict[str, Any], records: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The search answer with each candidate's ``photo_url`` and ``records`` added."""
    candidates = [
        {**c, "photo_url": photo_url(c["subject_id"]), "records": records.get(c["subject_id"], [])}
        for c in answer["candidates"]
    ]
    return {**answer, "candidates": candidates}
