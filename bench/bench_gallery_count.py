"""The once-per-process count of a Milvus gallery's partition against SQL, at size on
PostgreSQL, before autovacuum: how long it takes, what it did to the first search when it
ran under the request's statement limit, and what it does now (``gallery/row_count.py``).

A throwaway cluster is started (as the tests do); two partitions of ``--rows`` embedding rows
each are written straight into the table with autovacuum off for it (a bulk load that
autovacuum has not reached yet: no visibility map, no hint bits). Then, each on a partition
nobody has read yet:

* ``inline``: the count as a search ran it before, under the engine's limit
  (``--timeout-s``, the default 10 s): its time, or the BackendUnavailable it ended with;
* ``row_count``: the count as a search starts it now: how long the search waited for it,
  and when its own thread finished it.

Then the same count again (hint bits set) and after VACUUM (an index-only scan).

    python bench/bench_gallery_count.py --rows 3000000
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench_common import Section, log, render, single
from mobileid.database import close_database, open_database
from mobileid.database.deadline import unbounded
from mobileid.errors import BackendUnavailable
from mobileid.gallery import changes
from mobileid.gallery.row_count import RowCounts
from mobileid.gallery.vectors import Partition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL cluster the tests use

from tests.postgres import Cluster, create_database, libpq  # noqa: E402

PID = "bench/1"
_LOAD = """
INSERT INTO face_embeddings (subject_id, gallery, pipeline_id, image_sha256, vector, key_id,
                             created_at)
SELECT 's0', CAST(:gallery AS text), :pid, md5(CAST(:gallery AS text) || i::text),
       decode(repeat('ab', 556), 'hex'), 'k', '2026-01-01T00:00:00'
FROM generate_series(1, :n) AS i
"""


def _load(engine: Engine, galleries: list[str], n: int) -> float:
    start = time.perf_counter()
    with engine.begin() as conn, unbounded(conn):
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        conn.exec_driver_sql("ALTER TABLE face_embeddings SET (autovacuum_enabled = false)")
        conn.execute(
            text(
                "INSERT INTO subjects (subject_id, gallery, name, reference, source, created_at)"
                " VALUES ('s0', :g, 'S', 'r', 'bench', '2026-01-01T00:00:00')"
            ),
            {"g": galleries[0]},
        )
        for g in galleries:
            conn.execute(text(_LOAD), {"gallery": g, "pid": PID, "n": n})
            log(f"loaded {n:,} rows into {g}")
    return time.perf_counter() - start


def _inline(engine: Engine, partition: Partition) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        with engine.connect() as conn:
            rows = changes.latest_and_rows(conn, partition)[1]
        return time.perf_counter() - start, f"{rows:,} rows"
    except BackendUnavailable as exc:
        got = str(exc).split(", got ", 1)[-1].split(" (", 1)[0]
        return time.perf_counter() - start, f"BackendUnavailable: {got}"


def _in_thread(engine: Engine, partition: Partition) -> tuple[float, float]:
    """(how long the search waited, when the count's thread finished)."""
    finished = threading.Event()
    start = time.perf_counter()
    counted = RowCounts(engine).latest_and_rows(partition, lambda *_: finished.set())
    waited = time.perf_counter() - start
    if counted is None:
        finished.wait()
    return waited, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--timeout-s", type=float, default=10.0)
    args = parser.parse_args()
    cluster = Cluster()
    figures, notes = [], {}
    try:
        url = create_database(cluster.url)
        engine = open_database(url, timeout_s=args.timeout_s)
        a, b = Partition("a", PID), Partition("b", PID)
        figures.append(
            single(f"load 2 x {args.rows:,} rows", "s", _load(engine, ["a", "b"], args.rows))
        )
        load = os.getloadavg()[0]
        took, what = _inline(engine, a)
        figures.append(single("inline count, first (before)", "s", took))
        notes["inline count, first"] = what
        waited, finished = _in_thread(engine, b)
        figures.append(single("search waited for the count (now)", "s", waited))
        figures.append(single("count's thread finished (now)", "s", finished))
        took, notes["inline count, again"] = _inline(engine, a)
        figures.append(single("inline count, again", "s", took))
        with psycopg.connect(libpq(url), autocommit=True) as raw:  # no limit, not pooled
            raw.execute("VACUUM face_embeddings")
        took, notes["inline count, after VACUUM"] = _inline(engine, b)
        figures.append(single("inline count, after VACUUM", "s", took))
        notes["load average (1 min, before / after)"] = f"{load:.2f} / {os.getloadavg()[0]:.2f}"
        notes["statement limit s"] = args.timeout_s
        close_database(engine)
    finally:
        cluster.remove()
    print(
        render(
            [Section(f"Gallery count against SQL, PostgreSQL, {args.rows:,} rows", figures, notes)]
        )
    )


if __name__ == "__main__":
    main()
