"""Counting a partition's embedding rows in SQL for the once-per-process check of an index
that is not self-checking (a Milvus server or Milvus Lite folder), without failing or
holding up searches when the count is slow.

The count reads every row of the partition: at millions of rows on PostgreSQL, just after a
bulk load and before autovacuum has set the visibility map, it takes longer than the
statement limit that bounds each request (5.6 s at 1M rows, cold). So each count runs in a
thread of its own under a limit of its own (``COUNT_LIMIT_S``); the search that starts it
waits for it at most ``wait_s`` (a small gallery's count ends well within that, and the
check then happens before the search, as it always did), and searches meanwhile neither fail
nor wait: they use the index as it is, and their hits are still checked against SQL. A count
that ends later is handed to ``late`` from its thread, which compares and rebuilds there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from mobileid.database.deadline import limited
from mobileid.gallery import changes
from mobileid.gallery.vectors import Partition

log = logging.getLogger("mobileid.gallery")

# How long the search that starts a count waits for it before going on without it.
WAIT_S = 2.0
# The count's own statement limit: far past a request's, yet a bound (a cold count of 10M
# rows was estimated at about a minute from 5.6 s at 1M).
COUNT_LIMIT_S = 600.0

Late = Callable[[Partition, int, int], None]


@dataclass
class _Count:
    """One count in flight. The search that started it takes the result if it ends while
    the search waits; otherwise the count's thread acts on it. Both decide under ``guard``,
    so exactly one of them does."""

    done: threading.Event = field(default_factory=threading.Event)
    waiting: bool = True
    result: tuple[int, int] | None = None
    error: Exception | None = None
    guard: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None


class RowCounts:
    """Counts of partitions' rows in ``engine``'s database, at most one in flight each."""

    def __init__(self, engine: Engine, wait_s: float = WAIT_S) -> None:
        self.engine, self.wait_s = engine, wait_s
        self._guard = threading.Lock()
        self._counting: dict[Partition, _Count] = {}

    def latest_and_rows(self, partition: Partition, late: Late) -> tuple[int, int] | None:
        """The partition's newest change sequence and its row count, as of one moment, if a
        count started now ends within ``wait_s`` (its error raised if it failed); None when
        it is still running or one started earlier is: ``late(partition, seq, rows)`` then
        gets the result from the count's thread."""
        with self._guard:
            if partition in self._counting:
                return None  # a search before this one started it and went on: so does this
            count = self._counting[partition] = _Count()
            count.thread = threading.Thread(
                target=self._run, args=(partition, count, late), name=f"count-{partition.key}"
            )
            count.thread.daemon = True
        count.thread.start()
        count.done.wait(self.wait_s)
        with count.guard:
            count.waiting = False
            if not count.done.is_set():
                return None
        self._forget(partition)
        if count.error is not None:
            raise count.error
        return count.result

    def counting(self, partition: Partition) -> bool:
        """Whether a count of ``partition`` is in flight."""
        with self._guard:
            return partition in self._counting

    def join(self) -> None:
        """Wait for every count in flight (closing the gallery)."""
        with self._guard:
            threads = [c.thread for c in self._counting.values() if c.thread is not None]
        for thread in threads:
            thread.join()

    def _run(self, partition: Partition, count: _Count, late: Late) -> None:
        try:
            with self.engine.connect() as conn, conn.begin(), limited(conn, COUNT_LIMIT_S):
                count.result = changes.latest_and_rows(conn, partition)
        except Exception as exc:  # for whoever claims it: raised to a search, or logged
            count.error = exc
        with count.guard:
            count.done.set()
            if count.waiting:
                return  # the search that started it takes the result
        try:
            if count.result is None:
                log.warning("counting %s against SQL failed: %s", partition.key, count.error)
            else:
                late(partition, *count.result)
        except Exception as exc:  # a thread has nobody to raise to; the next search counts
            log.warning("checking %s against SQL failed: %s", partition.key, exc)
        finally:
            self._forget(partition)  # only now: ``join`` waits for what ``late`` started

    def _forget(self, partition: Partition) -> None:
        with self._guard:
            self._counting.pop(partition, None)
