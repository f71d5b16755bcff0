"""Migration m0007 at size: how long upgrading a database of N face embeddings from m0006 to
m0007 (the index on face_embeddings (gallery, pipeline_id, id)) takes, on SQLite and on
PostgreSQL, through Alembic as mobileid runs it when it opens a database.

For each size, a new database is brought to m0006 by the shipped migrations, filled with N
embedding rows as mobileid stores them (4 galleries in blocks, one pipeline, 540-byte sealed
vectors, one subject per 4 rows; loaded with executemany on SQLite, COPY on PostgreSQL,
untimed), then ``schema.upgrade(engine, "m0007")`` is timed. The 10M figure is extrapolated
from the largest size as n log n (an index build sorts its keys); the exponent the two
largest sizes fit is printed beside it. PostgreSQL's cluster is a throwaway one started
like the tests' (a free port).

    python bench/bench_migration.py                          # 250,000 and 1,000,000 rows
    python bench/bench_migration.py --sizes 100000,1000000 --engines sqlite

Wall times depend on what else the shared 2-core machine is doing: the load average is
printed beside each, and this process's CPU seconds (all of SQLite's work; none of the
PostgreSQL server's).
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine

from bench_common import Section, log, render, single
from mobileid.database import open_engine, release_engine, sqlite_url
from mobileid.database.schema import current_revision, upgrade

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL cluster the tests use

from tests.postgres import Cluster, create_database, drop_database  # noqa: E402

PID = "bench-pipeline/1"
GALLERIES = 4
PER_SUBJECT = 4
BLOBS = [secrets.token_bytes(540) for _ in range(1024)]  # nonce + sealed 512 B + tag
CHUNK = 50_000
NOW = "2026-11-30T00:00:00+00:00"


def _subjects(n: int) -> Iterator[tuple[object, ...]]:
    for s in range(math.ceil(n / PER_SUBJECT)):
        yield (f"s{s:031d}", _gallery(s * PER_SUBJECT, n), f"r{s}", f"N{s}", "bench", NOW)


def _embeddings(n: int) -> Iterator[tuple[object, ...]]:
    for i in range(n):
        sha = f"{i:064x}"
        yield (i + 1, f"s{i // PER_SUBJECT:031d}", _gallery(i, n), PID, sha, BLOBS[i % 1024],
               "k" * 16, NOW)  # fmt: skip


def _gallery(i: int, n: int) -> str:
    return f"g{i * GALLERIES // n}"


_SUBJECT_COLS = "subject_id, gallery, reference, name, source, created_at"
_EMBED_COLS = "id, subject_id, gallery, pipeline_id, image_sha256, vector, key_id, created_at"


def _load(engine: Engine, n: int) -> None:
    """N embedding rows (and their subjects), not timed."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for table, cols, rows in (
                ("subjects", _SUBJECT_COLS, _subjects(n)),
                ("face_embeddings", _EMBED_COLS, _embeddings(n)),
            ):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        raw = conn.connection.driver_connection
        for table, cols, rows in (
            ("subjects", _SUBJECT_COLS, _subjects(n)),
            ("face_embeddings", _EMBED_COLS, _embeddings(n)),
        ):
            marks = ", ".join("?" * len(cols.split(",")))
            raw.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # type: ignore[union-attr]


def _timed(url: str, n: int) -> tuple[float, float, float]:
    """(wall s, CPU s, load) of the upgrade m0006 -> m0007 of a database of ``n`` rows."""
    engine = open_engine(url, timeout_s=3600)  # the load is one long COPY
    try:
        upgrade(engine, "m0006")
        _load(engine, n)
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        upgrade(engine, "m0007")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert current_revision(engine) == "m0007"
        return wall, cpu, max(load, os.getloadavg()[0])
    finally:
        release_engine(engine)


def _engine_runs(name: str, sizes: list[int], section: Section, tmp: Path) -> None:
    cluster = Cluster() if name == "postgresql" else None
    try:
        walls = []
        for n in sizes:
            if cluster is not None:
                url = create_database(cluster.url)
            else:
                url = sqlite_url(tmp / f"m{n}.sqlite3")
            log(f"{name}: loading {n:,} rows")
            wall, cpu, load = _timed(url, n)
            walls.append(wall)
            section.figures.append(single(f"{name}, {n:,} rows: upgrade to m0007", "s", wall))
            section.notes[f"{name}, {n:,} rows"] = (
                f"CPU {cpu:.1f} s (this process), load {load:.2f}"
            )
            if cluster is not None:
                drop_database(url)
            else:
                (tmp / f"m{n}.sqlite3").unlink()
        if len(sizes) >= 2:
            (n1, n2), (w1, w2) = sizes[-2:], walls[-2:]
            power = math.log(w2 / w1) / math.log(n2 / n1)
            # n log n (a sort) from the largest size: never below linear, whatever the fit
            at10m = w2 * (10_000_000 / n2) * math.log(10_000_000) / math.log(n2)
            section.figures.append(single(f"{name}, 10,000,000 rows (n log n)", "s", at10m))
            section.notes[f"{name}, fitted exponent"] = (
                f"{power:.2f} between {n1:,} and {n2:,} rows (time ~ rows^p)"
            )
    finally:
        if cluster is not None:
            cluster.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    section = Section(
        "migration m0006 -> m0007 (index on face_embeddings (gallery, pipeline_id, id))"
    )
    with tempfile.TemporaryDirectory(prefix="bench-migration-") as tmp:
        for name in args.engines.split(","):
            _engine_runs(name, sizes, section, Path(tmp))
    print(render([section]))


if __name__ == "__main__":
    main()
