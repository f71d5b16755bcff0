"""A PostgreSQL server that goes silent once connected (a relay in front of the real server
swallows its bytes): BackendUnavailable within the client's bound, nothing half-written, the
pool recovers; a slow server that is still alive keeps giving its own timeout error."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from mobileid.database import UnitOfWork, close_database, open_database
from mobileid.database.deadline import limited, ping_bound, silence_bound, unbounded
from mobileid.errors import BackendUnavailable
from mobileid.service.context import Context
from tests.database import held
from tests.gallery.relay import Relay

BOUND_S = 1.0  # the server's own limits (statement_timeout, lock_timeout)
SILENT_S = silence_bound(BOUND_S)  # the client's bound on any one wait for the server
PING_S = ping_bound(BOUND_S)  # the pool's bound on its check of a pooled connection
SLACK_S = 2.0  # rolling back, closing and Python around the bound


@pytest.fixture
def relayed(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[Context, Relay]]:
    """A service whose main database is a real PostgreSQL reached through a relay, holding
    subject A and one audit entry."""
    with held.relayed(fresh_postgres, tmp_path / "d", BOUND_S) as pair:
        yield pair


def _enrol_b_and_log(ctx: Context, relay: Relay, *, cut_before_log: bool) -> None:
    log = ctx.audit  # opened before the unit (it would wait on its own lock inside)
    with UnitOfWork(ctx.engine) as uow:
        ctx.gallery.enrol("g1", "b", "B", "t", [("s2", held.VEC * -1)], held.PID, uow=uow)
        if cut_before_log:
            relay.hang()
        log.append(uow, held.event("with B"))
        if not cut_before_log:
            relay.hang()  # the next exchange is the COMMIT


def _timed_failure(action: object, match: str) -> float:
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=match) as caught:
        action()  # type: ignore[operator]
    assert caught.value.exit_code == 12 and "mobileid_test_" in str(caught.value)
    return time.perf_counter() - start


def test_a_statement_to_a_server_gone_silent_mid_transaction_is_unavailable_in_bound(
    relayed: tuple[Context, Relay],
) -> None:
    """The server stops answering between two statements of one unit of work: the next
    statement ends with BackendUnavailable after the client's bound (not the server's own,
    which cannot arrive), nothing of the unit is written, and once the relay passes again the
    same service answers and the audit chain verifies."""
    ctx, relay = relayed
    took = _timed_failure(
        lambda: _enrol_b_and_log(ctx, relay, cut_before_log=True), "no answer from the server"
    )
    assert SILENT_S * 0.9 <= took <= SILENT_S + SLACK_S, took
    held.resume(ctx, relay)
    assert held.state(ctx) == (["A"], ["before"])


def test_a_commit_that_gets_no_answer_is_unavailable_and_says_the_outcome_is_unknown(
    relayed: tuple[Context, Relay],
) -> None:
    """The server stops answering just before a unit of work commits: the COMMIT ends with
    BackendUnavailable within the client's bound, saying that whether it committed is
    unknown; it never reached the server, so nothing was written and the chain verifies."""
    ctx, relay = relayed
    took = _timed_failure(
        lambda: _enrol_b_and_log(ctx, relay, cut_before_log=False), "committed is unknown"
    )
    assert took <= SILENT_S + SLACK_S, took
    held.resume(ctx, relay)
    assert held.state(ctx) == (["A"], ["before"])


def test_a_commit_whose_answer_is_lost_was_carried_out_and_the_chain_verifies(
    relayed: tuple[Context, Relay],
) -> None:
    """The COMMIT reaches the server but its answer is lost: the client cannot tell, says so
    (BackendUnavailable, outcome unknown, within the bound), and the unit was indeed
    committed whole: subject B and its audit entry, the chain verifying."""
    ctx, relay = relayed
    log = ctx.audit

    def enrol() -> None:
        with UnitOfWork(ctx.engine) as uow:
            ctx.gallery.enrol("g1", "b", "B", "t", [("s2", held.VEC * -1)], held.PID, uow=uow)
            log.append(uow, held.event("with B"))
            relay.hang(answers_only=True)

    took = _timed_failure(enrol, "committed is unknown")
    assert took <= SILENT_S + SLACK_S, took
    held.resume(ctx, relay)
    assert held.state(ctx) == (["A", "B"], ["before", "with B"])


def test_a_request_arriving_while_the_server_is_silent_is_unavailable_then_recovers(
    relayed: tuple[Context, Relay],
) -> None:
    """A request that takes a pooled connection while the server is silent: the pool's check
    of the connection ends after the ping's bound (about the limit, not the longer bound on
    statements, and no new connection attempt after it) with BackendUnavailable; the pool
    serves the next request once the relay passes."""
    ctx, relay = relayed
    relay.hang()
    took = _timed_failure(lambda: ctx.gallery.subjects("g1"), "expected a reachable database")
    assert PING_S * 0.9 <= took <= PING_S + SLACK_S < SILENT_S, took
    held.resume(ctx, relay)
    assert held.state(ctx) == (["A"], ["before"])


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Three processes spinning on the CPU for the length of a test (a loaded machine)."""
    spin = [sys.executable, "-c", "while True: pass"]
    burners = [subprocess.Popen(spin) for _ in range(3)]
    try:
        yield
    finally:
        for p in burners:
            p.kill()
            p.wait()


