"""Between the subject store (SQL) and a vector index: catching up, rebuilding, searching.

A search first brings the index up to the partition's newest change-log sequence (usually a
no-op: one indexed ``max(seq)`` query), then asks it for a shortlist, and turns the shortlist
into subjects from SQL: hits whose rows are gone (deleted while the index lagged) are dropped,
and every score is recomputed exactly from the stored vector, so an approximate or remote
index ranks the same as the exact one whenever its shortlist holds the same rows.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, cast

import numpy as np
from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.gallery import change_logs, changes, index_check
from mobileid.gallery.row_count import RowCounts
from mobileid.gallery.sealing import SecretBox, as_vectors, open_vectors, row_context
from mobileid.gallery.store import EmbeddingRow
from mobileid.gallery.vectors import (
    DIM,
    Batch,
    Ids,
    Inspectable,
    Matrix,
    Partition,
    Progress,
    Rows,
    VectorIndex,
    check_k,
    check_matrix,
    check_probe,
    empty_batch,
)
from mobileid.types import SearchHit, Vector

log = logging.getLogger("mobileid.gallery")

SNAPSHOT_BATCH = 50_000
SHORTLIST_MIN = 64  # rows re-ranked per search at least (a few ms of SQL and AES)
_IN_CHUNK = 900  # ids per SQL IN list (SQLite's limit on bound parameters is 999 on old builds)


class VectorSync:
    """Keeps ``vectors`` in step with the change log of ``engine``'s database."""

    def __init__(
        self,
        engine: Engine,
        vectors: VectorIndex,
        box: Callable[[], SecretBox],
        progress: Progress | None = None,
    ) -> None:
        self.engine, self.vectors, self._box, self.progress = engine, vectors, box, progress
        self._locks: dict[Partition, threading.Lock] = {}
        self._guard = threading.Lock()
        self._checked: set[Partition] = set()  # partitions whose index was compared with SQL
        self.counts = RowCounts(engine)
        self._draw = random.Random()  # a new sample every process: over restarts, all rows
        self.building: dict[Partition, threading.Thread] = {}

    def _lock(self, partition: Partition) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(partition, threading.Lock())

    def catch_up(self, partition: Partition) -> int:
        """Apply every change logged since the index's last one; rebuild when the index has
        none to start from, or the log was pruned past it (``change_logs``). Returns the
        number of embedding ids applied (all the partition's, after a rebuild)."""
        with self._lock(partition):
            with self.engine.connect() as conn:
                newest = changes.latest(conn, partition)  # read before the rows: changes.py
            applied = self.vectors.applied(partition)
            if applied is None:
                self.rebuild(partition, newest)
                self._checked.add(partition)  # just built from SQL
                return self.vectors.count(partition)
            if applied >= newest:
                return self._checked_or_rebuilt(partition, applied, 0)
            with Session(self.engine) as s:
                ids = changes.touched(s, partition, applied, newest)
                # Read after the entries: a prune committed since they were read shows here.
                pruned = applied < change_logs.horizon(s, change_logs.FACES)
                upserts = empty_batch() if pruned else self.load(s, partition, ids)
            if pruned:  # entries it needs may have been deleted: rebuild from SQL
                self.rebuild(partition, newest)
                return self.vectors.count(partition)
            removes = np.setdiff1d(np.asarray(ids, dtype=np.int64), upserts.ids)
            self.vectors.apply(partition, upserts, removes, newest)
            done = self._checked_or_rebuilt(partition, newest, len(ids))
        if self.vectors.wants_rebuild(partition):
            self.rebuild_in_background(partition)
        return done

    def will_compare_whole(self, partition: Partition) -> None:
        """The caller compares every vector of ``partition`` with SQL itself
        (``full_check``): this process's catch-ups skip the count and the sample."""
        with self._guard:
            self._checked.add(partition)

    def _checked_or_rebuilt(self, partition: Partition, upto: int, done: int) -> int:
        """Once per process and partition, an index that applied the changes up to ``upto``
        is compared with SQL at that moment: one holding another number of vectors (a
        Milvus Lite folder that lost a data file, or fell back to an older manifest, yet
        still says it applied everything), or whose sampled vectors differ from SQL's
        (garbled bytes: ``index_check``), is rebuilt from SQL: indexes are derived, never
        trusted. A count too slow to wait for (``row_count``) finishes in its own thread and
        is compared there (``_counted_late``). Returns ``done``, or the rows rebuilt."""
        if partition in self._checked or self.vectors.self_checking:
            return done  # a sealed index was checked as it was read; counting costs minutes at 10M
        counted = self.counts.latest_and_rows(partition, self._counted_late)
        if counted is None:
            return done  # still counting: searches go on with the index as it is meanwhile
        seq, rows = counted
        if seq != upto:
            return done  # written meanwhile: compared at a later catch-up
        self._checked.add(partition)
        why = self._differs(partition, rows)
        if why is None:
            return done
        log.warning("vector index of %s rebuilt from SQL: %s", partition, why)
        self.rebuild(partition, seq)
        return self.vectors.count(partition)

    def _differs(self, partition: Partition, rows: int) -> str | None:
        """How the index differs from SQL's ``rows`` rows (count, then a sample), or None."""
        held = self.vectors.count(partition)
        return f"it holds {held} vectors, SQL {rows}" if held != rows else self._sampled(partition)

    def _counted_late(self, partition: Partition, seq: int, rows: int) -> None:
        """A count that ended after its search went on: compared if the index still stands
        where SQL stood when counted, and rebuilt in the background if it does not hold
        those rows (searches meanwhile use it as it is, their hits checked against SQL)."""
        with self._lock(partition):
            if partition in self._checked or self.vectors.applied(partition) != seq:
                return  # caught up since: the next search counts again
            self._checked.add(partition)
            why = self._differs(partition, rows)
            if why is None:
                return
        log.warning("vector index of %s rebuilt from SQL in the background: %s", partition, why)
        self.rebuild_in_background(partition)

    def _sampled(self, partition: Partition) -> str | None:
        """What differs between a sample of the index and SQL (``index_check``), or None."""
        index = self.vectors
        if not isinstance(index, Inspectable):
            return None
        with Session(self.engine) as s:
            truth = self.load(s, partition, index_check.sample_ids(s, partition, self._draw))
        return index_check.differences(index, partition, truth, partial(self.in_sql, partition))

    def in_sql(self, partition: Partition, ids: Ids) -> Ids:
        """Which of ``ids`` SQL still holds in ``partition``."""
        with Session(self.engine) as s:
            return self.load(s, partition, [int(i) for i in ids]).ids

    def rebuild(self, partition: Partition, newest: int | None = None) -> None:
        """Replace the partition's index with the rows in SQL now."""
        if newest is None:
            with Session(self.engine) as s:
                newest = changes.latest(s, partition)
        total = self.count_rows(partition)
        self.vectors.rebuild(partition, self.snapshot(partition), newest, self.progress, total)

    def rebuild_in_background(self, partition: Partition) -> threading.Thread:
        """Rebuild in a thread (e.g. exact -> IVF once a partition has grown); searches keep
        using the current index meanwhile, and catch up from the new one's sequence after."""
        with self._guard:
            running = self.building.get(partition)
            if running is not None and running.is_alive():
                return running
            thread = threading.Thread(
                target=self.rebuild, args=(partition,), name=f"rebuild-{partition.key}"
            )
            thread.daemon = True
            self.building[partition] = thread
        thread.start()
        return thread

    def count_rows(self, partition: Partition) -> int:
        from sqlalchemy import func

        q = select(func.count()).where(
            EmbeddingRow.gallery == partition.gallery,
            EmbeddingRow.pipeline_id == partition.pipeline_id,
        )
        with Session(self.engine) as s:
            return int(s.scalar(q) or 0)

    def snapshot(self, partition: Partition) -> Rows:
        """Every row of the partition in id order, ``SNAPSHOT_BATCH`` at a time."""
        return Rows(lambda after: self._rows_after(partition, after))

    def _rows_after(self, partition: Partition, last: int) -> Iterator[Batch]:
        while True:
            with Session(self.engine) as s:
                q = _rows(partition).where(last < _ID).order_by(_ID).limit(SNAPSHOT_BATCH)
                batch = self._open(partition, s.execute(q).all())
            if not len(batch.ids):
                return
            last = int(batch.ids[-1])
            yield batch

    def load(self, s: Session, partition: Partition, ids: Sequence[int]) -> Batch:
        """The rows among ``ids`` that exist in the partition, with their vectors."""
        rows: list[Any] = []
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = list(ids[start : start + _IN_CHUNK])
            rows.extend(s.execute(_rows(partition).where(_ID.in_(chunk))).all())
        return self._open(partition, rows)

    def subject_vectors(self, partition: Partition, subject_id: str) -> Batch:
        """One subject's embeddings in the partition, from SQL, oldest first (none when it has
        none)."""
        with Session(self.engine) as s:
            q = _rows(partition).where(_T.subject_id == subject_id).order_by(_ID)
            rows = s.execute(q).all()
        return self._open(partition, rows)

    def _open(self, partition: Partition, rows: Sequence[Any]) -> Batch:
        if not rows:
            return empty_batch()
        gallery = partition.gallery
        blobs = open_vectors(
            self._box(),
            [r[2] for r in rows],
            [row_context(gallery, r[1], r[4], r[5]) for r in rows],
            [r[3] for r in rows],
        )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return Batch(ids, as_vectors(blobs, DIM).copy())

    def search(self, partition: Partition, probe: Vector, k: int) -> list[SearchHit]:
        """The ``k`` best subjects, best first, each scored by its best embedding; exact
        scores from SQL, rows no longer in SQL left out."""
        return self.search_many(partition, check_probe(probe), k)[0]

    def search_many(self, partition: Partition, probes: Matrix, k: int) -> list[list[SearchHit]]:
        """``search`` for each row of ``probes``, with one index request and one SQL read for
        them all (a probe whose shortlist held too few subjects asks again, for more)."""
        queries, k = check_matrix(probes, field="probe"), check_k(k)
        self.catch_up(partition)
        found: list[list[SearchHit]] = [[] for _ in queries]
        pending = list(range(len(queries)))
        want = max(4 * k, SHORTLIST_MIN)
        while pending:
            asked = queries[pending]
            shortlists = self.vectors.search_many(partition, asked, want)
            bests = self._rerank(partition, [[h.id for h in s] for s in shortlists], asked)
            again = []
            for q, shortlist, best in zip(pending, shortlists, bests, strict=True):
                if len(best) >= k or len(shortlist) < want:
                    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
                    found[q] = [SearchHit(subject_id=sid, score=score) for sid, score in ranked]
                else:
                    again.append(q)
            pending, want = again, want * 4
        return found

    def _rerank(
        self, partition: Partition, shortlists: list[list[int]], queries: Matrix
    ) -> list[dict[str, float]]:
        """For each query, the best exact score of each subject among its shortlist's rows."""
        ids = sorted({i for shortlist in shortlists for i in shortlist})
        # Core, not the ORM: per search, the ORM's bookkeeping cost more than the query.
        with self.engine.connect() as conn:
            rows: list[Any] = []
            for start in range(0, len(ids), _IN_CHUNK):
                params = _params(partition) | {"ids": ids[start : start + _IN_CHUNK]}
                rows.extend(conn.execute(_BY_IDS, params).all())
        if not rows:
            return [{} for _ in shortlists]
        scores = (self._open(partition, rows).vectors @ queries.T).tolist()
        at = {row[0]: n for n, row in enumerate(rows)}
        out: list[dict[str, float]] = []
        for q, shortlist in enumerate(shortlists):
            best: dict[str, float] = {}
            for n in (at[i] for i in shortlist if i in at):
                subject, score = rows[n][1], scores[n][q]
                if score > best.get(subject, -np.inf):
                    best[subject] = float(score)
            out.append(best)
        return out


_T = cast(Table, EmbeddingRow.__table__).c
_ID = _T.id


def _params(partition: Partition) -> dict[str, Any]:
    return {"gallery": partition.gallery, "pipeline_id": partition.pipeline_id}


def _rows(partition: Partition) -> Select[Any]:
    return select(
        _T.id, _T.subject_id, _T.vector, _T.key_id, _T.image_sha256, _T.pipeline_id
    ).where(_T.gallery == partition.gallery, _T.pipeline_id == partition.pipeline_id)


# Built once: per search, building the statement cost about as much as running it.
_BY_IDS = select(_T.id, _T.subject_id, _T.vector, _T.key_id, _T.image_sha256, _T.pipeline_id).where(
    _T.gallery == bindparam("gallery"),
    _T.pipeline_id == bindparam("pipeline_id"),
    _T.id.in_(bindparam("ids", expanding=True)),
)
