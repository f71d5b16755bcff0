"""The contract of a vector index: ids, vectors, partitions and search, nothing else.

A vector index is derived data. SQL (the subject store) is the source of truth: every change
to embeddings gets a sequence number there (``changes.py``), and an index remembers the last
number it applied to each partition, so that it catches up after a crash, a restart or on a
new replica by applying only what changed. No SQL session, subject or audit entry crosses
this protocol; the store maps ids back to subjects and re-checks every hit against SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument

DIM = 128

Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]
"""Called with (vectors done, vectors in all) while an index is built."""


@dataclass(frozen=True)
class Partition:
    """The vectors of one gallery made by one pipeline: the unit of search."""

    gallery: str
    pipeline_id: str

    @property
    def key(self) -> str:
        """A short, stable name usable as a file or collection name."""
        raw = f"{self.gallery}|{self.pipeline_id}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class VectorHit:
    """One stored vector near the probe: its id (the embedding row's) and inner product."""

    id: int
    score: float


@dataclass(frozen=True)
class Batch:
    """Vectors to put into a partition, with their ids; ``ids[i]`` names ``vectors[i]``."""

    ids: Ids
    vectors: Matrix


class Rows:
    """A partition's rows in id order, batch by batch, as a rebuild reads them; ``after``
    starts past a row id, so a resumed build neither reads nor opens the rows it holds."""

    def __init__(self, read: Callable[[int], Iterable[Batch]]) -> None:
        self._read = read

    def __iter__(self) -> Iterator[Batch]:
        return iter(self._read(0))

    def after(self, last_id: int) -> Iterable[Batch]:
        return self._read(last_id)


class VectorIndex(Protocol):
    """Ids and vectors by partition, searchable by inner product (higher = more alike).

    ``upto`` arguments are sequence numbers from the store's change log: after a call the
    partition reflects every change up to and including ``upto``, and ``applied`` says so,
    also after a restart (the backend persists it with the vectors).
    """

    @property
    def kind(self) -> str:
        """A short name of the backend and index type, for logs and benchmarks."""
        ...

    @property
    def self_checking(self) -> bool:
        """Whether a damaged or partial copy of the index is refused when read (sealed files):
        one that is not (a server, Milvus Lite's folder) is counted against SQL once per
        process and partition, and rebuilt when it holds another number of vectors or, when
        it is ``Inspectable``, when a sample of its vectors differs from SQL's."""
        ...

    def applied(self, partition: Partition) -> int | None:
        """The last sequence number applied, or None when the partition has no usable index
        (never built, damaged, from another version): the caller rebuilds it."""
        ...

    def apply(self, partition: Partition, upserts: Batch, removes: Ids, upto: int) -> None:
        """Remove ``removes`` and put ``upserts`` (replacing vectors of the same ids)."""
        ...

    def rebuild(
        self,
        partition: Partition,
        batches: Iterable[Batch],
        upto: int,
        progress: Progress | None = None,
        total: int = 0,
    ) -> None:
        """Replace the partition with exactly ``batches`` (``total`` vectors expected, to
        size the index). Searches keep using the previous index until the new one is
        complete, where the backend can swap (FAISS does; Milvus refills in place)."""
        ...

    def wants_rebuild(self, partition: Partition) -> bool:
        """Whether the partition has outgrown its index (rebuilt in the background)."""
        ...

    def search(self, partition: Partition, probe: npt.ArrayLike, k: int) -> list[VectorHit]:
        """Up to ``k`` stored vectors, best first (fewer when the partition holds fewer)."""
        ...

    def search_many(
        self, partition: Partition, probes: npt.ArrayLike, k: int
    ) -> list[list[VectorHit]]:
        """``search`` for each row of ``probes``, in one request (one scan of the index, one
        round trip to a server)."""
        ...

    def count(self, partition: Partition) -> int:
        """Vectors in the partition."""
        ...

    def drop(self, partition: Partition) -> None:
        """Forget the partition (its next use rebuilds it)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Inspectable(Protocol):
    """An index that cannot check itself but shows what it holds, so that the store can
    compare a sample of it with SQL (``index_check``)."""

    def fetch(self, partition: Partition, ids: Ids) -> Batch:
        """The vectors stored under those of ``ids`` the partition holds, as stored (not
        checked: damage must show)."""
        ...

    def search_many(
        self, partition: Partition, probes: npt.ArrayLike, k: int
    ) -> list[list[VectorHit]]:
        """``search`` for each row of ``probes``, in one request."""
        ...


def check_matrix(vectors: npt.ArrayLike, dim: int = DIM, field: str = "embedding") -> Matrix:
    """``vectors`` as a C-contiguous float32 (n, dim) array; InvalidArgument when the shape is
    wrong or any value is NaN or infinite."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    if m.ndim != 2 or m.shape[1] != dim:
        raise InvalidArgument(
            f"{field}: expected {dim} numbers per vector, got shape {np.shape(vectors)}",
            field=field,
        )
    if not np.all(np.isfinite(m)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(m), axis=1))[0])
        raise InvalidArgument(
            f"{field}: expected {dim} finite numbers per vector, got NaN or infinity in "
            f"vector {bad}",
            field=field,
        )
    return np.ascontiguousarray(m)


def check_probe(probe: npt.ArrayLike, dim: int = DIM) -> Matrix:
    return check_matrix(np.asarray(probe, dtype=np.float32).reshape(1, -1), dim, "probe")


def check_batch(batch: Batch, dim: int = DIM) -> Batch:
    vectors = check_matrix(batch.vectors, dim)
    ids = np.ascontiguousarray(batch.ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(vectors):
        raise InvalidArgument(
            f"ids: expected one id per vector ({len(vectors)}), got {len(ids)}", field="ids"
        )
    return Batch(ids, vectors)


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidArgument(f"top: expected a whole number >= 1, got {k!r}", field="top")
    return int(k)


def empty_batch(dim: int = DIM) -> Batch:
    return Batch(np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32))
