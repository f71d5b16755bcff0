"""Loading a finger gallery for search: the rows' sealed screen codes, and codes for rows
that lack one.

Kept apart from :mod:`.fingers` (enrolment and search) as what reads the table for the first
stage. A load reads and opens only ids, subjects, positions and codes (~1 KB a row: AES-GCM
per row, ~7 µs, most of a load's time), never the templates. Rows without a code (enrolled
before migration m0004) or with one made under other screen parameters get theirs computed from
their template (~0.5 ms a row), written back ``_BACKFILL`` rows per transaction with progress,
before the load reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import Engine, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from mobileid.errors import MobileIdError
from mobileid.finger.types import FingerTemplate
from mobileid.gallery.finger_rows import (
    FingerTemplateRow,
    code_context,
    pack_code,
    row_context,
    unpack_codes,
    unpack_template,
)
from mobileid.gallery.finger_screen import Chunk, ScreenSet, code_layout, codes_of
from mobileid.gallery.sealing import DeploymentKeyError, SecretBox

__all__ = ["Progress", "ScreenLoader", "Sealed", "reseal"]

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) while codes are computed for rows that lack one."""

Sealed = Any  # a result row of a query that names the columns a method reads

_READ_CHUNK = 4_096  # rows of codes read and opened at a time while loading (~4 MB)
_BACKFILL = 1_000  # rows given a code per transaction (~1 s)
_IN_LIMIT = 500  # values per SQL IN list (SQLite allows 32,766 parameters a statement)
_T = TypeVar("_T")


