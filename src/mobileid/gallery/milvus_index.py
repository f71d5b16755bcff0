"""Vectors in Milvus, through pymilvus's ``MilvusClient``: a server (``http://HOST:19530``)
or Milvus Lite (a path ending in ``.db``).

Each partition is one collection named from its key (``mobileid_<16 hex>``), whose description
names the gallery and pipeline. A small state collection holds, per partition, the last
change-log sequence applied; it is written after the vectors, so a crash between the two only
makes the next catch-up apply the same changes again (idempotent). Every call carries a time
limit, given to each request (pymilvus bounds its retries by it; without one it retries up to
75 times with back-off, over a minute): a server that is down or slow raises
BackendUnavailable, never hangs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from mobileid.errors import BackendUnavailable, InvalidArgument
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

STATE = "mobileid_state"
# Reads see this client's own writes without waiting for the next time tick (Strong costs
# ~200 ms a read on a standalone server). Writes by other replicas may be seen late: a stale
# "applied" only makes a catch-up apply changes again, and every hit is re-checked in SQL.
READS = "Session"
SLOW_S = 60.0
_INSERT_ROWS = 5_000  # rows per insert request (gRPC messages stay well under 64 MB)
T = TypeVar("T")
# A Milvus Lite folder that cannot be read holds nothing that SQL does not: say how to recover.
LITE_HINT = " (Milvus Lite's folder is derived from the database: moved away, it is rebuilt)"


def _collection(partition: Partition) -> str:
    return f"mobileid_{partition.key}"


class MilvusVectorIndex:
    """A ``VectorIndex`` in Milvus. ``index_type`` is Milvus's (FLAT, IVF_SQ8, HNSW...)."""

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = 10.0,
        index_type: str = "FLAT",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        dim: int = DIM,
    ) -> None:
        self.uri, self.timeout, self.dim = uri, timeout, dim
        # Creating, loading, flushing or dropping a collection moves segments on the server
        # and takes seconds on a busy one: bounded, but more loosely than a search.
        self.slow = max(timeout, SLOW_S)
        self._index_type, self._index_params = index_type, index_params or {}
        self._search_params = search_params or {}
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._client: Any = None
        _ = self.client  # connect now: a wrong or dead URI fails at start, not at first search

    @property
    def client(self) -> Any:
        """The pymilvus client, connected again after ``close``."""
        if self._client is None:
            self._client = self._call("connect", self._connect)
        return self._client

    @property
    def kind(self) -> str:
        return f"milvus-{self._index_type.lower()}"

    def _connect(self) -> Any:
        from pymilvus import MilvusClient

        return MilvusClient(self.uri, timeout=self.timeout)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one request; a failure of the server becomes BackendUnavailable naming it."""
        # pymilvus's transport: a request past its deadline comes out as grpc's own error
        from grpc import RpcError  # type: ignore[import-untyped]
        from pymilvus.exceptions import MilvusException

        try:
            return fn()
        except InvalidArgument:
            raise
        except (MilvusException, RpcError, OSError, TimeoutError, RuntimeError) as e:
            lite = "" if self.uri.startswith("http") else LITE_HINT
            raise BackendUnavailable(
                f"vector index: expected Milvus at {self.uri} to answer {what} within "
                f"{self.timeout:g} s ({self.slow:g} s for collection changes), got "
                f"{type(e).__name__}: {e}{lite}",
                field="vector_uri",
            ) from None

    # --- collections ----------------------------------------------------------------------
    def _ensure(self, partition: Partition) -> str:
        name = _collection(partition)
        if name in self._known:
            return name
        with self._lock:
            c = self.client
            if not self._call(
                "has_collection", lambda: c.has_collection(name, timeout=self.timeout)
            ):
                self._create(name, f"{partition.gallery}|{partition.pipeline_id}")
            self._ensure_state()
            self._call("load_collection", lambda: c.load_collection(name, timeout=self.slow))
            self._known.add(name)
        return name

    def _create(self, name: str, description: str) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, description=description[:255])
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        params = self.client.prepare_index_params()
        params.add_index(
            field_name="vector",
            index_type=self._index_type,
            metric_type="IP",
            params=self._index_params,
        )
        self._call(
            "create_collection",
            lambda: self.client.create_collection(
                name,
                schema=schema,
                index_params=params,
                consistency_level="Strong",
                timeout=self.slow,
            ),
        )

    def _ensure_state(self) -> None:
        from pymilvus import DataType, MilvusClient

        c = self.client
        if self._call("has_collection", lambda: c.has_collection(STATE, timeout=self.timeout)):
            self._call("load_collection", lambda: c.load_collection(STATE, timeout=self.slow))
            return
        schema = MilvusClient.create_schema(auto_id=False, description="mobileid index state")
        schema.add_field("name", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("applied", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires one
        params = c.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
        self._call(
            "create_collection",
            lambda: c.create_collection(
                STATE,
                schema=schema,
                index_params=params,
                consistency_level="Strong",
                timeout=self.slow,
            ),
        )
        self._call("load_collection", lambda: c.load_collection(STATE, timeout=self.slow))

    # --- the protocol ---------------------------------------------------------------------
    def applied(self, partition: Partition) -> int | None:
        name = self._ensure(partition)
        rows = self._call(
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
        self._call("upsert", lambda: self.client.upsert(STATE, [row], timeout=self.timeout))

    def apply(self, partition: Partition, upserts: Batch, removes: Ids, upto: int) -> None:
        upserts = check_batch(upserts, self.dim)
        name = self._ensure(partition)
        gone = np.unique(np.concatenate([np.asarray(removes, dtype=np.int64), upserts.ids]))
        if len(gone):
            ids = [int(i) for i in gone]
            self._call("delete", lambda: self.client.delete(name, ids=ids, timeout=self.timeout))
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
            self._call("insert", partial(self.client.insert, name, rows, timeout=self.timeout))

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
            self._call(
                "drop_collection", lambda: self.client.drop_collection(name, timeout=self.slow)
            )
            self._known.discard(name)
        name = self._ensure(partition)
        done = 0
        for raw in batches:
            batch = check_batch(raw, self.dim)
            self._insert(name, batch)
            done += len(batch.ids)
            if progress:
                progress(done, max(total, done))
        self._call("flush", lambda: self.client.flush(name, timeout=self.slow))
        self._set_applied(name, upto)

    @property
    def self_checking(self) -> bool:
        return False  # a Lite folder missing a data file still opens and claims every change

    def wants_rebuild(self, partition: Partition) -> bool:
        return False  # Milvus builds and merges its own segment indexes

    def search(self, partition: Partition, probe: npt.ArrayLike, k: int) -> list[VectorHit]:
        query, k = check_probe(probe, self.dim), check_k(k)
        name = self._ensure(partition)
        params = {"metric_type": "IP", "params": self._search_params}
        found = self._call(
            "search",
            lambda: self.client.search(
                name,
                data=[query[0].tolist()],
                limit=k,
                search_params=params,
                consistency_level=READS,
                timeout=self.timeout,
            ),
        )
        return [VectorHit(int(h["id"]), float(h["distance"])) for h in found[0]]

    def count(self, partition: Partition) -> int:
        name = self._ensure(partition)
        rows = self._call(
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
        self._ensure_state()
        with self._lock:
            self._call(
                "drop_collection", lambda: self.client.drop_collection(name, timeout=self.slow)
            )
            self._known.discard(name)
            self._call(
                "delete", lambda: self.client.delete(STATE, ids=[name], timeout=self.timeout)
            )

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            self._known.clear()
            self._call("close", client.close)


def check_uri(uri: str) -> str:
    if uri.startswith(("http://", "https://")) or uri.endswith(".db"):
        return uri
    raise InvalidArgument(
        f"MOBILEID_VECTOR_URI: expected http://HOST:PORT (a Milvus server) or a path ending "
        f"in .db (Milvus Lite), got {uri!r}",
        field="MOBILEID_VECTOR_URI",
    )
