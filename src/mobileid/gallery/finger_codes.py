"""Opening a finger row's sealed template and screen code, and giving codes to rows that lack
a current one.

Rows enrolled before migration m0004 have no code, and a code made under other screen
parameters is stale: each gets one computed from its template (~0.5 ms a row), written back
``_BACKFILL`` rows per transaction with progress, before a load reads the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from mobileid.finger.types import FingerTemplate
from mobileid.gallery.finger_rows import (
    FingerTemplateRow,
    code_context,
    pack_code,
    row_context,
    unpack_template,
)
from mobileid.gallery.finger_screen import code_layout, codes_of
from mobileid.gallery.sealing import DeploymentKeyError, SecretBox

__all__ = ["Progress", "RowBox", "Sealed", "backfill", "forget_codes", "parts", "reseal"]

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) while codes are computed for rows that lack one."""

Sealed = Any  # a result row of a query that names the columns a method reads

_BACKFILL = 1_000  # rows given a code per transaction (~1 s)
_IN_LIMIT = 500  # values per SQL IN list (SQLite allows 32,766 parameters a statement)
_T = TypeVar("_T")


class RowBox:
    """Opens and seals the payloads of finger rows of one gallery and pipeline."""

    def __init__(self, box: SecretBox, gallery: str, pipeline_id: str) -> None:
        self.box, self.gallery, self.pipeline_id = box, gallery, pipeline_id

    def _check_key(self, row: Sealed) -> None:
        if row.key_id != self.box.key_id:
            raise DeploymentKeyError(
                f"finger templates: expected rows sealed with the deployment key in use "
                f"({self.box.key_id}), got a row sealed with key {row.key_id}",
                field="key",
            )

    def template(self, row: Sealed) -> FingerTemplate:
        self._check_key(row)
        g, p = self.gallery, self.pipeline_id
        context = row_context(g, row.subject_id, row.position, row.image_sha256, p)
        return unpack_template(self.box.open(row.template, context, row.key_id), p)

    def code(self, row: Sealed) -> bytes | None:
        """The opened code payload of a row, or None where it has none yet."""
        self._check_key(row)
        if row.screen_code is None:
            return None
        g, p = self.gallery, self.pipeline_id
        context = code_context(g, row.subject_id, row.position, row.image_sha256, p)
        return self.box.open(row.screen_code, context, row.key_id)

    def seal_code(self, row: Sealed, payload: bytes) -> bytes:
        g, p = self.gallery, self.pipeline_id
        return self.box.seal(
            payload, code_context(g, row.subject_id, row.position, row.image_sha256, p)
        )


def backfill(engine: Engine, rows: RowBox, progress: Progress | None) -> int:
    """Give every row of the gallery and pipeline that has no code one, from its template,
    ``_BACKFILL`` rows per transaction, reporting progress. Returns the rows given one."""
    t = FingerTemplateRow
    where = (
        t.gallery == rows.gallery,
        t.pipeline_id == rows.pipeline_id,
        t.screen_code.is_(None),
    )
    with Session(engine) as s:
        total = int(s.scalar(select(func.count()).where(*where)) or 0)
    done, last = 0, 0
    tag, _ = code_layout()
    table = cast(Table, FingerTemplateRow.__table__)
    write = (
        update(table).where(table.c.id == bindparam("row")).values(screen_code=bindparam("code"))
    )
    q = select(t.id, t.subject_id, t.position, t.image_sha256, t.template, t.key_id)
    while done < total:
        with Session(engine) as s, s.begin():
            found = s.execute(q.where(*where, t.id > last).order_by(t.id).limit(_BACKFILL)).all()
            if not found:
                break
            codes = codes_of([rows.template(r) for r in found])
            values = [
                {"row": r.id, "code": rows.seal_code(r, pack_code(c, tag))}
                for r, c in zip(found, codes, strict=True)
            ]
            s.connection().execute(write, values)
        done, last = done + len(found), found[-1].id
        if progress:
            progress(min(done, total), total)
    return done


def forget_codes(engine: Engine, ids: list[int]) -> None:
    """Clear the stored codes of rows ``ids`` so that the next backfill computes them."""
    t = FingerTemplateRow
    with Session(engine) as s, s.begin():
        for part in parts(ids):
            s.execute(update(t).where(t.id.in_(part)).values(screen_code=None))


def reseal(row: FingerTemplateRow, old: SecretBox, new: SecretBox) -> None:
    """Row's template and code (where it has one) opened with ``old``, sealed with ``new``."""
    where = (row.gallery, row.subject_id, row.position, row.image_sha256, row.pipeline_id)
    context = row_context(*where)
    row.template = new.seal(old.open(row.template, context, row.key_id), context)
    if row.screen_code is not None:
        code = code_context(*where)
        row.screen_code = new.seal(old.open(row.screen_code, code, row.key_id), code)
    row.key_id = new.key_id


def parts(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for i in range(0, len(values), _IN_LIMIT):
        yield values[i : i + _IN_LIMIT]
