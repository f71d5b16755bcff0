"""Frozen typed values of the audit log: what a caller records and what the log holds."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS_HASH = "0" * 64
"""The previous-entry hash of entry 1."""


class EventType(enum.StrEnum):
    """The fixed vocabulary of audited events. New kinds are added here, never ad hoc."""

    LOGON = "logon"
    LOGON_FAILED = "logon_failed"
    LOGOFF = "logoff"
    LOCKOUT = "lockout"
    SESSION_EXPIRED = "session_expired"
    CLOCK_BACKWARDS = "clock_backwards"  # the host clock was set back; times stay monotonic
    ACCESS_DENIED = "access_denied"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    SEARCH = "search"
    SUPER_QUERY = "super_query"
    RECORD_VIEW = "record_view"
    ENROL = "enrol"
    DELETE = "delete"
    DISPOSITION = "disposition"
    CERTIFICATION = "certification"  # an operator certified (or refused, or exempted)
    OPERATOR_CHANGE = "operator_change"
    PERMISSION_CHANGE = "permission_change"
    SOURCE_CHANGE = "source_change"
    GALLERY_CHANGE = "gallery_change"
    PURPOSE_CHANGE = "purpose_change"
    THRESHOLD_CHANGE = "threshold_change"
    RETENTION_CHANGE = "retention_change"
    KEY_ROTATION = "key_rotation"
    AUDIT_READ = "audit_read"
    AUDIT_EXPORT = "audit_export"
    AUDIT_WITNESS = "audit_witness"  # a witness adopted (upgrade, or recovery from backup)
    PURGE = "purge"
    # A purge about to delete in another database than the log's: the intent, written first
    # (see service/retention.py); its ``purge`` receipt follows, or its absence shows.
    PURGE_STARTED = "purge_started"
    BACKUP = "backup"  # a copy of the data folder taken (`mobileid backup`)
    RESTORE = "restore"  # a data folder brought back from a backup
    CHECKPOINT = "checkpoint"


class Outcome(enum.StrEnum):
    OK = "ok"
    DENIED = "denied"  # not allowed for this operator or role
    FAILED = "failed"  # allowed, attempted, did not work
    REFUSED = "refused"  # the request itself was unusable (missing purpose, bad capture...)


@dataclass(frozen=True)
class AuditEvent:
    """What a caller asks to record. The log adds sequence number, time and hashes."""

    event: EventType
    operator: str
    role: str
    component: str
    outcome: Outcome = Outcome.OK
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry. ``entry_hash`` covers every other field, ``prev_hash`` included."""

    sequence: int
    time: str  # UTC, ISO-8601 with microseconds
    operator: str
    role: str
    event: str  # an EventType value; kept as stored so a tampered value can still be checked
    component: str
    outcome: str  # an Outcome value
    details: Mapping[str, Any]
    clock_regressed: bool  # the clock read earlier than the previous entry's time
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class MalformedEntry:
    """A stored row that cannot even be read as an entry (hand-edited into nonsense)."""

    sequence: int
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: "entry ``sequence`` had hash ``entry_hash`` at ``time``"."""

    sequence: int
    entry_hash: str
    time: str
    key_id: str  # first 16 hex digits of SHA-256 over the raw Ed25519 public key
    signature: str  # hex


@dataclass(frozen=True)
class AuditHead:
    """The last entry written, as the log's own bookkeeping records it."""

    sequence: int
    entry_hash: str
    time: str
    last_checkpoint: int  # sequence of the last checkpointed entry, 0 when none


@dataclass(frozen=True)
class VerifyReport:
    """The result of checking a log. ``ok`` is False exactly when ``first_bad_sequence`` is set.

    ``trusted_through`` is the highest sequence number covered by a valid checkpoint that
    matches the log: everything up to it is vouched for by a signature, not only by hashes.
    """

    ok: bool
    entries: int
    checkpoints: int
    first_bad_sequence: int | None = None
    reason: str = ""
    head_sequence: int = 0
    head_hash: str = GENESIS_HASH
    trusted_through: int = 0
    witness_heads: int | None = None  # lines in the witness; None when none was compared
    witnessed_through: int = 0  # the last entry a witnessed signed head covers
    tail_entries: int = 0  # entries after the last signed head: a database writer could
    tail_age_seconds: float | None = 0.0  # rewrite these undetected; how old the first is
    notes: tuple[str, ...] = ()  # what is worth knowing but not wrong

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "first_bad_sequence": self.first_bad_sequence,
            "reason": self.reason,
            "head_sequence": self.head_sequence,
            "head_hash": self.head_hash,
            "trusted_through": self.trusted_through,
            "witness_heads": self.witness_heads,
            "witnessed_through": self.witnessed_through,
            "tail_entries": self.tail_entries,
            "tail_age_seconds": self.tail_age_seconds,
            "notes": list(self.notes),
        }
