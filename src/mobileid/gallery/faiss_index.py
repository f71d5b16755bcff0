"""The embedded vector index: FAISS in memory, one sealed file per partition in the data folder.

Two kinds of index, chosen per partition by size (or fixed by configuration):

- ``exact``: every vector in a flat inner-product index; search is one pass over all of them.
- ``ivf``: an inverted file of ``nlist`` k-means cells with 8-bit scalar-quantised vectors
  (IVF-SQ8, a quarter of the memory); a search visits the ``nprobe`` nearest cells. It is
  approximate: the store re-ranks its shortlist exactly from the vectors in SQL.

A file is a cache. It records the format, the partition and the last change-log sequence it
holds; one that is damaged, sealed under another key, written by another format or for another
partition is ignored and the partition is rebuilt from SQL. Files are written after enough
changes (about 1% of the partition) or on ``close``, so a crash loses only a catch-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.gallery.faiss_build import CHECKPOINT_S, Building, build
from mobileid.gallery.faiss_files import index_stem, read_sealed, write_sealed
from mobileid.gallery.faiss_kinds import IndexKind, build_index, choose_kind, kind_of, tune
from mobileid.gallery.sealing import FileSeal
from mobileid.gallery.vectors import (
    DIM,
    Batch,
    Ids,
    Partition,
    Progress,
    VectorHit,
    check_batch,
    check_k,
    check_matrix,
    check_probe,
)

FORMAT = 2  # files of format 1 (before the change log) are rebuilt


def set_search_threads(n: int) -> None:
    """FAISS's OpenMP thread count (process-wide)."""
    faiss.omp_set_num_threads(max(1, n))


@dataclass
class _Part:
    index: faiss.Index
    kind: IndexKind
    applied: int
    unsaved: int = 0


