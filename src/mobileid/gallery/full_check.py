"""Every vector of a partition's index compared with SQL, on demand (``mobileid admin
check-index``).

The first search of a process compares a sample (``index_check``): a single garbled vector
among millions is found only when drawn. This reads every row of the partition from SQL in
id order, ``batch`` at a time, and compares each with what the index stores under its id
(within ``index_check.TOLERANCE``; NaN is a difference); with ``search``, each vector is also
searched for, as a probe, and must find a stored vector scoring as high as itself (a Milvus
Lite folder searches a copy apart from the one read by id). Rows missing from the index, and
vectors the index holds beyond SQL's (by count), are differences too.

The index is first caught up with SQL; a row deleted while the check runs may be gone from
the index already, which is no difference. An index that does not show what it holds (the
sealed FAISS files, checked whole as they are read) is compared by count only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from sqlalchemy.orm import Session

from mobileid.gallery import index_check
from mobileid.gallery.sync import VectorSync
from mobileid.gallery.vectors import Batch, Ids, Inspectable, Partition

EXAMPLES = 5  # ids named per kind of difference


@dataclass(frozen=True)
class IndexReport:
    """What a full check of one partition found: rows compared, and the ids that differ."""

    gallery: str
    pipeline_id: str
    kind: str  # the index's (faiss-exact, milvus-flat...)
    rows: int  # rows of SQL compared
    held: int  # vectors the index holds
    by_vector: bool  # compared vector by vector (else by count only)
    missing: tuple[int, ...] = ()  # up to EXAMPLES ids each; counts in ``counts``
    garbled: tuple[int, ...] = ()
    unfound: tuple[int, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False

    @property
    def extra(self) -> int:
        """Vectors the index holds that SQL does not (by count)."""
        return max(0, self.held - (self.rows - self.counts.get("missing", 0)))

    @property
    def agrees(self) -> bool:
        return not any(self.counts.values()) and self.extra == 0 and self.held == self.rows

    def differences(self) -> list[str]:
        """Each difference in words (empty when the index agrees with SQL)."""
        out = []
        for name, words in (
            ("missing", "rows of SQL missing from the index"),
            ("garbled", "vectors differing from SQL's"),
            ("unfound", "vectors not found by searching for them"),
        ):
            n = self.counts.get(name, 0)
            if n:
                ids = ", ".join(str(i) for i in getattr(self, name))
                out.append(f"{n} {words} (ids {ids}{'...' if n > EXAMPLES else ''})")
        if self.extra:
            out.append(f"{self.extra} vectors in the index that SQL does not hold")
        elif not self.by_vector and self.held != self.rows:
            out.append(f"the index holds {self.held} vectors, SQL {self.rows}")
        return out


@dataclass
class _Found:
    rows: int = 0
    ids: dict[str, list[int]] = field(
        default_factory=lambda: {"missing": [], "garbled": [], "unfound": []}
    )

    def add(self, kind: str, ids: Ids) -> None:
        self.ids[kind].extend(int(i) for i in ids)


def check_partition(
    sync: VectorSync,
    partition: Partition,
    *,
    batch: int,
    search: bool = False,
    rebuild: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Compare every vector of ``partition``'s index with SQL; rebuild it from SQL when
    they differ (unless ``rebuild`` is False)."""
    sync.will_compare_whole(partition)  # no sample first: it could rebuild what it drew
    sync.catch_up(partition)
    index, total = sync.vectors, sync.count_rows(partition)
    found = _Found()
    if isinstance(index, Inspectable):
        for rows in sync.snapshot(partition):
            for start in range(0, len(rows.ids), batch):
                part = Batch(rows.ids[start : start + batch], rows.vectors[start : start + batch])
                _compare(sync, index, partition, part, search, found)
                if progress is not None:
                    progress(found.rows, max(total, found.rows))
    else:
        found.rows = total
    report = _report(sync, partition, found, by_vector=isinstance(index, Inspectable))
    if report.agrees or not rebuild:
        return report
    sync.rebuild(partition)
    return replace(report, rebuilt=True)


def _compare(
    sync: VectorSync,
    index: Inspectable,
    partition: Partition,
    truth: Batch,
    search: bool,
    found: _Found,
) -> None:
    found.rows += len(truth.ids)
    c = index_check.compare(index, partition, truth, partial(sync.in_sql, partition), search=search)
    found.add("missing", c.missing)
    found.add("garbled", c.garbled)
    found.add("unfound", c.unfound)


def _report(sync: VectorSync, partition: Partition, found: _Found, by_vector: bool) -> IndexReport:
    return IndexReport(
        gallery=partition.gallery,
        pipeline_id=partition.pipeline_id,
        kind=sync.vectors.kind,
        rows=found.rows,
        held=sync.vectors.count(partition),
        by_vector=by_vector,
        missing=tuple(found.ids["missing"][:EXAMPLES]),
        garbled=tuple(found.ids["garbled"][:EXAMPLES]),
        unfound=tuple(found.ids["unfound"][:EXAMPLES]),
        counts={k: len(v) for k, v in found.ids.items()},
    )


def partitions(sync: VectorSync, galleries: list[str]) -> list[Partition]:
    """The partitions of ``galleries``: one per pipeline id their embeddings were made by."""
    from sqlalchemy import select

    from mobileid.gallery.store import EmbeddingRow

    q = (
        select(EmbeddingRow.gallery, EmbeddingRow.pipeline_id)
        .where(EmbeddingRow.gallery.in_(galleries))
        .distinct()
    )
    with Session(sync.engine) as s:
        return sorted((Partition(g, p) for g, p in s.execute(q).all()), key=lambda p: p.key)
