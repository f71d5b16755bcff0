"""A PostgreSQL host that vanishes without closing its connections (a relay in front of the
real server accepts and never forwards): after the first request waits out its bound, the
others fail at once with the same BackendUnavailable and a Retry-After until the cool-down
ends; one probe then goes; service resumes within the cool-down once the host is back, and
nothing was half-written. A server that answers, even with an error, never opens it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mobileid.api.problems import from_error
from mobileid.breaker import FIRST_S, Breaker
from mobileid.database.deadline import ping_bound
from mobileid.database.engines import server_breaker
from mobileid.errors import BackendUnavailable
from mobileid.service.context import Context
from tests.database import held
from tests.gallery.relay import Relay

BOUND_S = 1.0
PING_S = ping_bound(BOUND_S)
FAST_S = 0.1  # a request refused by an open breaker: no wait on any socket
SLACK_S = 2.0
ADVICE = "start the database server or restore the network to it"


@pytest.fixture
def relayed(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[Context, Relay]]:
    """A service on a real PostgreSQL reached through a relay, holding subject A and one
    audit entry."""
    with held.relayed(fresh_postgres, tmp_path / "d", BOUND_S) as pair:
        yield pair


def _failure(action: object) -> tuple[float, BackendUnavailable]:
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=ADVICE) as caught:
        action()  # type: ignore[operator]
    assert caught.value.exit_code == 12
    return time.perf_counter() - start, caught.value


def test_requests_fail_fast_while_the_host_is_gone_and_resume_within_the_cool_down(
    relayed: tuple[Context, Relay],
) -> None:
    """The host vanishes: the first request waits the ping's bound, the next ones (a read,
    an enrolment, an audit entry) fail at once with the same error and advice and a
    Retry-After on the 503; once the host is back the next try comes within the cool-down,
    succeeds, and nothing refused was written."""
    ctx, relay = relayed
    breaker = server_breaker(str(ctx.settings.database_url))
    relay.vanish()
    took, first = _failure(lambda: ctx.gallery.subjects("g1"))
    assert PING_S * 0.9 <= took <= PING_S + SLACK_S, took
    assert not breaker.closed and 0 < breaker.retry_in_s() <= FIRST_S
    for action in (
        lambda: ctx.gallery.subjects("g1"),
        lambda: ctx.gallery.enrol("g1", "b", "B", "t", [("s2", -held.VEC)], held.PID),
        lambda: ctx.audit.record(held.event("while gone")),
    ):
        took, fast = _failure(action)
        assert took < FAST_S, took
        assert first.message in fast.message and fast.field == "database_url"
        response = from_error(fast)
        assert response.status_code == 503
        assert 1 <= int(response.headers["Retry-After"]) <= FIRST_S
    relay.resume()
    back = time.perf_counter()
    while True:  # what a client does: try again until it is served
        try:
            names = held.state(ctx)
            break
        except BackendUnavailable:
            time.sleep(0.05)
    assert time.perf_counter() - back <= FIRST_S + SLACK_S
    assert names == (["A"], ["before"]) and breaker.closed


def test_a_failed_probe_doubles_the_cool_down_and_one_request_probes_at_a_time(
    relayed: tuple[Context, Relay],
) -> None:
    """When the cool-down ends with the host still gone, one request goes (and waits its
    bound) while the others still fail fast; its failure opens the breaker again for twice
    as long."""
    ctx, relay = relayed
    breaker = server_breaker(str(ctx.settings.database_url))
    relay.vanish()
    _failure(lambda: ctx.gallery.subjects("g1"))
    time.sleep(breaker.retry_in_s())
    took, _ = _failure(lambda: ctx.gallery.subjects("g1"))  # the probe
    assert took >= PING_S * 0.9, took
    assert FIRST_S < breaker.retry_in_s() <= 2 * FIRST_S
    took, _ = _failure(lambda: ctx.gallery.subjects("g1"))
    assert took < FAST_S, took


def test_errors_of_a_server_that_answers_never_open_the_breaker(
    relayed: tuple[Context, Relay],
) -> None:
    """A statement that runs past the server's limit (one slow query) and a constraint
    violation come from a live server: the breaker stays closed and the next request is
    served at once."""
    ctx, _ = relayed
    breaker = server_breaker(str(ctx.settings.database_url))
    with pytest.raises(BackendUnavailable, match="statement timeout"), ctx.engine.begin() as c:
        c.execute(text("SELECT pg_sleep(5)"))
    assert breaker.closed
    with pytest.raises(IntegrityError, match="duplicate key"), ctx.engine.begin() as c:
        c.execute(text("CREATE TABLE t_once (k int PRIMARY KEY)"))
        c.execute(text("INSERT INTO t_once VALUES (1), (1)"))
    assert breaker.closed
    assert held.state(ctx) == (["A"], ["before"])


def test_only_a_failed_probe_lengthens_the_cool_down() -> None:
    """Requests sent before the breaker opened that fail afterwards (a burst in flight)
    leave the first cool-down as it is; the probe's failure doubles it, its success closes
    the breaker."""
    breaker = Breaker("test-server")
    failure = BackendUnavailable("database: no answer", field="database_url")
    breaker.failed(failure)
    for _ in range(4):
        breaker.failed(failure)  # in flight before it opened
    assert FIRST_S * 0.9 < breaker.retry_in_s() <= FIRST_S
    with pytest.raises(BackendUnavailable, match="no answer; not tried again at once"):
        breaker.admit()
    time.sleep(breaker.retry_in_s())
    breaker.admit()  # the probe goes
    with pytest.raises(BackendUnavailable, match="once the request trying it now answers"):
        breaker.admit()  # the others wait for it
    breaker.failed(failure)
    assert FIRST_S < breaker.retry_in_s() <= 2 * FIRST_S
    time.sleep(breaker.retry_in_s())
    breaker.admit()
    breaker.answered()
    assert breaker.closed
    breaker.admit()