class FaissVectorIndex:
    """A ``VectorIndex`` in this process's memory, persisted as sealed files.

    ``kind`` is "auto" (exact below ``ivf_from`` vectors, IVF from there on), "exact" or
    "ivf". ``nprobe`` overrides the number of IVF cells a search visits. With ``index_dir``
    None the index lives in memory only (benchmarks, tests).
    """

    def __init__(
        self,
        index_dir: Path | None,
        *,
        key: bytes,
        kind: str = "auto",
        ivf_from: int = 200_000,
        nprobe: int | None = None,
        dim: int = DIM,
        checkpoint_s: float = CHECKPOINT_S,
    ) -> None:
        if kind not in ("auto", "exact", "ivf"):
            raise InvalidArgument(
                f"vector index kind: expected auto, exact or ivf, got {kind!r}", field="kind"
            )
        self.index_dir, self.dim = index_dir, dim
        self._seal = FileSeal(key)
        self._kind, self._ivf_from, self._nprobe = kind, ivf_from, nprobe
        self._checkpoint_s = checkpoint_s
        self._parts: dict[Partition, _Part | None] = {}
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return f"faiss-{self._kind}"

    @property
    def self_checking(self) -> bool:
        return True  # every file is sealed: a damaged or cut one fails its tag and is rebuilt

    def applied(self, partition: Partition) -> int | None:
        part = self._part(partition)
        return None if part is None else part.applied

    def index_kind(self, partition: Partition) -> str | None:
        """The kind of the partition's index in memory ("exact" or "ivf"), None when none."""
        part = self._part(partition)
        return None if part is None else part.kind.name

    def count(self, partition: Partition) -> int:
        part = self._part(partition)
        return 0 if part is None else int(part.index.ntotal)

    def apply(self, partition: Partition, upserts: Batch, removes: Ids, upto: int) -> None:
        upserts = check_batch(upserts, self.dim)
        gone = np.unique(np.concatenate([np.asarray(removes, dtype=np.int64), upserts.ids]))
        with self._lock:
            part = self._part(partition)
            if part is None:  # a partition that was empty when last rebuilt
                exact = choose_kind("exact", 0, 0)
                part = _Part(build_index(exact, self.dim), exact, applied=0)
                self._parts[partition] = part
            if len(gone):
                part.index.remove_ids(faiss.IDSelectorBatch(gone))
            if len(upserts.ids):
                part.index.add_with_ids(upserts.vectors, upserts.ids)
            part.applied = max(part.applied, upto)
            part.unsaved += len(gone) + len(upserts.ids) or 1
            # A removed (deleted or purged) vector must not stay in the file until the next
            # save: the file is rewritten at once. Additions wait for about 1% of the index.
            if len(removes) or part.unsaved >= max(1, part.index.ntotal // 100):
                self._save(partition, part)

    def rebuild(
        self,
        partition: Partition,
        batches: Iterable[Batch],
        upto: int,
        progress: Progress | None = None,
        total: int = 0,
    ) -> None:
        """Build a new index from ``batches`` (``total`` vectors expected) while searches use
        the old one, then swap. An IVF index is trained on the first batches' vectors. An
        interrupted build of the same kind resumes from its checkpoint (faiss_build.py)."""
        kind = choose_kind(self._kind, total, self._ivf_from)
        state = self._resume(partition, kind) or Building(build_index(kind, self.dim), kind, upto)
        state = build(
            state,
            batches,
            self.dim,
            progress,
            total,
            lambda b: self._checkpoint(partition, b),
            self._checkpoint_s,
        )
        tune(state.index, kind, self._nprobe)
        part = _Part(state.index, kind, applied=state.upto)
        with self._lock:
            self._parts[partition] = part
            self._save(partition, part)
            self._stem(partition).with_suffix(".building").unlink(missing_ok=True)

    def set_nprobe(self, nprobe: int | None) -> None:
        """Visit ``nprobe`` IVF cells per search from now on (None: the kind's own)."""
        with self._lock:
            self._nprobe = nprobe
            for part in self._parts.values():
                if part is not None:
                    tune(part.index, part.kind, nprobe)

    def wants_rebuild(self, partition: Partition) -> bool:
        """Whether the partition has outgrown its kind (exact past ``ivf_from`` under "auto",
        or an IVF index holding four times what it was trained for)."""
        part = self._part(partition)
        if part is None:
            return False
        n = int(part.index.ntotal)
        return choose_kind(self._kind, n, self._ivf_from).name != part.kind.name or (
            part.kind.name == "ivf" and n > 4 * part.kind.built_for
        )

    def search(self, partition: Partition, probe: npt.ArrayLike, k: int) -> list[VectorHit]:
        return self.search_many(partition, check_probe(probe, self.dim), k)[0]

    def search_many(
        self, partition: Partition, probes: npt.ArrayLike, k: int
    ) -> list[list[VectorHit]]:
        """``search`` for each row of ``probes``: one FAISS call, which spreads the rows over
        its threads."""
        queries, k = check_matrix(probes, self.dim, "probe"), check_k(k)
        with self._lock:
            part = self._part(partition)
            if part is None or part.index.ntotal == 0:
                return [[] for _ in queries]
            scores, ids = part.index.search(queries, min(k, int(part.index.ntotal)))
        return [
            [VectorHit(int(i), float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    def drop(self, partition: Partition) -> None:
        with self._lock:
            self._parts.pop(partition, None)
            if self.index_dir is not None:
                for suffix in (".sealed", ".building"):
                    self._stem(partition).with_suffix(suffix).unlink(missing_ok=True)

    def rekey(self, key: bytes) -> None:
        """Seal files under ``key`` from now on (after a key rotation); the vectors in memory
        are unchanged and are written again under the new key on ``close``."""
        with self._lock:
            self._seal = FileSeal(key)
            for part in self._parts.values():
                if part is not None:
                    part.unsaved = max(part.unsaved, 1)

    def close(self) -> None:
        with self._lock:
            for partition, part in self._parts.items():
                if part is not None and part.unsaved:
                    self._save(partition, part)

    # --- files ----------------------------------------------------------------------------
    def _part(self, partition: Partition) -> _Part | None:
        with self._lock:
            if partition not in self._parts:
                self._parts[partition] = self._load(partition)
            return self._parts[partition]

    def _stem(self, partition: Partition) -> Path:
        assert self.index_dir is not None
        return index_stem(self.index_dir, *_names(partition))

    def _header(self, partition: Partition, part: _Part) -> dict[str, object]:
        return {
            "format": FORMAT,
            "gallery": partition.gallery,
            "pipeline_id": partition.pipeline_id,
            "dim": self.dim,
            "kind": part.kind.name,
            "built_for": part.kind.built_for,
            "applied": part.applied,
            "count": int(part.index.ntotal),
        }

    def _save(self, partition: Partition, part: _Part) -> None:
        if self.index_dir is not None:
            self._write(partition, ".sealed", self._header(partition, part), part.index)
            part.unsaved = 0

    def _checkpoint(self, partition: Partition, state: Building) -> None:
        """The index built so far, beside the last complete one (which searches still use)."""
        if self.index_dir is not None:
            part = _Part(state.index, state.kind, applied=state.upto)
            header = self._header(partition, part) | {"last_id": state.last_id}
            self._write(partition, ".building", header, state.index)

    def _write(
        self, partition: Partition, suffix: str, header: dict[str, object], index: faiss.Index
    ) -> None:
        write_sealed(self._seal, self._stem(partition), suffix, header, index)

    def _load(self, partition: Partition) -> _Part | None:
        """The saved index, or None when missing, damaged, another key's, another format's
        or another partition's: it is only a cache, rebuilt from SQL."""
        found = self._read(partition, ".sealed")
        if found is None:
            return None
        meta, index = found
        kind = kind_of(index, int(meta["built_for"]))
        tune(index, kind, self._nprobe)
        return _Part(index, kind, applied=int(meta["applied"]))

    def _resume(self, partition: Partition, kind: IndexKind) -> Building | None:
        """The checkpoint of an interrupted build of ``kind``, if there is one."""
        found = self._read(partition, ".building")
        if found is None:
            return None
        meta, index = found
        if kind_of(index, kind.built_for) != kind or not isinstance(meta.get("last_id"), int):
            return None
        return Building(index, kind, upto=int(meta["applied"]), last_id=int(meta["last_id"]))

    def _read(self, partition: Partition, suffix: str) -> tuple[dict[str, Any], faiss.Index] | None:
        if self.index_dir is None:
            return None
        expect: dict[str, object] = {"format": FORMAT, "dim": self.dim}
        expect |= {"gallery": partition.gallery, "pipeline_id": partition.pipeline_id}
        return read_sealed(self._seal, self._stem(partition), suffix, expect)


def _names(partition: Partition) -> tuple[str, str]:
    return partition.gallery, partition.pipeline_id
