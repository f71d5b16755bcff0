"""Vectors in Milvus, through pymilvus's ``MilvusClient``: a server (``http://HOST:19530``)
or Milvus Lite (a path ending in ``.db``).

Each partition is one collection named from its key (``mobileid_<16 hex>``), whose description
names the gallery and pipeline. A small state collection holds, per partition, the last
change-log sequence applied; it is written after the vectors, so a crash between the two only
makes the next catch-up apply the same changes again (idempotent). Requests, their time limits
and their errors are ``milvus_client``'s. Neither a server nor a Lite folder can tell a damaged
copy from a whole one, so the store compares the index with SQL once per process: its count,
and a sample of its vectors read back by id and searched for (``index_check``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from mobileid.config import VECTOR_TIMEOUT_S
from mobileid.gallery.milvus_client import STATE, MilvusCalls, check_uri
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
    empty_batch,
)

__all__ = ["MilvusVectorIndex", "check_uri"]

# Reads see this client's own writes without waiting for the next time tick (Strong costs
# ~200 ms a read on a standalone server). Writes by other replicas may be seen late: a stale
# "applied" only makes a catch-up apply changes again, and every hit is re-checked in SQL.
READS = "Session"
_INSERT_ROWS = 5_000  # rows per insert request (gRPC messages stay well under 64 MB)


def _collection(partition: Partition) -> str:
    return f"mobileid_{partition.key}"


class MilvusVectorIndex:
    """A ``VectorIndex`` in Milvus. ``index_type`` is Milvus's (FLAT, IVF_SQ8, HNSW...)."""

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = VECTOR_TIMEOUT_S,
        index_type: str = "FLAT",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        dim: int = DIM,
    ) -> None:
        self.uri, self.timeout, self.dim = uri, timeout, dim
        self._calls = MilvusCalls(uri, timeout)
        self._index_type, self._index_params = index_type, index_params or {}
        self._search_params = search_params or {}
        self._lock = threading.Lock()
        self._known: set[str] = set()
        _ = self.client  # connect now: a wrong or dead URI fails at start, not at first search

    @property
    def client(self) -> Any:
        """The pymilvus client, connected again after ``close``."""
        return self._calls.client

    @property
    def kind(self) -> str:
        return f"milvus-{self._index_type.lower()}"

    def _ensure(self, partition: Partition) -> str:
        name = _collection(partition)
        if name in self._known:
            return name
        with self._lock:
            if not self._calls.has(name):
                description = f"{partition.gallery}|{partition.pipeline_id}"
                self._calls.create_vectors(
                    name, description, self.dim, self._index_type, self._index_params
                )
            self._calls.ensure_state()
            self._calls.load(name)
            self._known.add(name)
        return name

    # --- the protocol ---------------------------------------------------------------------
    def applied(self, partition: Partition) -> int | None:
        name = self._ensure(partition)
        rows = self._calls.call(
            "get",
            lambda: self.client.get(
                STATE,
                ids=[name],
                output_fields=["applied"],
                consistency_level=READS,
                timeout=self.timeout,
            ),
        )
        return int(rows[0]["applied"]) if rows else None

    def _set_applied(self, name: str, upto: int) -> None:
        row = {"name": name, "applied": int(upto), "vector": [0.0, 0.0]}
        self._calls.call("upsert", lambda: self.client.upsert(STATE, [row], timeout=self.timeout))

    def apply(self, partition: Partition, upserts: Batch, removes: Ids, upto: int) -> None:
        upserts = check_batch(upserts, self.dim)
        name = self._ensure(partition)
        gone = np.unique(np.concatenate([np.asarray(removes, dtype=np.int64), upserts.ids]))
        if len(gone):
            ids = [int(i) for i in gone]
            self._calls.call(
                "delete", lambda: self.client.delete(name, ids=ids, timeout=self.timeout)
            )
        self._insert(name, upserts)
        self._set_applied(name, upto)

    def _insert(self, name: str, batch: Batch) -> None:
        for start in range(0, len(batch.ids), _INSERT_ROWS):
            rows = [
                {"id": int(i), "vector": v.tolist()}
                for i, v in zip(
                    batch.ids[start : start + _INSERT_ROWS],
                    batch.vectors[start : start + _INSERT_ROWS],
                    strict=True,
                )
            ]
            self._calls.call(
                "insert", partial(self.client.insert, name, rows, timeout=self.timeout)
            )

    def rebuild(
        self,
        partition: Partition,
        batches: Iterable[Batch],
        upto: int,
        progress: Progress | None = None,
        total: int = 0,
    ) -> None:
        """Drop and refill the collection. Milvus has no atomic swap of collections, so a
        search during a rebuild sees part of the partition; the store re-checks hits in SQL."""
        name = _collection(partition)
        with self._lock:
            self._calls.drop(name)
            self._known.discard(name)
        name = self._ensure(partition)
        done = 0
        for raw in batches:
            batch = check_batch(raw, self.dim)
            self._insert(name, batch)
            done += len(batch.ids)
            if progress:
                progress(done, max(total, done))
        self._calls.call(
            "flush", lambda: self.client.flush(name, timeout=self._calls.slow), slow=True
        )
        self._set_applied(name, upto)

    @property
    def self_checking(self) -> bool:
        return False  # a Lite folder missing a data file still opens and claims every change

    def wants_rebuild(self, partition: Partition) -> bool:
        return False  # Milvus builds and merges its own segment indexes

    def search(self, partition: Partition, probe: npt.ArrayLike, k: int) -> list[VectorHit]:
        return self.search_many(partition, check_probe(probe, self.dim), k)[0]

    def search_many(
        self, partition: Partition, probes: npt.ArrayLike, k: int
    ) -> list[list[VectorHit]]:
        """``search`` for each row of ``probes``, in one request."""
        queries, k = check_matrix(probes, self.dim, "probe"), check_k(k)
        name = self._ensure(partition)
        params = {"metric_type": "IP", "params": self._search_params}
        found = self._calls.call(
            "search",
            lambda: self.client.search(
                name,
                data=queries.tolist(),
                limit=k,
                search_params=params,
                consistency_level=READS,
                timeout=self.timeout,
            ),
        )
        return [[VectorHit(int(h["id"]), float(h["distance"])) for h in hits] for hits in found]

    def fetch(self, partition: Partition, ids: Ids) -> Batch:
        """The vectors stored under those of ``ids`` the partition holds, as stored."""
        name = self._ensure(partition)
        wanted = [int(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1)]
        if not wanted:
            return empty_batch(self.dim)
        rows = self._calls.call(
            "get",
            lambda: self.client.get(
                name,
                ids=wanted,
                output_fields=["vector"],
                consistency_level=READS,
                timeout=self.timeout,
            ),
        )
        if not rows:
            return empty_batch(self.dim)
        found = np.fromiter((int(r["id"]) for r in rows), dtype=np.int64, count=len(rows))
        # As stored, unchecked: NaN from garbled bytes must reach the comparison with SQL.
        vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32).reshape(-1, self.dim)
        return Batch(found, vectors)

    def count(self, partition: Partition) -> int:
        name = self._ensure(partition)
        rows = self._calls.call(
            "query",
            lambda: self.client.query(
                name,
                filter="",
                output_fields=["count(*)"],
                consistency_level=READS,
                timeout=self.timeout,
            ),
        )
        return int(rows[0]["count(*)"])

    def drop(self, partition: Partition) -> None:
        name = _collection(partition)
        self._calls.ensure_state()
        with self._lock:
            self._calls.drop(name)
            self._known.discard(name)
            self._calls.call(
                "delete", lambda: self.client.delete(STATE, ids=[name], timeout=self.timeout)
            )

    def close(self) -> None:
        self._known.clear()
        self._calls.close()
