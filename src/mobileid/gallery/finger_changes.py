"""The change log of finger templates: one sequence number per template row added, removed or
changed, per gallery.

Written by triggers in the database (migration m0005), in the transaction that changes the
row, whatever the path (enrolment, deletion by the foreign key's cascade, retention, key
rotation, a code computed again). A loaded set remembers the newest number it applied: it is
current while the gallery's newest number is the same (one index lookup before each search),
and catching up means reading the rows touched since that still exist (dropping the others).
Rows are touched, not replayed, so applying a change twice ends in the same state. Old entries
are pruned by :func:`.change_logs.prune`; a set behind what was pruned is read again whole.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, bindparam, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobileid.gallery.store import Base

__all__ = ["FingerChangeRow", "latest", "touched"]


class FingerChangeRow(Base):
    __tablename__ = "finger_template_changes"
    # AUTOINCREMENT: a sequence number is never handed out twice, even after the newest
    # rows were deleted (SQLite would otherwise reuse the largest rowid).
    __table_args__ = (
        Index("ix_finger_changes_gallery_seq", "gallery", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gallery: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[int] = mapped_column(Integer)


_T = FingerChangeRow
_LATEST = select(func.max(_T.seq)).where(_T.gallery == bindparam("gallery"))  # before searches


def latest(s: Session, gallery: str) -> int:
    """The gallery's newest sequence number (0 when nothing was logged)."""
    return int(s.execute(_LATEST, {"gallery": gallery}).scalar() or 0)


def touched(s: Session, gallery: str, after: int, upto: int) -> list[int]:
    """Template ids added, removed or changed with after < seq <= upto, each once, ascending."""
    q = (
        select(_T.template_id)
        .where(_T.gallery == gallery, _T.seq > after, _T.seq <= upto)
        .distinct()
        .order_by(_T.template_id)
    )
    return [int(i) for i in s.scalars(q)]
