"""Reading the embedded audit log: the head, entries, checkpoints and full verification.

The reading half of ``EmbeddedAuditLog`` (``audit.embedded`` adds writing and signing); it
implements the ``verify_on`` that the witness side (``audit.witnessing``) calls before an action.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mobileid.audit import rows
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.model import AuditEntry, AuditHead, Checkpoint, MalformedEntry, VerifyReport
from mobileid.audit.tables import HEAD_ID, CheckpointRow, EntryRow, HeadRow
from mobileid.audit.verify import Bookkeeping, verify_log
from mobileid.audit.witness import FileWitness, MalformedWitnessLine, WitnessHead
from mobileid.audit.witnessing import Witnessing
from mobileid.database import UnitOfWork
from mobileid.errors import InvalidArgument

Target = UnitOfWork | Session | Connection


def connection_of(target: Target) -> Connection:
    """The connection that ``target`` (a unit of work, a session or a connection) writes on."""
    if isinstance(target, UnitOfWork):
        return target.session.connection()
    if isinstance(target, Session):
        return target.connection()
    if isinstance(target, Connection):
        return target
    raise InvalidArgument(
        "target: expected a unit of work or a SQLAlchemy Session or Connection, got "
        f"{type(target).__name__}",
        field="target",
    )


class LogReading(Witnessing):
    """The reading side of the log, over ``self.engine``."""

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
            return _strict(self.iter_entries(connection_of(target), start, limit))
        with self.engine.connect() as conn:
            return _strict(self.iter_entries(conn, start, limit))

    def of_search(self, search_id: str) -> list[AuditEntry]:
        """The entries about ``search_id`` (the search, its dispositions...), oldest first,
        found by the index; an entry whose own details name another search is left out."""
        q = select(EntryRow).where(EntryRow.search_id == search_id).order_by(EntryRow.sequence)
        with self.engine.connect() as conn:
            found = _strict(rows.parse_entry(row) for row in conn.execute(q))
        return [e for e in found if e.details.get("search_id") == search_id]

    def checkpoints(self, target: Target | None = None) -> list[Checkpoint]:
        q = select(CheckpointRow).order_by(CheckpointRow.sequence, CheckpointRow.id)
        if target is not None:
            return [rows.checkpoint_row(r) for r in connection_of(target).execute(q)]
        with self.engine.connect() as conn:
            return [rows.checkpoint_row(r) for r in conn.execute(q)]

    def verify(
        self, public_keys: Sequence[str] | None = None, witness: FileWitness | None = None
    ) -> VerifyReport:
        """Check the whole log against ``public_keys`` (default: this log's own and trusted)
        and against ``witness`` (default: this log's own; a copy kept elsewhere is better)."""
        keys = list(public_keys) if public_keys is not None else self.own_keys()
        witness = witness or self.witness
        reading = witness.lock(shared=True) if witness is not None else contextlib.nullcontext()
        with reading, self.engine.connect() as conn:
            return self.verify_on(conn, keys, witness)

    def verify_on(
        self, conn: Connection, keys: Sequence[str], witness: FileWitness | None
    ) -> VerifyReport:
        """``verify`` on ``conn`` (inside a transaction that also reads the entries)."""
        head = conn.execute(select(HeadRow).where(HeadRow.id == HEAD_ID)).one_or_none()
        lines: Iterator[WitnessHead | MalformedWitnessLine] | None = None
        if witness is not None:
            lines = witness.heads() if witness.exists() else _missing_witness(witness, conn)
        return verify_log(
            self.iter_entries(conn),
            self.checkpoints(conn),
            keys,
            witness=lines,
            bookkeeping=Bookkeeping(rows.head_row(head) if head is not None else None),
            every=self.checkpoint_every if self.signer is not None else None,
            now=self.clock(),
        )


def _missing_witness(witness: FileWitness, conn: Connection) -> Iterator[MalformedWitnessLine]:
    """A witness that is gone reads as one bad line, unless the log is empty too."""
    if conn.scalar(select(func.count()).select_from(EntryRow)):
        yield MalformedWitnessLine(1, f"the witness {witness.path} is missing")


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
