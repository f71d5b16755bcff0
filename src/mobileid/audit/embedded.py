"""The embedded audit log: hash-chained entries and signed checkpoints in SQLite tables.

Appends run inside the caller's transaction (``append``), so an action and its audit entry are
committed or rolled back together; ``record`` is the same in a transaction of its own.

Each append first checks the log since its last witnessed signed head (``audit.guard``) and
refuses (AuditIntegrityError, exit 7) when it is broken. Then, when the schedule says so (every
``checkpoint_every`` entries, default every entry, or when the oldest unsigned entry is
``checkpoint_minutes`` old), it signs the new head inside the same transaction: a rolled-back
action leaves no signed head. Signed heads are copied to the witness (``audit.witness``) only
once committed: by the next append, by ``record`` and ``close``, and at process exit.
Reading the log (entries, checkpoints, ``verify``) is the other half, in ``audit.reading``.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from mobileid.audit import rows
from mobileid.audit.canonical import (
    check_event,
    check_text,
    checkpoint_message,
    entry_payload,
    format_time,
    hash_payload,
)
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.guard import broken, check_head, check_schedule
from mobileid.audit.keys import CheckpointSigner
from mobileid.audit.model import AuditEntry, AuditEvent, AuditHead, Checkpoint, EventType
from mobileid.audit.reading import LogReading, Target, connection_of
from mobileid.audit.remote import RemotePublisher
from mobileid.audit.tables import HEAD_ID, EntryRow, HeadRow, install
from mobileid.audit.witness import FileWitness
from mobileid.database import UnitOfWork, Where, attach, close_database
from mobileid.errors import BackendUnavailable, InvalidArgument

__all__ = ["Clock", "EmbeddedAuditLog", "Target", "describe", "system_clock"]

Clock = Callable[[], datetime]

SYSTEM_OPERATOR = "system"


def system_clock() -> datetime:
    return datetime.now(UTC)


class EmbeddedAuditLog(LogReading):
    """An ``AuditSink`` on any SQLAlchemy engine; SQLite by default (see ``open_audit_log``).

    ``signer`` signs the head every ``checkpoint_every`` entries (and when the oldest unsigned
    entry is ``checkpoint_minutes`` old); without one the log is still chained but nothing
    vouches for it. ``witness`` keeps the signed heads outside the database (``None``: the
    database's own checkpoints are the only anchor, which a database writer can delete).
    ``trusted_keys`` are extra PEM public keys accepted by ``verify`` (retired keys).
    ``full_verify_minutes``: re-verify the whole log against the witness before an action when
    the last full verification is older than this (0: before every action; None: never).
    """

    def __init__(
        self,
        engine: Where,
        *,
        signer: CheckpointSigner | None = None,
        trusted_keys: Sequence[str] = (),
        clock: Clock = system_clock,
        checkpoint_every: int = 1,
        checkpoint_minutes: float = 5.0,
        witness: FileWitness | None = None,
        remote: RemotePublisher | None = None,
        full_verify_minutes: float | None = None,
    ) -> None:
        if checkpoint_every < 1 or not checkpoint_minutes > 0:
            raise InvalidArgument(
                "checkpoint_every, checkpoint_minutes: expected a whole number >= 1 and a "
                f"positive number of minutes, got {checkpoint_every} and {checkpoint_minutes}",
                field="checkpoint_every",
            )
        self.engine, self._owns_engine = attach(engine)
        install(self.engine)
        self.signer = signer
        self.trusted_keys = tuple(trusted_keys)
        self.clock = clock
        self.checkpoint_every = checkpoint_every
        self.checkpoint_minutes = checkpoint_minutes
        self.witness = witness
        self.remote = remote
        self.full_verify_minutes = full_verify_minutes
        _open_logs.add(self)

    def close(self) -> None:
        _open_logs.discard(self)
        # A broken log was reported by the action that found it; closing still releases it.
        with contextlib.suppress(AuditIntegrityError):
            self.sync_witness()
        if self._owns_engine:
            close_database(self.engine)

    # --- writing ----------------------------------------------------------------------------
    def append(self, target: Target, event: AuditEvent) -> AuditEntry:
        """Write ``event`` in the caller's transaction (its unit of work, session or
        connection); the caller commits or rolls back.

        Raises before writing anything when the event is unusable (biometric details, an
        unknown event type...) or the log is not intact since its last signed head, so the
        caller's action must then be rolled back too.

        In a unit of work, signed heads are copied to the witness once the unit has committed,
        not before the write on a second connection: while the unit holds the write lock, the
        requests waiting on that lock can hold every connection of the pool, and the unit
        would wait for one as long as they wait for the lock (a burst of logons did).
        """
        checked = check_event(event)
        if isinstance(target, UnitOfWork):
            target.after_commit(self.sync_witness)
        else:
            self.sync_witness()
        conn = connection_of(target)
        head = self._guarded_head(conn)
        entry = self._write(conn, head, checked)
        if self.signer is not None and self._due(conn, entry, head.last_checkpoint):
            self._seal(conn, self.signer)
        return entry

    def record(self, event: AuditEvent) -> AuditEntry:
        """``append`` in a transaction of its own, committed (and witnessed) before returning."""
        with self.engine.begin() as conn:
            entry = self.append(conn, event)
        self.sync_witness()
        return entry

    def checkpoint(
        self,
        target: Target | None = None,
        *,
        operator: str = SYSTEM_OPERATOR,
        role: str = SYSTEM_OPERATOR,
    ) -> Checkpoint:
        """Sign the head now; the request is logged as ``operator``'s ``checkpoint`` entry,
        which the signed head covers."""
        if self.signer is None:
            raise InvalidArgument(
                "signer: expected a signing key for checkpoints, got none", field="signer"
            )
        who = (check_text("operator", operator), check_text("role", role, 64))
        if target is not None:
            return self._requested(connection_of(target), self.signer, who)
        self.sync_witness()
        with self.engine.begin() as conn:
            cp = self._requested(conn, self.signer, who)
        self.sync_witness()
        return cp

    def _requested(
        self, conn: Connection, signer: CheckpointSigner, who: tuple[str, str]
    ) -> Checkpoint:
        head = self._guarded_head(conn)
        event = AuditEvent(EventType.CHECKPOINT, *who, rows.COMPONENT, details={"requested": True})
        self._write(conn, head, event)
        return self._seal(conn, signer)

    def _lock_head(self, conn: Connection) -> AuditHead:
        # The UPDATE takes the write lock before the head is read: no two writers can both
        # see the same last entry and fork the chain.
        locked = conn.execute(
            text("UPDATE audit_head SET sequence = sequence WHERE id = :id"), {"id": HEAD_ID}
        )
        head = conn.execute(select(HeadRow).where(HeadRow.id == HEAD_ID)).one_or_none()
        if locked.rowcount != 1 or head is None:
            raise broken("the log's bookkeeping row (audit_head) is missing")
        return rows.head_row(head)

    def _guarded_head(self, conn: Connection) -> AuditHead:
        """The locked head, after checking the log since the last signed head it can trust
        (and, when the last full verification is older than ``full_verify_minutes``, the whole
        log against the witness)."""
        head = self._lock_head(conn)
        anchor = self._anchor(conn, head)
        hashes = check_head(conn, anchor, head)
        if self.signer is not None:
            every = anchor.every or self.checkpoint_every  # the promise in force, not today's
            check_schedule(self._signed_through(conn, anchor, hashes), head, every)
        if self.witness is not None and self.full_verify_minutes is not None:
            self._full_check(conn)
        return head

    def _write(self, conn: Connection, head: AuditHead, event: AuditEvent) -> AuditEntry:
        now = format_time(self.clock())
        # Never lose or reorder an entry: a clock that went backwards is recorded as it read.
        regressed = _earlier(now, head.time)
        payload = entry_payload(
            sequence=head.sequence + 1,
            time=now,
            operator=event.operator,
            role=event.role,
            event=str(event.event),
            component=event.component,
            outcome=str(event.outcome),
            details=event.details,
            clock_regressed=regressed,
            prev_hash=head.entry_hash,
        )
        entry = rows.entry_from_payload(payload, hash_payload(payload))
        try:
            conn.execute(insert(EntryRow), rows.entry_values(entry))
        except DBAPIError as exc:  # a full disk, a refusing trigger: the caller's unit rolls back
            raise BackendUnavailable(
                f"audit log: expected the database to take entry {entry.sequence}, got "
                f"{str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc}",
                field="audit",
            ) from exc
        conn.execute(
            update(HeadRow).where(HeadRow.id == HEAD_ID),
            {"sequence": entry.sequence, "entry_hash": entry.entry_hash, "time": entry.time},
        )
        return entry

    def _due(self, conn: Connection, entry: AuditEntry, last_signed: int) -> bool:
        if entry.sequence - last_signed >= self.checkpoint_every:
            return True
        first = conn.scalar(select(EntryRow.time).where(EntryRow.sequence == last_signed + 1))
        try:
            age = datetime.fromisoformat(entry.time) - datetime.fromisoformat(str(first))
        except ValueError:
            return True
        return age >= timedelta(minutes=self.checkpoint_minutes)

    def _seal(self, conn: Connection, signer: CheckpointSigner) -> Checkpoint:
        """Sign the head (just checked by the guard and extended by this process)."""
        head = self._lock_head(conn)
        if head.sequence == 0:
            raise InvalidArgument("audit log: expected at least one entry to sign, got none")
        now = format_time(self.clock())
        message = checkpoint_message(head.sequence, head.entry_hash, now, signer.key_id)
        cp = Checkpoint(head.sequence, head.entry_hash, now, signer.key_id, signer.sign(message))
        conn.execute(rows.insert_checkpoint(cp))
        conn.execute(
            update(HeadRow).where(HeadRow.id == HEAD_ID).values(last_checkpoint=cp.sequence)
        )
        return cp


# Signed heads committed by a process are copied to the witness before it exits.
_open_logs: weakref.WeakSet[EmbeddedAuditLog] = weakref.WeakSet()


@atexit.register
def _sync_at_exit() -> None:
    for log in list(_open_logs):
        with contextlib.suppress(Exception):  # exiting anyway: the next action copies them
            log.sync_witness()


def _earlier(now: str, last: str) -> bool:
    """Whether ``now`` is before the last entry's time (False when there is none to compare:
    a hand-edited bookkeeping time must not stop the log from recording)."""
    try:
        return datetime.fromisoformat(now) < datetime.fromisoformat(last)
    except ValueError:
        return False


def describe(entry: AuditEntry) -> dict[str, Any]:
    """An entry as a plain JSON object (for ``--json`` output and exports)."""
    return rows.entry_dict(entry)
