"""Record-source benchmark: exact key lookups, fuzzy name search and the seven-source fan-out,
on SQLite and PostgreSQL, with synthetic data (every record marked synthetic).

Each source holds SIZE persons and SIZE vehicles (each vehicle linked to an owner). The same
generated data is loaded into seven sources per engine. PostgreSQL is taken from
``--postgres-url`` or ``MOBILEID_TEST_POSTGRES_URL``, else a throwaway cluster is started (as
the tests do) and removed afterwards.

    python bench/bench_records.py                 # 100k persons + 100k vehicles per source
    python bench/bench_records.py --size 1000000  # the issue's size (takes far longer)
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
from faker.providers.person.en_US import Provider as Names
from sqlalchemy import text

from bench_common import Section, latency, log, render, single
from mobileid.records import normalise as norm
from mobileid.records.model import Link, LinkKind, PersonRecord, Record, VehicleRecord
from mobileid.records.query import make_query
from mobileid.records.source import SqlRecordSource
from mobileid.service.super_query import SourceState, super_query

SOURCES = 7
EXACT_MS, FUZZY_MS, FANOUT_MS = 20.0, 300.0, 400.0
_ALNUM = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_BATCH = 50_000


def make_data(size: int, seed: int) -> tuple[list[PersonRecord], list[VehicleRecord], list[Link]]:
    rng = random.Random(seed)
    firsts = rng.choices(list(Names.first_names), weights=list(Names.first_names.values()), k=size)
    lasts = rng.choices(list(Names.last_names), weights=list(Names.last_names.values()), k=size)
    base = date(1940, 1, 1)
    persons = [
        PersonRecord(
            f"SYN-P-{i:08d}",
            f"{f} {ln}",
            dob=base + timedelta(days=rng.randrange(25_000)),
            synthetic=True,
        )
        for i, (f, ln) in enumerate(zip(firsts, lasts, strict=True))
    ]
    vehicles, links = [], []
    for i in range(size):
        vin = [rng.choice(_ALNUM) for _ in range(17)]
        vin[8] = norm.vin_check_digit("".join([*vin[:8], "0", *vin[9:]]))
        owner = persons[rng.randrange(size)]
        plate = f"SYN{i:07X}"[-10:]
        vehicles.append(
            VehicleRecord(
                f"SYN-V-{i:08d}",
                plate,
                "CA",
                "".join(vin),
                "Ford",
                "Focus",
                owner.name,
                synthetic=True,
            )
        )
        links.append(Link(LinkKind.OWNER, owner.record_id, f"SYN-V-{i:08d}"))
    return persons, vehicles, links


def load(
    source: SqlRecordSource,
    persons: list[PersonRecord],
    vehicles: list[VehicleRecord],
    links: list[Link],
) -> None:
    source.migrate()
    items: list[Record] = [*persons, *vehicles]
    for start in range(0, len(items), _BATCH):
        source.add(items[start : start + _BATCH])
    for start in range(0, len(links), _BATCH):
        source.add([], links[start : start + _BATCH])
    with source.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary folder on a free port (as tests/records does)."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        raise SystemExit(
            "no PostgreSQL: install it (apt-get install postgresql) or pass --postgres-url"
        )
    bindir = Path(initdb[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="mobileid-bench-pg-"))
    root = os.geteuid() == 0
    as_pg = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        shutil.chown(base, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    subprocess.run(
        [*as_pg, str(initdb[-1]), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=512MB"
    ctl = [*as_pg, str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*ctl, "-o", opts, "-l", str(base / "log"), "-w", "start"], check=True, capture_output=True
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def clone(src_url: str, dst_url: str) -> None:
    if src_url.startswith("sqlite:///"):
        shutil.copyfile(src_url[len("sqlite:///") :], dst_url[len("sqlite:///") :])
        return
    server, src, dst = (
        src_url.rsplit("/", 1)[0] + "/postgres",
        src_url.rsplit("/", 1)[1],
        dst_url.rsplit("/", 1)[1],
    )
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dst}"')
        conn.execute(f'CREATE DATABASE "{dst}" TEMPLATE "{src}"')


def pg_databases(server: str, n: int) -> list[str]:
    names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(n)]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{names[0]}"')  # the others are copies of it
    return [server.rsplit("/", 1)[0] + "/" + name for name in names]


def typo(name: str, rng: random.Random) -> str:
    """One letter of the given name changed (not the first: the block keeps its initial)."""
    first, last = name.split(" ", 1)
    if len(first) < 3:
        return name
    i = rng.randrange(1, len(first))
    return f"{first[:i]}{rng.choice('aeiou')}{first[i + 1 :]} {last}"


def measure(engine: str, urls: list[str], data: tuple, runs: int, seed: int) -> Section:
    """Load the first source, copy it to the other six (a file copy for SQLite, CREATE
    DATABASE ... TEMPLATE for PostgreSQL: loading seven times only measures the load again),
    then time lookups on one source and fan-outs over all seven."""
    persons, vehicles, links = data
    first = SqlRecordSource("src0", urls[0], timeout_s=30)
    t0 = time.perf_counter()
    load(first, persons, vehicles, links)
    load_s = time.perf_counter() - t0
    first.close()
    log(f"{engine}: loaded one source in {load_s:.0f} s; copying it to {SOURCES - 1} more")
    for url in urls[1:]:
        clone(urls[0], url)
    sources = {
        f"src{i}": SqlRecordSource(f"src{i}", url, timeout_s=30) for i, url in enumerate(urls)
    }
    rng = random.Random(seed)
    one = sources["src0"]
    exact: list[float] = []
    fuzzy: list[float] = []
    fan_name: list[float] = []
    fan_plate: list[float] = []
    for _ in range(runs):
        v = vehicles[rng.randrange(len(vehicles))]
        q = make_query(plate=v.plate) if rng.random() < 0.5 else make_query(vin=v.vin)
        t = time.perf_counter()
        hits = one.search(q)
        exact.append(time.perf_counter() - t)
        assert hits and hits[0].record.record_id == v.record_id
    for _ in range(runs):
        p = persons[rng.randrange(len(persons))]
        q = make_query(name=typo(p.name, rng))
        t = time.perf_counter()
        one.search(q)
        fuzzy.append(time.perf_counter() - t)
    everyone = list(sources)
    for _ in range(max(10, runs // 4)):
        p = persons[rng.randrange(len(persons))]
        v = vehicles[rng.randrange(len(vehicles))]
        for bucket, q in (
            (fan_name, make_query(name=p.name, dob=str(p.dob))),
            (fan_plate, make_query(plate=v.plate)),
        ):
            t = time.perf_counter()
            result = super_query(q, sources, everyone, timeout_s=10)
            bucket.append(time.perf_counter() - t)
            assert all(o.state is SourceState.ANSWERED for o in result.sources), result.sources
    for source in sources.values():
        source.close()
    section = Section(
        f"{engine}: {SOURCES} sources x ({len(persons):,} persons + {len(vehicles):,} vehicles)"
    )
    section.figures += [
        latency("exact key (plate or VIN, + owner hop)", exact, target_p50_ms=EXACT_MS),
        latency("fuzzy name (one typo), one source", fuzzy, target_p50_ms=FUZZY_MS),
        latency("fan-out x7: name + DOB", fan_name, target_p50_ms=FANOUT_MS),
        latency("fan-out x7: plate", fan_plate, target_p50_ms=FANOUT_MS),
        single("load one source (records/s)", "rec/s", (len(persons) + len(vehicles)) / load_s),
    ]
    return section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="persons (and vehicles) per source")
    ap.add_argument("--runs", type=int, default=100, help="queries per single-source measure")
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--postgres-url", default=os.environ.get("MOBILEID_TEST_POSTGRES_URL", ""))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    log(f"generating {args.size:,} synthetic persons and vehicles")
    data = make_data(args.size, args.seed)
    sections = []
    if "sqlite" in args.engines:
        with tempfile.TemporaryDirectory(prefix="mobileid-bench-") as tmp:
            urls = [f"sqlite:///{tmp}/src{i}.sqlite3" for i in range(SOURCES)]
            sections.append(measure("SQLite", urls, data, args.runs, args.seed))
    if "postgresql" in args.engines:
        if args.postgres_url:
            sections.append(
                measure(
                    "PostgreSQL",
                    pg_databases(args.postgres_url, SOURCES),
                    data,
                    args.runs,
                    args.seed,
                )
            )
        else:
            with throwaway_postgres() as server:
                sections.append(
                    measure("PostgreSQL", pg_databases(server, SOURCES), data, args.runs, args.seed)
                )
    print(render(sections))
    print(f"cores: {os.cpu_count()}; synthetic data only")


if __name__ == "__main__":
    main()
