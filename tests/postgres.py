"""A real PostgreSQL server for the tests, started once per test session.

PostgreSQL comes from ``MOBILEID_TEST_POSTGRES_URL`` when set; otherwise a throwaway cluster is
created in a temporary folder and started on a free localhost port (installing the
``postgresql`` package with apt-get first when no ``initdb`` is found), as the ``postgres``
user when the tests run as root, and stopped at the end. Tests get databases of their own on
it (``fresh_database``), so no state leaks from one test to the next.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.debian import apt_install, free_port

ENGINES = ["sqlite", "postgresql"]


def _initdb() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]) if found else None


def _install_postgres() -> Path:
    apt_install("postgresql")
    initdb = _initdb()
    if initdb is None:
        pytest.fail("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb")
    return initdb


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_server(password: str | None = None) -> Iterator[str]:
    """Start a cluster, yield its libpq URL (database ``postgres``), stop it afterwards. With
    ``password``, connections over TCP must give a password (SCRAM), the ``postgres`` user's
    being ``password``, and the cluster is always one of our own."""
    configured = os.environ.get("MOBILEID_TEST_POSTGRES_URL")
    if configured and password is None:
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
    auth = ["-A", "trust"]
    if password is not None:
        pwfile = base / "pw"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    done = run([str(initdb), "-D", str(data), *auth, "-U", "postgres", "--no-sync"])
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stderr[-500:]}")
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    done = run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "start"])
    if done.returncode != 0:
        pytest.fail(f"pg_ctl start failed: {done.stderr[-500:]} {log.read_text()[-500:]}")
    try:
        user = "postgres" if password is None else f"postgres:{password}"
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(server: str) -> str:
    """A new, empty database on ``server``; returns its URL."""
    name = "mobileid_test_" + uuid.uuid4().hex[:10]
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(libpq(server + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres(url: str) -> str:
    """The session database, emptied (much faster than a new database per test)."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url
