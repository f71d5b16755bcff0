"""The first-use check of an index that cannot check itself, on Milvus Lite at size.

Writes ``--size`` synthetic faces (default 100,000) through the store's bulk enrolment into
SQLite, builds their Milvus Lite folder from SQL, then, ``--runs`` times, opens the gallery
as a new process would and times its first catch-up, which compares the index with SQL
(``gallery/index_check.py``), and each part of it: the count (SQL's rows and newest change
number, then the index's count), the sample read from SQL and opened, the sample read back by
id from the index (``fetch``) and searched for (``search_many``). A plain search is timed
beside it. Target: the sample's comparison, what the check adds to the count, well under a
second (p50 <= 500 ms on the shared 2 cores; its CPU time is printed beside).

Then, once, the full comparison on demand (``mobileid admin check-index``,
``gallery/full_check.py``): every row read back by id, 1000 a request; with ``--full-search``
also searched for (about one search a row: minutes at 100,000).

Wall times depend on what else the 2-core machine is doing: the load average is printed, and
every figure has its CPU seconds (this process's, ``time.process_time``) beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bench_common import Section, latency, log, render, single, synthetic_gallery
from mobileid.gallery import changes, index_check
from mobileid.gallery.bulk import EnrolBatch
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.milvus_index import MilvusVectorIndex
from mobileid.gallery.vectors import Partition

PID = "bench-pipeline/1"
KEY = bytes(range(32))
_BATCH = 10_000


def _open(root: Path) -> EmbeddedGallery:
    index = MilvusVectorIndex(str(root / "v.db"), timeout=60.0)
    return EmbeddedGallery(root / "g.sqlite3", root / "index", key=KEY, vectors=index)


def _build(root: Path, n: int) -> float:
    vectors = synthetic_gallery(n)
    g = _open(root)
    start = time.perf_counter()
    for at in range(0, n, _BATCH):
        rows = range(at, min(n, at + _BATCH))
        g.enrol_many(
            "bench",
            [
                EnrolBatch(
                    references=[f"r{i}" for i in rows],
                    names=[f"N{i}" for i in rows],
                    image_sha256s=[f"sha{i}" for i in rows],
                    vectors=vectors[at : rows.stop],
                    source="bench",
                )
            ],
            PID,
        )
    log(f"enrolled {n:,} in {time.perf_counter() - start:.1f} s; building the Lite folder")
    assert g.catch_up("bench", PID) == n
    g.close()
    return time.perf_counter() - start


class _Clock:
    """Wall and CPU seconds of each named step."""

    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        self.times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return out


def _one_run(root: Path, probe: Any) -> dict[str, tuple[float, float]]:
    """One new process's first use: every part of the comparison timed."""
    part = Partition("bench", PID)
    g = _open(root)
    try:
        g.vectors.applied(part)  # opening and loading the collection: before any check
        sync, index, clock = g.sync, g.vectors, _Clock()
        assert isinstance(index, MilvusVectorIndex)
        clock("first catch-up, all of it", lambda: sync.catch_up(part))  # first: cold
        clock("count: SQL", lambda: _sql_count(g, part))
        clock("count: index", lambda: index.count(part))
        clock("sample compared, all of it", lambda: _compared(g, index, part))
        truth = clock("sample: SQL", lambda: _sample(g, part))
        clock("sample: fetch by id", lambda: index.fetch(part, truth.ids))
        clock("sample: search_many", lambda: index.search_many(part, truth.vectors, 1))
        clock("a search (index + SQL re-rank)", lambda: sync.search(part, probe, 10))
        return clock.times
    finally:
        g.close()


def _sql_count(g: EmbeddedGallery, part: Partition) -> tuple[int, int]:
    with g.engine.connect() as conn:
        return changes.latest_and_rows(conn, part)


def _sample(g: EmbeddedGallery, part: Partition) -> Any:
    with Session(g.engine) as s:
        return g.sync.load(s, part, index_check.sample_ids(s, part, random.Random()))


def _compared(g: EmbeddedGallery, index: MilvusVectorIndex, part: Partition) -> str | None:
    """The comparison the first catch-up adds to the count (what ``VectorSync`` runs)."""
    return index_check.differences(index, part, _sample(g, part), lambda ids: ids)


def _full(root: Path, search: bool) -> tuple[float, float]:
    """Wall and CPU seconds of a full check of the partition (rebuilding nothing)."""
    from mobileid.gallery.full_check import check_partition

    g = _open(root)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = check_partition(g.sync, Partition("bench", PID), batch=1000, search=search)
        assert report.agrees, report.differences()
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        g.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--full-search", action="store_true", help="time check-index --search too")
    args = ap.parse_args(argv)
    section = Section(f"index check on first use, Milvus Lite, {args.size:,} faces")
    with tempfile.TemporaryDirectory(prefix="bench-index-check-") as tmp:
        root = Path(tmp)
        log(f"writing {args.size:,} faces; load {os.getloadavg()[0]:.2f}")
        section.figures.append(
            single("enrol into SQLite + build Lite", "s", _build(root, args.size))
        )
        probe = synthetic_gallery(args.size)[12_345 % args.size]
        runs = []
        for r in range(args.runs):
            runs.append(_one_run(root, probe))
            log(f"run {r + 1}: load {os.getloadavg()[0]:.2f}")
        for search in (False, True) if args.full_search else (False,):
            name = "full check (check-index" + (" --search)" if search else ")")
            wall, cpu = _full(root, search)
            section.figures.append(single(name, "s", wall))
            section.notes[f"CPU, {name}"] = f"{cpu:.1f} s at load {os.getloadavg()[0]:.2f}"
    target = {"sample compared, all of it": 500.0}
    for name in runs[0]:
        section.figures.append(
            latency(name, [t[name][0] for t in runs], target_p50_ms=target.get(name))
        )
        cpu = np.median([t[name][1] for t in runs]) * 1000.0
        section.notes[f"CPU, {name}"] = f"{cpu:.1f} ms (median)"
    section.notes["sample"] = f"{index_check.SPREAD} spread + {index_check.NEWEST} newest ids"
    section.notes["load average (1 min) at the end"] = f"{os.getloadavg()[0]:.2f}"
    print(render([section]))
    if args.json:
        args.json.write_text(json.dumps(section.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