def test_a_slow_server_under_load_still_gives_its_own_statement_timeout(
    fresh_postgres: str, busy_cpus: None
) -> None:
    """Four statements at once that run past the server's limit, with the CPUs busy and
    every byte either way arriving 1.25 s late (a slow network or a loaded server that still
    answers: the server's error comes 2.5 s after its limit): each ends with the server's own
    statement timeout, never with the client's bound for a silent server (which a 2 s grace
    would have hit first), and the connections stay usable."""
    delay_s = 1.25
    relay = Relay(fresh_postgres)
    engine = open_database(held.through(relay, fresh_postgres), timeout_s=BOUND_S)
    conns = [engine.connect() for _ in range(4)]
    ended: list[tuple[float, BaseException | None]] = []

    def sleep(conn: Connection) -> None:
        start = time.perf_counter()
        try:
            conn.execute(text("SELECT pg_sleep(30)"))  # in the transaction begun above
            ended.append((time.perf_counter() - start, None))
        except BaseException as exc:  # checked below
            ended.append((time.perf_counter() - start, exc))

    try:
        for conn in conns:
            assert conn.scalar(text("SELECT 1")) == 1  # connected at full speed
        relay.slow(delay_s)
        workers = [threading.Thread(target=sleep, args=(c,)) for c in conns]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert len(ended) == 4
        for took, exc in ended:
            assert isinstance(exc, BackendUnavailable) and "statement timeout" in str(exc), exc
            assert BOUND_S + 2 * delay_s <= took < SILENT_S, took
        relay.slow(0.0)
        for conn in conns:
            conn.rollback()
            assert conn.scalar(text("SELECT 1")) == 1
            conn.close()
    finally:
        relay.resume()
        close_database(engine)
        relay.close()


def test_work_that_lifts_the_servers_limit_is_not_cut_by_the_client(fresh_postgres: str) -> None:
    """Inside ``unbounded`` (what migrations use), a statement that runs past the client's
    bound, with the server's limit lifted, completes."""
    engine = open_database(fresh_postgres, timeout_s=BOUND_S)
    try:
        with engine.begin() as conn, unbounded(conn):
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            slept = conn.scalar(text("SELECT 1 FROM pg_sleep(:s)"), {"s": SILENT_S + 0.5})
        assert slept == 1
    finally:
        close_database(engine)


def test_work_given_a_longer_limit_runs_past_the_engines_and_ends_at_its_own(
    fresh_postgres: str,
) -> None:
    """Inside ``limited`` (what the count of a gallery against SQL uses), a statement runs
    past both the server's limit and the client's bound on the engine's statements and
    completes; after the transaction, the engine's own limit ends a statement again."""
    engine = open_database(fresh_postgres, timeout_s=BOUND_S)
    try:
        with engine.begin() as conn, limited(conn, SILENT_S + 2):
            slept = conn.scalar(text("SELECT 1 FROM pg_sleep(:s)"), {"s": SILENT_S + 0.5})
        assert slept == 1
        start = time.perf_counter()
        with pytest.raises(BackendUnavailable, match="statement timeout"), engine.begin() as c:
            c.execute(text("SELECT pg_sleep(10)"))
        assert time.perf_counter() - start <= BOUND_S + SLACK_S
    finally:
        close_database(engine)


def test_pooled_connections_the_server_ended_are_replaced_unnoticed(fresh_postgres: str) -> None:
    """Every pooled connection's backend ended by the server (``pg_terminate_backend``, as a
    restart would): the next requests are served on new connections, without an error and
    without waiting for any bound."""
    engine = open_database(fresh_postgres, timeout_s=BOUND_S)
    killer = open_database(fresh_postgres, timeout_s=BOUND_S * 2)  # a pool of its own
    try:
        with engine.connect() as a, engine.connect() as b:
            before = {
                a.scalar(text("SELECT pg_backend_pid()")),
                b.scalar(text("SELECT pg_backend_pid()")),
            }
        with killer.connect() as k:
            ended = k.scalars(
                text(  # waits (up to 5 s) until each backend has exited
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE pid = ANY(:p)"
                ),
                {"p": list(before)},
            ).all()
        assert ended == [True, True]
        start = time.perf_counter()
        with engine.connect() as a, engine.connect() as b:
            after = {
                a.scalar(text("SELECT pg_backend_pid()")),
                b.scalar(text("SELECT pg_backend_pid()")),
            }
        assert len(after) == 2 and not after & before
        assert time.perf_counter() - start < BOUND_S
    finally:
        close_database(killer)
        close_database(engine)


@pytest.mark.parametrize("missing", ["errors._WaitTimeout", "Connection.wait's timeout"])
def test_a_psycopg_without_the_wait_timeout_is_refused_at_import_naming_the_version(
    missing: str,
) -> None:
    """The installed psycopg with the private part the deadline relies on taken away (as a
    release after 3.3 may do): importing mobileid's database package fails at once with an
    ImportError naming the psycopg needed and the one found, not later, when a server goes
    silent and the missing name is first looked up."""
    remove = {
        "errors._WaitTimeout": "del psycopg.errors._WaitTimeout",
        "Connection.wait's timeout": (
            "w = psycopg.Connection.wait\n"
            "psycopg.Connection.wait = lambda self, gen, interval=0.1: w(self, gen, interval)"
        ),
    }[missing]
    code = f"import psycopg, psycopg.errors\n{remove}\nimport mobileid.database\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1, done.stderr
    assert last.startswith("ImportError: psycopg: expected psycopg>=3.3,<3.4"), last
    assert f"got psycopg {psycopg.__version__} without them" in last, last
