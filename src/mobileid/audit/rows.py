"""Conversions between table rows and the audit log's typed values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert, Row, insert

from mobileid.audit.canonical import canonical_json
from mobileid.audit.model import (
    AuditEntry,
    AuditEvent,
    AuditHead,
    Checkpoint,
    EventType,
    MalformedEntry,
    Outcome,
)
from mobileid.audit.tables import CheckpointRow

COMPONENT = "audit"
SEARCH_ID_LEN = 32


def head_row(row: Row[Any]) -> AuditHead:
    return AuditHead(
        sequence=int(row.sequence),
        entry_hash=str(row.entry_hash),
        time=str(row.time),
        last_checkpoint=int(row.last_checkpoint),
    )


def entry_from_payload(payload: dict[str, Any], entry_hash: str) -> AuditEntry:
    return AuditEntry(
        sequence=payload["sequence"],
        time=payload["time"],
        operator=payload["operator"],
        role=payload["role"],
        event=payload["event"],
        component=payload["component"],
        outcome=payload["outcome"],
        details=payload["details"],
        clock_regressed=payload["clock_regressed"],
        prev_hash=payload["prev_hash"],
        entry_hash=entry_hash,
    )


def entry_values(entry: AuditEntry) -> dict[str, Any]:
    """Column values of an entry's row; details are stored as their canonical JSON, and the
    search the entry concerns (if any) in its indexed column."""
    values = entry_dict(entry)
    values["details"] = canonical_json(entry.details).decode("utf-8")
    values["search_id"] = search_ref(entry.details)
    return values


def search_ref(details: Mapping[str, Any]) -> str | None:
    """The search id an entry's details name, when it fits the indexed column."""
    value = details.get("search_id")
    return value if isinstance(value, str) and len(value) <= SEARCH_ID_LEN else None


def insert_checkpoint(cp: Checkpoint) -> Insert:
    return insert(CheckpointRow).values(
        sequence=cp.sequence,
        entry_hash=cp.entry_hash,
        time=cp.time,
        key_id=cp.key_id,
        signature=cp.signature,
    )


def checkpoint_event(cp: Checkpoint, operator: str, role: str) -> AuditEvent:
    """The entry that logs a checkpoint; it carries the whole signed statement."""
    return AuditEvent(
        event=EventType.CHECKPOINT,
        operator=operator,
        role=role,
        component=COMPONENT,
        outcome=Outcome.OK,
        details={
            "checkpoint_sequence": cp.sequence,
            "entry_hash": cp.entry_hash,
            "signed_time": cp.time,
            "key_id": cp.key_id,
            "signature": cp.signature,
        },
    )


def checkpoint_in(entry: AuditEntry) -> Checkpoint | None:
    """The checkpoint a ``checkpoint`` entry records, or None when it holds none readable."""
    d = entry.details
    try:
        return Checkpoint(
            sequence=int(d["checkpoint_sequence"]),
            entry_hash=str(d["entry_hash"]),
            time=str(d["signed_time"]),
            key_id=str(d["key_id"]),
            signature=str(d["signature"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def checkpoint_row(row: Row[Any]) -> Checkpoint:
    return Checkpoint(
        sequence=int(row.sequence),
        entry_hash=str(row.entry_hash),
        time=str(row.time),
        key_id=str(row.key_id),
        signature=str(row.signature),
    )


def parse_entry(row: Row[Any]) -> AuditEntry | MalformedEntry:
    """A stored row as an entry; a row edited into something unreadable becomes Malformed."""
    seq = row.sequence
    try:
        details = json.loads(row.details)
        if not isinstance(details, dict):
            return MalformedEntry(seq, f"details are {type(details).__name__}, not an object")
        return AuditEntry(
            sequence=int(seq),
            time=str(row.time),
            operator=str(row.operator),
            role=str(row.role),
            event=str(row.event),
            component=str(row.component),
            outcome=str(row.outcome),
            details=details,
            clock_regressed=bool(row.clock_regressed),
            prev_hash=str(row.prev_hash),
            entry_hash=str(row.entry_hash),
        )
    except (TypeError, ValueError) as exc:
        return MalformedEntry(int(seq), f"unreadable row ({exc})")


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "sequence": entry.sequence,
        "time": entry.time,
        "operator": entry.operator,
        "role": entry.role,
        "event": entry.event,
        "component": entry.component,
        "outcome": entry.outcome,
        "details": dict(entry.details),
        "clock_regressed": entry.clock_regressed,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }
