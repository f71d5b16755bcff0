"""Tables of practice searches and certifications, in the main database.

Rows are only ever added: a new certification supersedes the last one, and an operator's
practice record is every practice search they ran. Counting happens in SQL, so a long record
costs one query.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Text,
    cast,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from mobileid.auth.store import UtcDateTime
from mobileid.database import Where, attach, close_database
from mobileid.training.values import Certification, PracticeScore, TrainingFigures


class TrainingBase(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}  # noqa: RUF012


class PracticeRow(TrainingBase):
    __tablename__ = "training_practice"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    search_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()
    modality: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(64))
    quality_passed: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[str] = mapped_column(Text)  # JSON list
    mate_rank: Mapped[int | None] = mapped_column(Integer)
    mate_first: Mapped[bool] = mapped_column(Boolean)


class CertificationRow(TrainingBase):
    __tablename__ = "training_certifications"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    certified_by: Mapped[str] = mapped_column(String(128))
    certified_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    exempt_reason: Mapped[str | None] = mapped_column(Text)
    figures: Mapped[str] = mapped_column(Text)  # JSON of TrainingFigures at certification


class TrainingStore:
    """Practice searches and certifications of every operator."""

    def __init__(self, database: Where) -> None:
        self._engine, self._owns_engine = attach(database)

    @classmethod
    def open(cls, database: Where) -> TrainingStore:
        """The store in the main database at ``database`` (a URL, a SQLite path, an engine)."""
        return cls(database)

    def close(self) -> None:
        if self._owns_engine:
            close_database(self._engine)

    def add_practice(self, username: str, score: PracticeScore, at: datetime) -> None:
        row = PracticeRow(
            username=username,
            search_id=score.search_id,
            at=at,
            modality=score.modality,
            target=score.target,
            quality_passed=score.quality_passed,
            problems=json.dumps(list(score.problems)),
            mate_rank=score.mate_rank,
            mate_first=score.mate_first,
        )
        with Session(self._engine) as s, s.begin():
            s.add(row)

    def figures(self, username: str) -> TrainingFigures:
        """Every practice search of ``username``, counted, whatever its modality."""
        return sum(self.figures_by_modality(username).values(), TrainingFigures(0, 0, 0))

    def figures_by_modality(self, username: str) -> dict[str, TrainingFigures]:
        """The practice searches of ``username`` counted per modality (face, finger,
        face+finger)."""
        p = PracticeRow
        query = (
            select(
                p.modality,
                func.count(p.id),
                # cast: a sum of Boolean columns would come back converted to a bool
                func.coalesce(func.sum(cast(p.quality_passed, Integer)), 0),
                func.coalesce(func.sum(cast(p.mate_first, Integer)), 0),
            )
            .where(p.username == username)
            .group_by(p.modality)
            .order_by(p.modality)
        )
        with Session(self._engine) as s:
            rows = s.execute(query).all()
        return {m: TrainingFigures(int(n), int(ok), int(first)) for m, n, ok, first in rows}

    def add_certification(self, cert: Certification) -> None:
        row = CertificationRow(
            username=cert.username,
            certified_by=cert.certified_by,
            certified_at=cert.certified_at,
            expires_at=cert.expires_at,
            exempt_reason=cert.exempt_reason,
            figures=json.dumps(cert.figures.as_dict()),
        )
        with Session(self._engine) as s, s.begin():
            s.add(row)

    def latest_certification(self, username: str) -> Certification | None:
        """The most recent certification of ``username`` (it supersedes the earlier ones)."""
        c = CertificationRow
        query = select(c).where(c.username == username).order_by(c.certified_at.desc(), c.id.desc())
        with Session(self._engine) as s:
            row = s.scalars(query.limit(1)).first()
        if row is None:
            return None
        f = json.loads(row.figures)
        return Certification(
            username=row.username,
            certified_by=row.certified_by,
            certified_at=row.certified_at.astimezone(UTC),
            expires_at=row.expires_at.astimezone(UTC),
            exempt_reason=row.exempt_reason,
            figures=TrainingFigures(f["practice_searches"], f["quality_passed"], f["mate_first"]),
        )
