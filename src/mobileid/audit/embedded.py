"""The embedded audit log: hash-chained entries and signed checkpoints in SQLite tables.

Appends run inside the caller's transaction (``append``), so an action and its audit entry are
committed or rolled back together; ``record`` is the same in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from mobileid.audit import rows
from mobileid.audit.canonical import (
    check_details,
    check_text,
    checkpoint_message,
    entry_payload,
    format_time,
    hash_payload,
)
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.keys import CheckpointSigner
from mobileid.audit.model import (
    AuditEntry,
    AuditEvent,
    AuditHead,
    Checkpoint,
    EventType,
    MalformedEntry,
    Outcome,
    VerifyReport,
)
from mobileid.audit.tables import HEAD_ID, CheckpointRow, EntryRow, HeadRow, install
from mobileid.audit.verify import verify_log
from mobileid.errors import InvalidArgument

Clock = Callable[[], datetime]
Target = Session | Connection

SYSTEM_OPERATOR = "system"


def system_clock() -> datetime:
    return datetime.now(UTC)


def _connection(target: Target) -> Connection:
    if isinstance(target, Session):
        return target.connection()
    if isinstance(target, Connection):
        return target
    raise InvalidArgument(
        f"target: expected a SQLAlchemy Session or Connection, got {type(target).__name__}",
        field="target",
    )


def _checked(event: AuditEvent) -> AuditEvent:
    try:
        kind, outcome = EventType(event.event), Outcome(event.outcome)
    except ValueError as exc:
        raise InvalidArgument(
            f"event: expected a known event type and outcome, got {exc}", field="event"
        ) from None
    if kind is EventType.CHECKPOINT:
        raise InvalidArgument(
            "event: expected any event but 'checkpoint' (only the log writes those), "
            "got 'checkpoint'",
            field="event",
        )
    return AuditEvent(
        event=kind,
        operator=check_text("operator", event.operator),
        role=check_text("role", event.role, 64),
        component=check_text("component", event.component, 64),
        outcome=outcome,
        details=check_details(event.details),
    )


class EmbeddedAuditLog:
    """An ``AuditSink`` on any SQLAlchemy engine; SQLite by default (see ``open_audit_log``).

    ``signer`` signs a checkpoint every ``checkpoint_every`` entries and on demand; without
    one the log is still chained but only ``checkpoint`` with a key can vouch for it.
    ``trusted_keys`` are extra PEM public keys accepted by ``verify`` (retired keys).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        signer: CheckpointSigner | None = None,
        trusted_keys: Sequence[str] = (),
        clock: Clock = system_clock,
        checkpoint_every: int = 100,
    ) -> None:
        if checkpoint_every < 1:
            raise InvalidArgument(
                f"checkpoint_every: expected a whole number >= 1, got {checkpoint_every}",
                field="checkpoint_every",
            )
        install(engine)
        self.engine = engine
        self.signer = signer
        self.trusted_keys = tuple(trusted_keys)
        self.clock = clock
        self.checkpoint_every = checkpoint_every

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ----------------------------------------------------------------------------
    def append(self, target: Target, event: AuditEvent) -> AuditEntry:
        """Write ``event`` in the caller's transaction; the caller commits or rolls back.

        Raises before writing anything when the event is unusable (biometric details, an
        unknown event type...), so the caller's action must then be rolled back too.
        """
        conn = _connection(target)
        entry, last_checkpoint = self._write(conn, _checked(event))
        due = entry.sequence - last_checkpoint >= self.checkpoint_every
        if self.signer is not None and due:
            self._checkpoint(conn, self.signer, (SYSTEM_OPERATOR, SYSTEM_OPERATOR))
        return entry

    def record(self, event: AuditEvent) -> AuditEntry:
        """``append`` in a transaction of its own, committed before returning."""
        with self.engine.begin() as conn:
            return self.append(conn, event)

    def checkpoint(
        self,
        target: Target | None = None,
        *,
        operator: str = SYSTEM_OPERATOR,
        role: str = SYSTEM_OPERATOR,
    ) -> Checkpoint:
        """Sign the current last entry now and log the checkpoint, as ``operator``'s entry."""
        if self.signer is None:
            raise InvalidArgument(
                "signer: expected a signing key for checkpoints, got none", field="signer"
            )
        who = (check_text("operator", operator), check_text("role", role, 64))
        if target is not None:
            return self._checkpoint(_connection(target), self.signer, who)
        with self.engine.begin() as conn:
            return self._checkpoint(conn, self.signer, who)

    def _lock_head(self, conn: Connection) -> AuditHead:
        # The UPDATE takes the write lock before the head is read: no two writers can both
        # see the same last entry and fork the chain.
        locked = conn.execute(
            text("UPDATE audit_head SET sequence = sequence WHERE id = :id"), {"id": HEAD_ID}
        )
        head = conn.execute(select(HeadRow).where(HeadRow.id == HEAD_ID)).one_or_none()
        if locked.rowcount != 1 or head is None:
            raise AuditIntegrityError(
                "audit_head: expected one bookkeeping row, got none", field="audit_head"
            )
        return rows.head_row(head)

    def _write(self, conn: Connection, event: AuditEvent) -> tuple[AuditEntry, int]:
        head = self._lock_head(conn)
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
        conn.execute(insert(EntryRow), rows.entry_values(entry))
        conn.execute(
            update(HeadRow).where(HeadRow.id == HEAD_ID),
            {"sequence": entry.sequence, "entry_hash": entry.entry_hash, "time": entry.time},
        )
        return entry, head.last_checkpoint

    def _checkpoint(
        self, conn: Connection, signer: CheckpointSigner, who: tuple[str, str]
    ) -> Checkpoint:
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
        self._write(conn, rows.checkpoint_event(cp, *who))
        return cp

    # --- reading ----------------------------------------------------------------------------
    def head(self) -> AuditHead:
        with self.engine.connect() as conn:
            row = conn.execute(select(HeadRow).where(HeadRow.id == HEAD_ID)).one_or_none()
        if row is None:
            raise AuditIntegrityError(
                "audit_head: expected one bookkeeping row, got none", field="audit_head"
            )
        return rows.head_row(row)

    def iter_entries(
        self, conn: Connection, start: int = 1, limit: int | None = None
    ) -> Iterator[AuditEntry | MalformedEntry]:
        q = select(EntryRow).where(EntryRow.sequence >= start).order_by(EntryRow.sequence)
        if limit is not None:
            q = q.limit(limit)
        for row in conn.execute(q):
            yield rows.parse_entry(row)

    def read(
        self, start: int = 1, limit: int | None = None, target: Target | None = None
    ) -> list[AuditEntry]:
        """Entries ``start``.. in order; AuditIntegrityError on a row that cannot be read."""
        if start < 1 or (limit is not None and limit < 0):
            raise InvalidArgument(
                f"range: expected start >= 1 and limit >= 0, got {start} and {limit}",
                field="range",
            )
        if target is not None:
            return _strict(self.iter_entries(_connection(target), start, limit))
        with self.engine.connect() as conn:
            return _strict(self.iter_entries(conn, start, limit))

    def checkpoints(self, target: Target | None = None) -> list[Checkpoint]:
        q = select(CheckpointRow).order_by(CheckpointRow.sequence, CheckpointRow.id)
        if target is not None:
            return [rows.checkpoint_row(r) for r in _connection(target).execute(q)]
        with self.engine.connect() as conn:
            return [rows.checkpoint_row(r) for r in conn.execute(q)]

    def verify(self, public_keys: Sequence[str] | None = None) -> VerifyReport:
        """Check the whole log against ``public_keys`` (default: this log's own and trusted)."""
        keys = list(public_keys) if public_keys is not None else self._own_keys()
        with self.engine.connect() as conn:
            return verify_log(self.iter_entries(conn), self.checkpoints(conn), keys)

    def _own_keys(self) -> list[str]:
        own = [self.signer.public_key_pem()] if self.signer is not None else []
        return own + list(self.trusted_keys)


def _earlier(now: str, last: str) -> bool:
    """Whether ``now`` is before the last entry's time (False when there is none to compare:
    a hand-edited bookkeeping time must not stop the log from recording)."""
    try:
        return datetime.fromisoformat(now) < datetime.fromisoformat(last)
    except ValueError:
        return False


def _strict(items: Iterator[AuditEntry | MalformedEntry]) -> list[AuditEntry]:
    out = []
    for item in items:
        if isinstance(item, MalformedEntry):
            raise AuditIntegrityError(
                f"entry {item.sequence}: expected a readable entry, got {item.reason}",
                field="sequence",
            )
        out.append(item)
    return out


def describe(entry: AuditEntry) -> dict[str, Any]:
    """An entry as a plain JSON object (for ``--json`` output and exports)."""
    return rows.entry_dict(entry)