class ScreenLoader:
    """The loaded :class:`ScreenSet` of each (gallery, pipeline) of one database, kept
    until the table changes; ``box`` opens the rows (replaced on key rotation)."""

    def __init__(self, engine: Engine, box: SecretBox, progress: Progress | None) -> None:
        self.engine, self.box, self.progress = engine, box, progress
        self._loaded: dict[tuple[str, str], ScreenSet] = {}

    def reset(self, box: SecretBox) -> None:
        """Forget every loaded set; open rows with ``box`` from now on."""
        self.box, self._loaded = box, {}

    def rows(self, gallery: str, pipeline_id: str, ids: Sequence[int]) -> list[Sealed]:
        """The sealed templates of the rows ``ids`` that are still in the table."""
        t = FingerTemplateRow
        q = select(t.id, t.subject_id, t.position, t.image_sha256, t.template, t.key_id)
        found: list[Sealed] = []
        with Session(self.engine) as s:
            for part in _parts(list(ids)):
                where = (t.gallery == gallery, t.pipeline_id == pipeline_id, t.id.in_(part))
                found += s.execute(q.where(*where)).all()
        return found

    # --- loading --------------------------------------------------------------------------
    def _stamp(self, gallery: str, pipeline_id: str) -> tuple[int, int]:
        q = select(func.count(), func.coalesce(func.max(FingerTemplateRow.id), 0)).where(
            FingerTemplateRow.gallery == gallery, FingerTemplateRow.pipeline_id == pipeline_id
        )
        with Session(self.engine) as s:
            n, last = s.execute(q).one()
        return int(n), int(last)

    def load(self, gallery: str, pipeline_id: str) -> ScreenSet:
        """The gallery's templates of ``pipeline_id``, read anew only where the table changed."""
        cached = self._loaded.get((gallery, pipeline_id))
        if cached is not None and cached.stamp == self._stamp(gallery, pipeline_id):
            return cached
        after = cached.stamp[1] if cached is not None else 0
        for _ in range(2):  # a second pass only after stale codes were computed again
            self._backfill(gallery, pipeline_id, after)
            loaded, stale = self._reload(gallery, pipeline_id, cached)
            if not stale:
                self._loaded[(gallery, pipeline_id)] = loaded
                return loaded
            self._forget_codes(stale)
        raise MobileIdError(
            f"screen_code: expected the codes just computed for gallery {gallery!r} to read "
            f"back current, got {len(stale)} rows still stale",
            field="screen_code",
        )

    def _reload(
        self, gallery: str, pipeline_id: str, cached: ScreenSet | None
    ) -> tuple[ScreenSet, list[int]]:
        """The loaded set brought up to the table, and the ids of rows whose stored code was
        made under other parameters (their code is zero in the set)."""
        t = FingerTemplateRow
        with Session(self.engine) as s:
            now = self._stamp(gallery, pipeline_id)
            if cached is None:
                return self._read(s, gallery, pipeline_id, 0, now, 0)
            # Rows only come (above the highest id seen) or go.
            q = select(t.id).where(t.gallery == gallery, t.pipeline_id == pipeline_id)
            ids = np.fromiter(s.scalars(q), dtype=np.int64)
            kept = cached.select(np.isin(cached.ids, ids))
            fresh, stale = self._read(s, gallery, pipeline_id, cached.stamp[1], now, kept.size)
        return ScreenSet.join(pipeline_id, [kept, fresh]), stale

    def _read(
        self,
        s: Session,
        gallery: str,
        pipeline_id: str,
        after: int,
        upto: tuple[int, int],
        kept: int,
    ) -> tuple[ScreenSet, list[int]]:
        """Rows above id ``after`` up to the stamp ``upto`` (rows, highest id) of which ``kept``
        are loaded already, their codes opened ``_READ_CHUNK`` at a time; and the ids of rows
        whose code is missing or stale."""
        t = FingerTemplateRow
        q = (
            select(t.id, t.subject_id, t.position, t.image_sha256, t.screen_code, t.key_id)
            .where(t.gallery == gallery, t.pipeline_id == pipeline_id)
            .where(t.id > after, t.id <= upto[1])
            .order_by(t.id)
            .execution_options(yield_per=_READ_CHUNK)
        )
        stale: list[int] = []

        def chunks() -> Iterator[Chunk]:
            tag, shape = code_layout()
            for rows in s.execute(q).partitions():
                plain = [self._open_code(r, gallery, pipeline_id) for r in rows]
                codes, good = unpack_codes(plain, tag, shape)
                ids = [r.id for r in rows]
                stale.extend(i for i, ok in zip(ids, good.tolist(), strict=True) if not ok)
                yield ids, [r.subject_id for r in rows], [r.position for r in rows], codes

        loaded = ScreenSet.read(pipeline_id, chunks(), expected=max(upto[0] - kept, 0))
        return loaded, stale

    def _backfill(self, gallery: str, pipeline_id: str, after: int) -> int:
        """Give every row above id ``after`` that has no code one, from its template,
        ``_BACKFILL`` rows per transaction, reporting progress. Returns the rows given one."""
        t = FingerTemplateRow
        where = (
            t.gallery == gallery,
            t.pipeline_id == pipeline_id,
            t.screen_code.is_(None),
        )
        with Session(self.engine) as s:
            total = int(s.scalar(select(func.count()).where(*where, t.id > after)) or 0)
        done, last = 0, after
        tag, _ = code_layout()
        table = cast(Table, FingerTemplateRow.__table__)
        write = (
            update(table)
            .where(table.c.id == bindparam("row"))
            .values(screen_code=bindparam("code"))
        )
        while done < total:
            with Session(self.engine) as s, s.begin():
                q = select(t.id, t.subject_id, t.position, t.image_sha256, t.template, t.key_id)
                rows = s.execute(q.where(*where, t.id > last).order_by(t.id).limit(_BACKFILL)).all()
                if not rows:
                    break
                codes = codes_of([self.open(r, gallery, pipeline_id) for r in rows])
                values = [
                    {
                        "row": r.id,
                        "code": self._seal_code(r, gallery, pipeline_id, pack_code(c, tag)),
                    }
                    for r, c in zip(rows, codes, strict=True)
                ]
                s.connection().execute(write, values)
            done, last = done + len(rows), rows[-1].id
            if self.progress:
                self.progress(min(done, total), total)
        return done

    def _forget_codes(self, ids: list[int]) -> None:
        """Clear the stored codes of rows ``ids`` so that the next backfill computes them."""
        t = FingerTemplateRow
        with Session(self.engine) as s, s.begin():
            for part in _parts(ids):
                s.execute(update(t).where(t.id.in_(part)).values(screen_code=None))

    def _check_key(self, row: Sealed) -> None:
        if row.key_id != self.box.key_id:
            raise DeploymentKeyError(
                f"finger templates: expected rows sealed with the deployment key in use "
                f"({self.box.key_id}), got a row sealed with key {row.key_id}",
                field="key",
            )

    def open(self, row: Sealed, gallery: str, pipeline_id: str) -> FingerTemplate:
        """The template of a row (its gallery and pipeline are known)."""
        self._check_key(row)
        context = row_context(gallery, row.subject_id, row.position, row.image_sha256, pipeline_id)
        return unpack_template(self.box.open(row.template, context, row.key_id), pipeline_id)

    def _open_code(self, row: Sealed, gallery: str, pipeline_id: str) -> bytes | None:
        """The opened code payload of a row, or None where it has none yet."""
        self._check_key(row)
        if row.screen_code is None:
            return None
        context = code_context(gallery, row.subject_id, row.position, row.image_sha256, pipeline_id)
        return self.box.open(row.screen_code, context, row.key_id)

    def _seal_code(self, row: Sealed, gallery: str, pipeline_id: str, payload: bytes) -> bytes:
        context = code_context(gallery, row.subject_id, row.position, row.image_sha256, pipeline_id)
        return self.box.seal(payload, context)


def reseal(row: FingerTemplateRow, old: SecretBox, new: SecretBox) -> None:
    """Row's template and code (where it has one) opened with ``old``, sealed with ``new``."""
    context = _context(row)
    row.template = new.seal(old.open(row.template, context, row.key_id), context)
    if row.screen_code is not None:
        where = (row.gallery, row.subject_id, row.position, row.image_sha256, row.pipeline_id)
        code = code_context(*where)
        row.screen_code = new.seal(old.open(row.screen_code, code, row.key_id), code)
    row.key_id = new.key_id


def _context(row: FingerTemplateRow) -> str:
    return row_context(row.gallery, row.subject_id, row.position, row.image_sha256, row.pipeline_id)


def _parts(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for i in range(0, len(values), _IN_LIMIT):
        yield values[i : i + _IN_LIMIT]
