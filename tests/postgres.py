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


class Cluster:
    """A throwaway PostgreSQL cluster of our own, in a temporary folder, listening on a free
    localhost port: ``stop`` and ``start`` it as an operator would (``pg_ctl``, as the
    ``postgres`` user when the tests run as root); ``remove`` stops it and deletes it."""

    def __init__(self, password: str | None = None) -> None:
        initdb = _initdb() or _install_postgres()
        self._pg_ctl = str(initdb.parent / "pg_ctl")
        self._base = Path(tempfile.mkdtemp(prefix="mobileid-pg-"))  # not under pytest's 0700 tmp
        self._data, sock, self._log = self._base / "data", self._base / "sock", self._base / "log"
        sock.mkdir()
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for path in (self._base, sock):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        port = free_port()
        auth = ["-A", "trust"]
        if password is not None:
            pwfile = self._base / "pw"
            pwfile.write_text(password)
            if os.geteuid() == 0:
                os.chown(pwfile, pg.pw_uid, pg.pw_gid)
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        done = _run([str(initdb), "-D", str(self._data), *auth, "-U", "postgres", "--no-sync"])
        if done.returncode != 0:
            shutil.rmtree(self._base, ignore_errors=True)
            pytest.fail(f"initdb failed: {done.stderr[-500:]}")
        self._opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        user = "postgres" if password is None else f"postgres:{password}"
        self.url = f"postgresql://{user}@127.0.0.1:{port}/postgres"
        self.running = False
        try:
            self.start()
        except BaseException:
            shutil.rmtree(self._base, ignore_errors=True)
            raise

    def start(self) -> None:
        """``pg_ctl start``, returning once the server accepts connections."""
        log = str(self._log)
        done = _run(
            [self._pg_ctl, "-D", str(self._data), "-o", self._opts, "-l", log, "-w", "start"]
        )
        if done.returncode != 0:
            pytest.fail(f"pg_ctl start failed: {done.stderr[-500:]} {self._log.read_text()[-500:]}")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``, returning once the server has stopped."""
        done = _run([self._pg_ctl, "-D", str(self._data), "-m", mode, "-w", "stop"])
        if done.returncode != 0:
            pytest.fail(f"pg_ctl stop failed: {done.stderr[-500:]}")
        self.running = False

    def remove(self) -> None:
        _run([self._pg_ctl, "-D", str(self._data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self._base, ignore_errors=True)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_postgres(cmd), capture_output=True, text=True, check=False)


def start_server(password: str | None = None) -> Iterator[str]:
    """Start a cluster, yield its libpq URL (database ``postgres``), stop it afterwards. With
    ``password``, connections over TCP must give a password (SCRAM), the ``postgres`` user's
    being ``password``, and the cluster is always one of our own."""
    configured = os.environ.get("MOBILEID_TEST_POSTGRES_URL")
    if configured and password is None:
        yield configured
        return
    cluster = Cluster(password)
    try:
        yield cluster.url
    finally:
        cluster.remove()


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
