"""A sample of a vector index compared with SQL, for an index that cannot check itself.

Counting an index against SQL (``sync``) finds rows that were lost; it cannot see rows that
are there with the wrong vector, such as bytes garbled inside a Milvus Lite data file: the
count is right, the scores are recomputed from SQL (so no wrong band is shown), but the mate
can fall out of the shortlist. So, once per process and partition, a sample of rows is read
from SQL (opened as every search opens them) and from the index, two ways:

- by id (``fetch``): the vector the index stores must equal SQL's within float tolerance;
- by search (``search_many``): each sampled vector, as a probe, must find a stored vector
  scoring as high as the vector against itself. Milvus Lite searches a copy of the vectors
  (its index sidecar) apart from the one read by id, so either can be damaged alone.

The sample is one id drawn at random from each of ``SPREAD`` equal stretches of the
partition's id range (the first after a random point, or the stretch's first; none from a
stretch that holds none of the partition's rows), plus the ``NEWEST`` rows (a crash or a
half-written file touches those first). It finds damage that reaches a stretch's worth of
rows, or the newest ones; a single garbled vector among many is found only when drawn (a new
draw every process).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mobileid.gallery.store import EmbeddingRow
from mobileid.gallery.vectors import Batch, Ids, Inspectable, Partition

SPREAD = 24
NEWEST = 8
# A stored float32 comes back bit for bit from Milvus (server and Lite): any gap is damage.
TOLERANCE = 1e-5
# An approximate index (IVF_SQ8's 8-bit codes) scores a vector against itself within ~0.1%.
SEARCH_TOLERANCE = 0.01

_T = cast(Table, EmbeddingRow.__table__).c
_IN_PARTITION = (_T.gallery == bindparam("gallery"), _T.pipeline_id == bindparam("pipeline_id"))
# Each an index seek on (gallery, pipeline_id, id) (migration m0007): a few ms at any size.
_FIRST = select(_T.id).where(*_IN_PARTITION).order_by(_T.id).limit(1)
_NEWEST = select(_T.id).where(*_IN_PARTITION).order_by(_T.id.desc()).limit(NEWEST)
_FROM = select(_T.id).where(*_IN_PARTITION, _T.id >= bindparam("at")).order_by(_T.id).limit(1)


def sample_ids(s: Session | Connection, partition: Partition, draw: random.Random) -> list[int]:
    """The ids to compare: one drawn from each of ``SPREAD`` stretches, and the newest."""
    params: dict[str, Any] = {"gallery": partition.gallery, "pipeline_id": partition.pipeline_id}
    first = s.execute(_FIRST, params).scalar()
    newest = [int(i) for i in s.execute(_NEWEST, params).scalars()]
    if first is None or not newest:
        return []
    width = (newest[0] - int(first) + 1) / SPREAD
    picked = set(newest)
    for stretch in range(SPREAD):
        start, end = int(first) + int(stretch * width), int(first) + int((stretch + 1) * width)
        at = start + int(draw.random() * (end - start))
        found = s.execute(_FROM, params | {"at": at}).scalar()
        if found is None or found >= end:  # none from the point drawn to the stretch's end
            found = s.execute(_FROM, params | {"at": start}).scalar()
        if found is not None and found < end:
            picked.add(int(found))
    return sorted(picked)


@dataclass(frozen=True)
class Comparison:
    """Ids of a batch of SQL's rows that the index does not hold as SQL does, by kind."""

    missing: Ids  # in SQL, absent from the index
    garbled: Ids  # held under their id with another vector (NaN included)
    gaps: npt.NDArray[np.float64]  # the largest gap of each garbled vector
    unfound: Ids  # held, but a search for the vector finds nothing as high as itself
    best: npt.NDArray[np.float64]  # the best score found for each unfound vector
    own: npt.NDArray[np.float64]  # and its score against itself


def compare(
    index: Inspectable,
    partition: Partition,
    truth: Batch,
    in_sql: Callable[[Ids], Ids],
    *,
    search: bool = True,
) -> Comparison:
    """Compare ``index`` with SQL's rows ``truth`` by id, and with ``search`` by search too.
    ``in_sql`` says which of some ids are still in SQL (a row deleted since ``truth`` was
    read may be gone from the index already: that is no damage)."""
    held = index.fetch(partition, truth.ids)
    at = {int(i): n for n, i in enumerate(held.ids)}
    kept = np.asarray([int(i) in at for i in truth.ids], dtype=bool)
    absent = truth.ids[~kept]
    missing = in_sql(absent) if len(absent) else absent
    ids, want = truth.ids[kept], truth.vectors[kept]
    none = np.zeros(0, dtype=np.float64)
    if not len(ids):
        return Comparison(missing, ids, none, ids, none, none)
    gap = np.abs(held.vectors[[at[int(i)] for i in ids]] - want).max(axis=1)
    bad = ~(gap <= TOLERANCE)  # NaN from garbled bytes is a difference too
    unfound, best, own = ids[:0], none, none
    if search:
        own = np.einsum("ij,ij->i", want, want).astype(np.float64)
        hits = index.search_many(partition, want, 1)
        best = np.asarray([h[0].score if h else -np.inf for h in hits], dtype=np.float64)
        low = ~(best >= own - SEARCH_TOLERANCE * np.abs(own))
        unfound, best, own = ids[low], best[low], own[low]
    return Comparison(missing, ids[bad], gap[bad].astype(np.float64), unfound, best, own)


def differences(
    index: Inspectable, partition: Partition, truth: Batch, in_sql: Callable[[Ids], Ids]
) -> str | None:
    """What differs between ``index`` and SQL's rows ``truth`` (a sample), in words, or None:
    the first kind of difference found, missing ids before garbled before unfound."""
    if not len(truth.ids):
        return None
    c, n = compare(index, partition, truth, in_sql), len(truth.ids)
    if len(c.missing):
        return (
            f"{len(c.missing)} of {n} sampled ids are missing from the index "
            f"(id {c.missing[0]} first)"
        )
    if len(c.garbled):
        return (
            f"{len(c.garbled)} of {n} sampled vectors differ from SQL's (id {c.garbled[0]} by "
            f"up to {c.gaps[0]:.3g}, tolerance {TOLERANCE:g})"
        )
    if len(c.unfound):
        return (
            f"{len(c.unfound)} of {n} sampled vectors are not found by searching for them (id "
            f"{c.unfound[0]}: best score {c.best[0]:.3g}, against itself {c.own[0]:.3g})"
        )
    return None
