"""Talking to Milvus through pymilvus's ``MilvusClient``: one client, every request under a
time limit, every failure of the server a BackendUnavailable, and the two kinds of collection
mobileid creates (a partition's vectors; the state collection that remembers, per partition,
the last change-log sequence applied).

Every call carries a time limit, given to each request (pymilvus bounds its retries by it;
without one it retries up to 75 times with back-off, over a minute): a server that is down or
slow raises BackendUnavailable, never hangs. A Milvus server (not Lite, a local folder) that
let a call wait out its whole limit opens the process's circuit breaker for its URI
(``mobileid.breaker``): requests fail at once until the cool-down ends. A failure that came
sooner is an answer (the server is there) and closes it. pymilvus's errors cannot tell a
vanished host from a query too slow for the limit, so a call that ran out its limit counts
as unanswered either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from mobileid.breaker import Breaker, breaker_for
from mobileid.errors import BackendUnavailable, InvalidArgument

STATE = "mobileid_state"
SLOW_S = 60.0
T = TypeVar("T")
# A Milvus Lite folder that cannot be read holds nothing that SQL does not: say how to recover.
LITE_HINT = " (Milvus Lite's folder is derived from the database: moved away, it is rebuilt)"


class MilvusCalls:
    """A connection to Milvus at ``uri`` whose requests are bounded by ``timeout`` seconds
    (collection changes by ``slow``, at least ``SLOW_S``)."""

    def __init__(self, uri: str, timeout: float) -> None:
        self.uri, self.timeout = uri, timeout
        # Creating, loading, flushing or dropping a collection moves segments on the server
        # and takes seconds on a busy one: bounded, but more loosely than a search.
        self.slow = max(timeout, SLOW_S)
        self._client: Any = None
        self._breaker: Breaker | None = (
            breaker_for(uri, uri) if uri.startswith(("http://", "https://")) else None
        )

    @property
    def client(self) -> Any:
        """The pymilvus client, connected again after ``close``."""
        if self._client is None:
            self._client = self.call("connect", self._connect)
        return self._client

    def _connect(self) -> Any:
        from pymilvus import MilvusClient

        return MilvusClient(self.uri, timeout=self.timeout)

    def call(
        self, what: str, fn: Callable[[], T], *, guarded: bool = True, slow: bool = False
    ) -> T:
        """Run one request; a failure of the server becomes BackendUnavailable naming it.
        ``guarded`` (all but closing the client): refused at once while the breaker is open.
        ``slow``: a collection change, bounded by ``self.slow`` instead of ``self.timeout``."""
        # pymilvus's transport: a request past its deadline comes out as grpc's own error
        from grpc import RpcError  # type: ignore[import-untyped]
        from pymilvus.exceptions import MilvusException

        breaker = self._breaker if guarded else None
        if breaker is not None:
            breaker.admit()
        start = time.monotonic()
        try:
            answer = fn()
        except InvalidArgument:
            raise
        except (MilvusException, RpcError, OSError, TimeoutError, RuntimeError) as e:
            lite = "" if self.uri.startswith("http") else LITE_HINT
            error = BackendUnavailable(
                f"vector index: expected Milvus at {self.uri} to answer {what} within "
                f"{self.timeout:g} s (MOBILEID_VECTOR_TIMEOUT_S; {self.slow:g} s for collection "
                f"changes), got {type(e).__name__}: {e}{lite}",
                field="vector_uri",
            )
            if breaker is not None:
                self._tell(
                    breaker, time.monotonic() - start, self.slow if slow else self.timeout, error
                )
            raise error from None
        if breaker is not None:
            breaker.answered()
        return answer

    def _tell(self, breaker: Breaker, took: float, bound: float, error: BackendUnavailable) -> None:
        # Silence is a call that ran out its own bound (0.9: pymilvus ends its retries a
        # little before the deadline it was given); an error sooner is an answer.
        if took >= 0.9 * bound:
            breaker.failed(error)
        else:
            breaker.answered()

    def has(self, name: str) -> bool:
        c = self.client
        return bool(
            self.call("has_collection", lambda: c.has_collection(name, timeout=self.timeout))
        )

    def load(self, name: str) -> None:
        c = self.client
        self.call("load_collection", lambda: c.load_collection(name, timeout=self.slow), slow=True)

    def drop(self, name: str) -> None:
        c = self.client
        self.call("drop_collection", lambda: c.drop_collection(name, timeout=self.slow), slow=True)

    def create_vectors(
        self, name: str, description: str, dim: int, index_type: str, params: dict[str, Any]
    ) -> None:
        """A partition's collection: int64 ids and ``dim`` floats, searched by inner product."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, description=description[:255])
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=params)
        self._create(name, schema, index)

    def ensure_state(self) -> None:
        """The state collection, created when missing, and loaded."""
        from pymilvus import DataType, MilvusClient

        if not self.has(STATE):
            schema = MilvusClient.create_schema(auto_id=False, description="mobileid index state")
            schema.add_field("name", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("applied", DataType.INT64)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires one
            index = self.client.prepare_index_params()
            index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
            self._create(STATE, schema, index)
        self.load(STATE)

    def _create(self, name: str, schema: Any, index: Any) -> None:
        c = self.client
        self.call(
            "create_collection",
            lambda: c.create_collection(
                name,
                schema=schema,
                index_params=index,
                consistency_level="Strong",
                timeout=self.slow,
            ),
            slow=True,
        )

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            self.call("close", client.close, guarded=False)


def check_uri(uri: str) -> str:
    if uri.startswith(("http://", "https://")) or uri.endswith(".db"):
        return uri
    raise InvalidArgument(
        f"MOBILEID_VECTOR_URI: expected http://HOST:PORT (a Milvus server) or a path ending "
        f"in .db (Milvus Lite), got {uri!r}",
        field="MOBILEID_VECTOR_URI",
    )
