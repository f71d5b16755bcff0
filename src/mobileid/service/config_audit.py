"""Configuration that shapes answers is audited when it changes.

The purposes file (purposes and the legal authorities they map to) and the band bounds are
plain configuration. Before every search, their current content is compared with what was
last recorded; a difference is written to the audit log (``purpose_change``,
``threshold_change``) with the new content, so nobody can quietly change them between two
searches. The last recorded digests live beside the log (table ``config_state``, created by
the main database's migrations), in the same transaction as the entry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Connection

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
    written = 0
    with log.engine.begin() as conn:
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
            _store(conn, name, digest)
            written += 1
    return written


def _store(conn: Connection, name: str, digest: str) -> None:
    """Insert or update, portably. The append before it holds the audit head's lock, so no
    other process can insert the same name between the two statements."""
    done = conn.execute(update(_STATE).where(_STATE.c.name == name).values(digest=digest))
    if done.rowcount == 0:
        conn.execute(insert(_STATE).values(name=name, digest=digest))
