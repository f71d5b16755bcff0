"""Record-source fixtures: every source test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``MOBILEID_TEST_POSTGRES_URL`` when set; otherwise a throwaway cluster is
created in a temporary folder and started on a free localhost port (installing the
``postgresql`` package with apt-get first when no ``initdb`` is found), and stopped at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from mobileid.records.model import RecordType
from mobileid.records.registry import SourceEntry
from mobileid.records.source import SqlRecordSource

ENGINES = ["sqlite", "postgresql"]


def _initdb() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]) if found else None


def _install_postgres() -> Path:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"could not install PostgreSQL ({' '.join(cmd)}): {done.stderr[-500:]}")
    initdb = _initdb()
    if initdb is None:
        pytest.fail("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb")
    return initdb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server whose ``postgres`` database tests may use."""
    configured = os.environ.get("MOBILEID_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    initdb = _initdb() or _install_postgres()
    bindir = initdb.parent
    base = Path(tempfile.mkdtemp(prefix="mobileid-pg-"))  # not under pytest's 0700 tmp
    data, sock, log = base / "data", base / "sock", base / "log"
    sock.mkdir()
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        for path in (base, sock):
            os.chown(path, pg.pw_uid, pg.pw_gid)
    port = free_port()
    run = lambda cmd: subprocess.run(_as_postgres(cmd), capture_output=True, text=True)  # noqa: E731
    done = run([str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stderr[-500:]}")
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    done = run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "start"])
    if done.returncode != 0:
        pytest.fail(f"pg_ctl start failed: {done.stderr[-500:]} {log.read_text()[-500:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A database of our own on the server for this session, dropped at the end."""
    name = "mobileid_test_" + uuid.uuid4().hex[:8]
    with psycopg.connect(_libpq(postgres_server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(_libpq(postgres_server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres(url: str) -> str:
    """The session database, emptied (much faster than a new database per test)."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


@pytest.fixture(params=ENGINES)
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty record-source URL on each engine in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.sqlite3'}"
    return empty_postgres(request.getfixturevalue("postgres_database"))


@pytest.fixture
def make_source(source_url: str) -> Iterator[Callable[[str], SqlRecordSource]]:
    """Opens sources on the parametrized engine and closes them after the test."""
    opened: list[SqlRecordSource] = []

    def make(name: str = "test") -> SqlRecordSource:
        source = SqlRecordSource(name, source_url, timeout_s=5.0)
        opened.append(source)
        return source

    yield make
    for source in opened:
        source.close()


def entry(name: str = "test", *types: RecordType) -> SourceEntry:
    return SourceEntry(
        name=name,
        agency="Test agency",
        legal_authority="test statute s.1",
        record_types=types or tuple(RecordType),
        retention="deleted after the test",
        entitlement=f"records.{name}",
    )
