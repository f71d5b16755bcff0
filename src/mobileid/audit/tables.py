"""The audit log's own SQLite tables. They can live in their own file or beside other tables.

``audit_entries`` and ``audit_checkpoints`` are the record; ``audit_head`` is bookkeeping with
one row: every append first updates it, which takes SQLite's write lock (or a row lock on a
server database) before the last sequence number is read, so two writers never fork the chain.
Verification never trusts ``audit_head``; it recomputes everything from the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, create_engine, event, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mobileid.audit.model import GENESIS_HASH


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
    """An engine on its own SQLite file (WAL, waits up to 10 s for the write lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an audit entry that was committed stays
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    install(engine)
    return engine


def install(engine: Engine) -> None:
    """Create the audit tables and the head row where they are missing (idempotent)."""
    AuditBase.metadata.create_all(engine)
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
