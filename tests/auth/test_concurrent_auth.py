"""Auth state read and written by concurrent requests: the clock's high-water mark is never
lowered by a request that read it before another committed, and one TOTP code logs on once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy.orm import Session

from mobileid.auth import AuthService, SessionExpired, console_principal
from mobileid.auth.store import ClockRow
from tests.auth.conftest import KEY, PASSWORD, START, fast_hasher

ROOT = console_principal("root")
HOLD_S = 2.0  # how long the first request waits, inside its unit, for the second one


def _service(url: str, clock: Callable[[], object], monotonic: Callable[[], float]) -> AuthService:
    return AuthService(url, KEY, clock=clock, monotonic=monotonic, hasher=fast_hasher())  # type: ignore[arg-type]


def _high_water(svc: AuthService) -> object:
    with Session(svc.engine) as s:
        row = s.get_one(ClockRow, 1)
        return row.high_water.replace(tzinfo=None)


def test_a_request_that_read_the_clock_row_first_cannot_lower_it(database_url: str) -> None:
    """On SQLite and PostgreSQL, when a request reads the auth clock (T) and, before it writes
    its own T+1min, another request commits T+1h, the stored high-water mark stays T+1h: the
    first one holds the row from its read to its commit (the other waits for it)."""
    read, done = threading.Event(), threading.Event()
    late = START + timedelta(hours=1)

    def stalling() -> float:  # called inside tick, after the clock row was read
        if threading.current_thread().name == "first":
            read.set()
            done.wait(HOLD_S)
        return 1000.0

    first_now = [START]
    first = _service(database_url, lambda: first_now[0], stalling)
    second = _service(database_url, lambda: late, lambda: 1000.0)
    try:
        with pytest.raises(SessionExpired):  # the clock row now holds T
            first.session_principal("warm-up")
        first_now[0] = START + timedelta(minutes=1)  # "first" will write T+1min over T
        errors: list[BaseException] = []

        def run(svc: AuthService, then: threading.Event | None) -> None:
            try:
                svc.session_principal("no-such-session")
            except SessionExpired:
                pass
            except BaseException as exc:  # reported below
                errors.append(exc)
            if then is not None:
                then.set()

        a = threading.Thread(target=run, args=(first, None), name="first")
        a.start()
        assert read.wait(10)
        b = threading.Thread(target=run, args=(second, done), name="second")
        b.start()
        a.join()
        b.join()
        assert errors == []
        assert _high_water(second) >= late.replace(tzinfo=None)
    finally:
        first.close()
        second.close()


def test_one_totp_code_used_by_two_logons_at_once_logs_on_exactly_once(database_url: str) -> None:
    """On SQLite and PostgreSQL, 4 threads logging the same operator on with the same code at
    the same moment (fewer than the 5 failures that lock): exactly one gets a session, the
    others are refused as a replay."""
    svc = _service(database_url, lambda: START, lambda: 1000.0)
    try:
        secret = svc.add_operator(ROOT, "alice", role="officer", password=PASSWORD).totp_secret
        code = pyotp.TOTP(secret).at(START)
        barrier = threading.Barrier(4)
        won: list[str] = []
        lost: list[str] = []

        def attempt() -> None:
            barrier.wait()
            try:
                won.append(svc.logon("alice", PASSWORD, code).session_token)
            except Exception as exc:  # counted below
                lost.append(type(exc).__name__)

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and lost == ["AuthenticationFailed"] * 3
        reasons = [e.details.get("reason") for e in svc.events.of_type("logon_failed")]  # type: ignore[attr-defined]
        assert reasons == ["totp_replayed"] * 3
    finally:
        svc.close()
