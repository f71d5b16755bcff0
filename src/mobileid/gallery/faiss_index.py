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

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.gallery.faiss_kinds import IndexKind, build_index, choose_kind, tune
from mobileid.gallery.sealing import DeploymentKeyError, FileSeal, index_context
from mobileid.gallery.vectors import (
    DIM,
    Batch,
    Ids,
    Partition,
    Progress,
    VectorHit,
    check_batch,
    check_k,
    check_probe,
)

FORMAT = 2  # files of format 1 (before the change log) are rebuilt


def set_search_threads(n: int) -> None:
    """FAISS's OpenMP thread count (process-wide)."""
    faiss.omp_set_num_threads(max(1, n))


def index_stem(index_dir: Path, gallery: str, pipeline_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gallery)[:40]
    digest = Partition(gallery, pipeline_id).key[:12]
    return index_dir / f"{safe}-{digest}"


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
    ) -> None:
        if kind not in ("auto", "exact", "ivf"):
            raise InvalidArgument(
                f"vector index kind: expected auto, exact or ivf, got {kind!r}", field="kind"
            )
        self.index_dir, self.dim = index_dir, dim
        self._seal = FileSeal(key)
        self._kind, self._ivf_from, self._nprobe = kind, ivf_from, nprobe
        self._parts: dict[Partition, _Part | None] = {}
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return f"faiss-{self._kind}"

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
        the old one, then swap. An IVF index is trained on the first batches' vectors."""
        kind = choose_kind(self._kind, total, self._ivf_from)
        index, done = build_index(kind, self.dim), 0
        pending: list[Batch] = []
        for raw in batches:
            batch = check_batch(raw, self.dim)
            if not index.is_trained:
                pending.append(batch)
                have = sum(len(b.ids) for b in pending)
                if have < min(total, kind.train_size) and have < total:
                    continue
                index.train(np.concatenate([b.vectors for b in pending])[: kind.train_size])
                batch, pending = _joined(pending, self.dim), []
            index.add_with_ids(batch.vectors, batch.ids)
            done += len(batch.ids)
            if progress:
                progress(done, max(total, done))
        if pending or not index.is_trained:  # fewer vectors than expected: train on them
            rest = _joined(pending, self.dim)
            if not index.is_trained:
                index.train(rest.vectors if len(rest.ids) else np.zeros((1, self.dim), "f4"))
            index.add_with_ids(rest.vectors, rest.ids)
        tune(index, kind, self._nprobe)
        part = _Part(index, kind, applied=upto)
        with self._lock:
            self._parts[partition] = part
            self._save(partition, part)

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
        query, k = check_probe(probe, self.dim), check_k(k)
        with self._lock:
            part = self._part(partition)
            if part is None or part.index.ntotal == 0:
                return []
            scores, ids = part.index.search(query, min(k, int(part.index.ntotal)))
        return [
            VectorHit(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]

    def drop(self, partition: Partition) -> None:
        with self._lock:
            self._parts.pop(partition, None)
            if self.index_dir is not None:
                stem = index_stem(self.index_dir, *_names(partition))
                stem.with_suffix(".sealed").unlink(missing_ok=True)

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
        if self.index_dir is None:
            return
        stem = index_stem(self.index_dir, *_names(partition))
        stem.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps(self._header(partition, part)).encode()
        pieces = self._seal.seal(header, faiss.serialize_index(part.index), _context(stem))
        tmp = stem.with_suffix(".sealed.tmp")
        with tmp.open("wb") as f:
            f.writelines(pieces)
        tmp.replace(stem.with_suffix(".sealed"))
        part.unsaved = 0

    def _load(self, partition: Partition) -> _Part | None:
        """The saved index, or None when missing, damaged, another key's, another format's
        or another partition's: it is only a cache, rebuilt from SQL."""
        if self.index_dir is None:
            return None
        stem = index_stem(self.index_dir, *_names(partition))
        try:
            header, body = self._seal.open(stem.with_suffix(".sealed").read_bytes(), _context(stem))
            meta = json.loads(header)
            if (meta.get("format"), meta.get("gallery"), meta.get("pipeline_id")) != (
                FORMAT,
                *_names(partition),
            ) or meta.get("dim") != self.dim:
                return None
            index = faiss.deserialize_index(np.frombuffer(body, dtype=np.uint8))
            kind = choose_kind(meta["kind"], int(meta["built_for"]), 0)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, DeploymentKeyError):
            return None
        if index.ntotal != meta.get("count") or index.d != self.dim:
            return None
        tune(index, kind, self._nprobe)
        return _Part(index, kind, applied=int(meta["applied"]))


def _names(partition: Partition) -> tuple[str, str]:
    return partition.gallery, partition.pipeline_id


def _joined(batches: list[Batch], dim: int) -> Batch:
    if not batches:
        return Batch(np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32))
    return Batch(
        np.concatenate([b.ids for b in batches]), np.concatenate([b.vectors for b in batches])
    )


def _context(stem: Path) -> str:
    return index_context(stem.name)


def remove_index_files(index_dir: Path) -> int:
    """Delete every index file (sealed or from before encryption); they are rebuilt on use."""
    removed = 0
    for pattern in ("*.sealed", "*.sealed.tmp", "*.faiss", "*.json", "*.tmp"):
        for path in index_dir.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
