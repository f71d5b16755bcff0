"""The audit log's tables, in the main database (created and changed by its migrations).

``audit_entries`` and ``audit_checkpoints`` are the record; ``audit_head`` is bookkeeping with
one row: every append first updates it, which takes SQLite's write lock (or a row lock on a
server database) before the last sequence number is read, so two writers never fork the chain.
Verification never trusts ``audit_head``; it recomputes everything from the record.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Boolean, Integer, String, Text, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mobileid.audit.model import GENESIS_HASH
from mobileid.database import open_database


class AuditBase(DeclarativeBase):
    pass


class EntryRow(AuditBase):
    __tablename__ = "audit_entries"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(256), index=True)
    role: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64), index=True)
    component: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    clock_regressed: Mapped[bool] = mapped_column(Boolean)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    # Bookkeeping outside the hash chain: the search an entry concerns, indexed so that a
    # disposition finds its search without reading the log (readers check ``details`` too).
    search_id: Mapped[str | None] = mapped_column(String(32), index=True)


class CheckpointRow(AuditBase):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sequence: Mapped[int] = mapped_column(Integer, index=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))


class HeadRow(AuditBase):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    last_checkpoint: Mapped[int] = mapped_column(Integer)


HEAD_ID = 1


def open_audit_engine(path: Path) -> Engine:
    """The engine of the main database in the SQLite file at ``path`` (created and upgraded
    as needed); release it with ``mobileid.database.close_database``."""
    return open_database(path)


def install(engine: Engine) -> None:
    """Give a new log its head row (idempotent; the tables come from the migrations)."""
    try:
        with engine.begin() as conn:
            _ensure_head(conn)
    except IntegrityError:
        pass  # another process installed the head row at the same moment


def _ensure_head(conn: Connection) -> None:
    """A new log gets its head row; one that has entries but lost the row keeps that visible
    (``verify`` reports it) instead of being handed a head that says it is empty."""
    if conn.scalar(select(HeadRow.id).where(HeadRow.id == HEAD_ID)) is not None:
        return
    if conn.scalar(select(EntryRow.sequence).limit(1)) is None:
        conn.execute(
            insert(HeadRow).values(
                id=HEAD_ID, sequence=0, entry_hash=GENESIS_HASH, time="", last_checkpoint=0
            )
        )
