"""A PostgreSQL server that is down, slow or holds a lock: BackendUnavailable within the
bound, never a hang, nothing half-written."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from mobileid.audit import AuditEvent, EventType
from mobileid.config import Settings
from mobileid.database import close_database, open_database, open_engine, release_engine
from mobileid.errors import BackendUnavailable, InvalidArgument
from mobileid.service.context import open_context
from tests.conftest import ADMIN_PASSWORD, cli_json
from tests.postgres import free_port, libpq

BOUND_S = 1.0
SLACK_S = 1.5  # connecting, rolling back and Python around the server's own limit


def _event(case: str) -> AuditEvent:
    return AuditEvent(EventType.SEARCH, "officer1", "officer", "test", details={"case": case})


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_held_audit_head_lock_fails_an_append_within_the_bound(
    fresh_postgres: str, tmp_path: Path
) -> None:
    """While another connection holds the audit head row (what serialises appends), an append
    waits about MOBILEID_DATABASE_TIMEOUT_S, then fails with BackendUnavailable naming the
    database; no entry is written, the next append works and the chain verifies."""
    settings = replace(
        Settings(),
        data_dir=tmp_path / "data",
        database_url=fresh_postgres,
        database_timeout_s=BOUND_S,
    )
    ctx = open_context(settings)
    try:
        ctx.audit.record(_event("before"))
        with psycopg.connect(libpq(fresh_postgres)) as holder:
            holder.execute("UPDATE audit_head SET sequence = sequence")  # row lock, kept open
            start = time.perf_counter()
            with pytest.raises(BackendUnavailable, match="timeout") as caught:
                ctx.audit.record(_event("stuck"))
            took = time.perf_counter() - start
            holder.rollback()
        assert BOUND_S * 0.9 <= took <= BOUND_S + SLACK_S, took
        assert caught.value.exit_code == 12 and "mobileid_test_" in str(caught.value)
        ctx.audit.record(_event("after"))
        cases = [e.details["case"] for e in ctx.audit.read()]
        assert cases == ["before", "after"]
        report = ctx.audit.verify()
        assert report.ok, report.reason
    finally:
        ctx.close()


def test_a_statement_past_the_bound_is_backend_unavailable(fresh_postgres: str) -> None:
    """A statement the server is still running after the bound is cancelled by the server and
    surfaces as BackendUnavailable, in about the bound; the engine keeps working after it."""
    engine = open_database(fresh_postgres, timeout_s=BOUND_S)
    try:
        start = time.perf_counter()
        with pytest.raises(BackendUnavailable, match="statement timeout"), engine.begin() as conn:
            conn.execute(text("SELECT pg_sleep(10)"))
        assert time.perf_counter() - start <= BOUND_S + SLACK_S
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        close_database(engine)


def test_nobody_listening_is_backend_unavailable_at_once(tmp_path: Path) -> None:
    """A PostgreSQL URL whose port nobody listens on fails with BackendUnavailable in well
    under the bound, with the password hidden."""
    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/db"
    settings = replace(Settings(), data_dir=tmp_path, database_url=url)
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="expected a reachable database") as caught:
        open_context(settings)
    assert time.perf_counter() - start < 1.0 and "secret" not in str(caught.value)


def test_a_server_that_never_answers_is_backend_unavailable_within_the_bound(
    silent_server: int, tmp_path: Path
) -> None:
    """A server that accepts the connection but never answers gives BackendUnavailable after
    libpq's connect_timeout (whole seconds, at least 2), never a hang."""
    url = f"postgresql://u:secret@127.0.0.1:{silent_server}/db"
    settings = replace(Settings(), data_dir=tmp_path, database_url=url, database_timeout_s=BOUND_S)
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="expected a reachable database"):
        open_context(settings)
    assert time.perf_counter() - start <= 2 + SLACK_S


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "inf"])
def test_a_database_timeout_that_is_not_a_positive_number_is_refused(raw: str) -> None:
    """MOBILEID_DATABASE_TIMEOUT_S must be seconds > 0 (0 would mean no limit on PostgreSQL):
    anything else is an InvalidArgument naming it."""
    with pytest.raises(InvalidArgument, match=r"(?i)database_timeout_s|database timeout"):
        settings = Settings.from_env({"MOBILEID_DATABASE_TIMEOUT_S": raw})
        open_engine("sqlite://", timeout_s=settings.database_timeout_s)


def test_a_cli_command_waits_on_a_held_lock_only_as_long_as_the_setting_says(
    fresh_postgres: str, tmp_path: Path
) -> None:
    """`operators add` opens the main database from settings in several places (operator
    store, audit log, deployment key): behind a held audit head row each waits
    MOBILEID_DATABASE_TIMEOUT_S (1 s here, not the default 10 s), then the command exits 12
    with nothing written."""
    d = ["--data-dir", str(tmp_path / "data")]
    env = {
        "MOBILEID_DATABASE_URL": fresh_postgres,
        "MOBILEID_DATABASE_TIMEOUT_S": str(BOUND_S),
        "MOBILEID_PASSWORD": ADMIN_PASSWORD,
    }
    assert cli_json("operators", "list", *d, env=env) == (0, {"operators": []})  # schema, log
    with psycopg.connect(libpq(fresh_postgres)) as holder:
        held = holder.execute("UPDATE audit_head SET sequence = sequence")  # row lock, kept open
        assert held.rowcount == 1
        start = time.perf_counter()
        code, _ = cli_json("operators", "add", "admin0", "--role", "admin", *d, env=env)
        took = time.perf_counter() - start
        holder.rollback()
    assert code == 12
    assert BOUND_S * 0.9 <= took <= BOUND_S + SLACK_S, took
    assert cli_json("operators", "list", *d, env=env) == (0, {"operators": []})


def test_a_request_waiting_for_a_pooled_connection_gets_backend_unavailable_within_the_bound(
    database_url: str,
) -> None:
    """On SQLite and PostgreSQL, with every connection of the pool in use (SQLAlchemy's 5 + 10
    overflow), one more waits about the database timeout, not the pool's own 30 s, then fails
    with BackendUnavailable naming the database (exit 12, HTTP 503); a returned one is reused."""
    from mobileid.api.problems import status_of

    engine = open_engine(database_url, timeout_s=BOUND_S)
    held = []
    try:
        with pytest.raises(BackendUnavailable, match="free connection") as caught:
            for _ in range(50):
                start = time.perf_counter()
                held.append(engine.connect())
        took = time.perf_counter() - start
        assert len(held) == 15
        assert BOUND_S * 0.9 <= took <= BOUND_S + SLACK_S, took
        assert caught.value.exit_code == 12 and status_of(caught.value) == 503
        assert ("mobileid_test_" in str(caught.value)) == database_url.startswith("postgresql")
        held.pop().close()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        for conn in held:
            conn.close()
        release_engine(engine)
