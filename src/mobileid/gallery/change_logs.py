"""Pruning the change logs, and knowing when an index is too far behind to catch up.

Both logs (face embeddings: ``changes``, per gallery and pipeline; finger templates:
``finger_changes``, per gallery) gain a row per change. :func:`prune` deletes the entries of
each log but its newest ``keep`` sequence numbers, except each partition's newest entry, so
that the newest number of every partition (what an index compares its own with before each
search) stays as it was. It records the highest number pruned, the log's horizon, in
``change_log_horizons``.

An index or snapshot that applied a number below the horizon, and is behind its partition's
newest, may have missed pruned entries: it is rebuilt from the rows in SQL instead of caught
up (``sync.VectorSync.catch_up``, ``finger_load.ScreenLoader.load``). One at or above the
horizon catches up as before, since every entry after it is kept. Pruning is therefore safe
at any moment; what it costs is a rebuild of whatever lagged further than ``keep`` changes.

On PostgreSQL the prune takes the lock every writer of the log takes, so no entry commits
below the numbers it reads meanwhile; SQLite serialises writers already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Integer, String, delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobileid.errors import InvalidArgument
from mobileid.gallery.changes import ChangeRow
from mobileid.gallery.finger_changes import FingerChangeRow
from mobileid.gallery.store import Base

__all__ = ["FACES", "FINGERS", "KEEP", "HorizonRow", "Pruned", "horizon", "prune"]

FACES, FINGERS = "face_embedding_changes", "finger_template_changes"
# Sequence numbers kept by default: a million entries are ~50 MB of log, and an index behind
# by more is about as quick to rebuild as to catch up (a finger set reads the table again
# beyond a quarter of its rows anyway).
KEEP = 1_000_000

_LOGS: dict[str, tuple[Any, tuple[str, ...]]] = {
    FACES: (ChangeRow, ("gallery", "pipeline_id")),
    FINGERS: (FingerChangeRow, ("gallery",)),
}


class HorizonRow(Base):
    __tablename__ = "change_log_horizons"

    log: Mapped[str] = mapped_column(String(64), primary_key=True)
    pruned_upto: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Pruned:
    """One log's prune: entries deleted, its horizon now, and its newest number."""

    log: str
    deleted: int
    horizon: int
    newest: int


def horizon(s: Session | Connection, log: str) -> int:
    """The highest sequence number pruned from ``log`` (0: never pruned)."""
    q = select(HorizonRow.pruned_upto).where(HorizonRow.log == log)
    return int(s.execute(q).scalar() or 0)


def prune(engine: Engine, keep: int = KEEP) -> list[Pruned]:
    """Delete each log's entries but the newest ``keep`` sequence numbers (and each
    partition's newest entry), one transaction per log; returns what each prune did."""
    if keep < 0:
        raise InvalidArgument(f"keep: expected >= 0, got {keep}", field="keep")
    return [_prune(engine, log, keep) for log in _LOGS]


def _prune(engine: Engine, log: str, keep: int) -> Pruned:
    table, partition = _LOGS[log]
    with Session(engine) as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            s.connection().exec_driver_sql(f"LOCK TABLE {log} IN SHARE ROW EXCLUSIVE MODE")
        newest = int(s.scalar(select(func.max(table.seq))) or 0)
        cut, old = newest - keep, horizon(s, log)
        if cut <= old:
            return Pruned(log, 0, old, newest)
        last = select(func.max(table.seq)).group_by(*(getattr(table, c) for c in partition))
        gone = s.connection().execute(delete(table).where(table.seq <= cut, table.seq.not_in(last)))
        row = s.get(HorizonRow, log)
        if row is None:
            s.add(HorizonRow(log=log, pruned_upto=cut))
        else:
            row.pruned_upto = cut
        return Pruned(log, int(gone.rowcount or 0), cut, newest)
