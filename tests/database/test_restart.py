"""A PostgreSQL server stopped and started again (``pg_ctl``) under a service holding pooled
connections: requests while it is down are BackendUnavailable at once, saying what to do;
after the start the next request succeeds with nobody doing anything, and nothing the stop
cut short was written. A cluster of this module's own, so the session's server is not
disturbed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

from mobileid.api.problems import status_of
from mobileid.database import UnitOfWork
from mobileid.errors import BackendUnavailable
from mobileid.service.context import Context
from tests.conftest import ADMIN_PASSWORD, cli_json
from tests.database import held
from tests.postgres import Cluster, create_database, drop_database

BOUND_S = 2.0  # the database timeout of the service; a stopped server must fail well within it
POOLED = 4  # connections the service holds in its pool when the server stops
WHAT_TO_DO = "start the database server"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this module's own, which its tests stop and start."""
    own = Cluster()
    try:
        yield own
    finally:
        own.remove()


@pytest.fixture
def service(cluster: Cluster, tmp_path: Path) -> Iterator[Context]:
    """A service on a new database of ``cluster``, holding subject A, one audit entry and
    POOLED idle pooled connections; the server is running again when the test ends."""
    url = create_database(cluster.url)
    ctx = held.open_held(url, tmp_path / "d", BOUND_S)
    try:
        pooled = [ctx.engine.connect() for _ in range(POOLED)]
        for conn in pooled:
            assert conn.scalar(text("SELECT 1")) == 1
            conn.close()  # back to the pool, open
        yield ctx
    finally:
        if not cluster.running:
            cluster.start()
        ctx.close()
        drop_database(url)


def _fails_fast(action: object) -> BackendUnavailable:
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=WHAT_TO_DO) as caught:
        action()  # type: ignore[operator]
    took = time.perf_counter() - start
    assert took < BOUND_S / 2, took
    assert caught.value.exit_code == 12 and status_of(caught.value) == 503
    assert "mobileid_test_" in str(caught.value)
    return caught.value


def test_requests_while_the_server_is_stopped_fail_at_once_and_succeed_after_its_start(
    cluster: Cluster, service: Context
) -> None:
    """``pg_ctl stop -m fast`` under a service with pooled connections: each request (a read,
    an enrolment, a CLI command) fails at once with BackendUnavailable (exit 12, HTTP 503)
    saying to start the server; after ``pg_ctl start`` the next requests succeed with nothing
    restarted, the failed enrolment left nothing, and the audit chain verifies."""
    ctx = service
    cluster.stop("fast")
    for _ in range(POOLED + 1):  # more than the pool held: every one fails alone
        _fails_fast(lambda: ctx.gallery.subjects("g1"))
    _fails_fast(lambda: ctx.gallery.enrol("g1", "b", "B", "t", [("s2", -held.VEC)], held.PID))
    _fails_fast(lambda: ctx.audit.record(held.event("while down")))
    env = {
        "MOBILEID_DATABASE_URL": str(ctx.settings.database_url),
        "MOBILEID_DATABASE_TIMEOUT_S": str(BOUND_S),
        "MOBILEID_PASSWORD": ADMIN_PASSWORD,
    }
    cli = ["operators", "list", "--data-dir", str(ctx.settings.data_dir)]
    assert cli_json(*cli, env=env)[0] == 12
    cluster.start()
    assert held.state(ctx) == (["A"], ["before"])
    ctx.gallery.enrol("g1", "c", "C", "t", [("s3", -held.VEC)], held.PID)
    ctx.audit.record(held.event("after"))
    assert held.state(ctx) == (["A", "C"], ["before", "after"])
    assert cli_json(*cli, env=env) == (0, {"operators": []})


def test_a_unit_of_work_the_stop_cuts_short_writes_nothing(
    cluster: Cluster, service: Context
) -> None:
    """The server stops between two statements of one unit of work (an enrolment and its
    audit entry): the next statement fails with BackendUnavailable at once, and after the
    start neither the subject nor its entry is there, and the chain verifies."""
    ctx = service
    log = ctx.audit  # opened before the unit (it would wait on its own lock inside)

    timed: list[float] = []

    def enrol_and_log() -> None:
        with UnitOfWork(ctx.engine) as uow:
            ctx.gallery.enrol("g1", "b", "B", "t", [("s2", -held.VEC)], held.PID, uow=uow)
            cluster.stop("fast")
            timed.append(time.perf_counter())
            log.append(uow, held.event("with B"))

    with pytest.raises(BackendUnavailable, match=WHAT_TO_DO) as caught:
        enrol_and_log()
    assert time.perf_counter() - timed[0] < BOUND_S / 2
    assert caught.value.exit_code == 12
    cluster.start()
    assert held.state(ctx) == (["A"], ["before"])


def test_after_a_restart_one_request_finds_the_old_connections_gone_for_the_whole_pool(
    cluster: Cluster, service: Context
) -> None:
    """After a restart, the first checkout's failed ping invalidates the whole pool: the
    other pooled connections, opened before the restart, are replaced on their next checkout
    without failing a ping each, and every connection handed out is a new backend."""
    ctx = service
    with ctx.engine.connect() as conn:
        before = conn.scalar(text("SELECT array_agg(pid) FROM pg_stat_activity"))
    failed: list[BaseException | None] = []
    event.listen(ctx.engine.pool, "invalidate", lambda _c, _r, exc: failed.append(exc))
    cluster.stop("fast")
    cluster.start()
    held = [ctx.engine.connect() for _ in range(POOLED)]
    try:
        pids = {conn.scalar(text("SELECT pg_backend_pid()")) for conn in held}
    finally:
        for conn in held:
            conn.close()
    assert len(pids) == POOLED and not pids & set(before)
    assert len(failed) == 1 and "pooled connection lost" in str(failed[0]), failed
