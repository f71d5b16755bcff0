"""Configuration that shapes answers is audited when it changes.

The purposes file (purposes and the legal authorities they map to) and the band bounds are
plain configuration. Before every search, their current content is compared with what was
last recorded; a difference is written to the audit log (``purpose_change``,
``threshold_change``) with the new content, so nobody can quietly change them between two
searches. The last recorded digests live beside the log, in the same transaction as the entry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.sqlite import insert

from mobileid.audit import AuditEvent, EventType
from mobileid.service.caller import Caller
from mobileid.service.context import Context

_META = MetaData()
_STATE = Table(
    "config_state",
    _META,
    Column("name", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),
)


def _current(ctx: Context) -> dict[str, tuple[EventType, dict[str, Any]]]:
    purposes = [
        {"code": r.code, "legal_authority": r.legal_authority, "live": r.live}
        for r in ctx.purposes.rules
    ]
    bands = ctx.settings.bands
    return {
        "purposes": (EventType.PURPOSE_CHANGE, {"purposes": purposes}),
        "bands": (
            EventType.THRESHOLD_CHANGE,
            {"strong_fmr": bands.strong_fmr, "possible_fmr": bands.possible_fmr},
        ),
    }


def audit_config_changes(ctx: Context, caller: Caller) -> int:
    """Record each changed setting; returns how many entries were written."""
    log = ctx.audit
    engine = log.engine
    _META.create_all(engine)
    written = 0
    with engine.begin() as conn:
        known = dict(conn.execute(select(_STATE.c.name, _STATE.c.digest)).all())
        for name, (event, content) in _current(ctx).items():
            digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
            if known.get(name) == digest:
                continue
            details = {**content, "previous_digest": known.get(name), "digest": digest}
            log.append(
                conn,
                AuditEvent(event, caller.operator, caller.role, "config", details=details),
            )
            stmt = insert(_STATE).values(name=name, digest=digest)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["name"], set_={"digest": digest})
            )
            written += 1
    return written
