"""Logon (password + TOTP), lockout, sessions with an idle timeout, and logout.

A refused logon is committed (failed-logon counter, event) before the error is raised, so a
caller cannot undo its own failures by making the request fail. Messages do not say which
factor was wrong; the ``logon_failed`` event does (``reason``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mobileid.auth import clock as auth_clock
from mobileid.auth import passwords, totp
from mobileid.auth.context import (
    AuthDeps,
    digest,
    emit,
    find_operator,
    principal_of,
    tick,
    unknown_role,
)
from mobileid.auth.errors import AccountLocked, AuthenticationFailed, SessionExpired
from mobileid.auth.events import EventType, Outcome
from mobileid.auth.operators import totp_secret
from mobileid.auth.store import OperatorRow, SessionRow
from mobileid.auth.values import LogonResult, Principal
from mobileid.database import UnitOfWork

_REFUSED = "logon: expected a valid username, password and current TOTP code, got a mismatch"


@dataclass(frozen=True)
class _Failure:
    reason: str
    locked_until: datetime | None = None


def logon(
    deps: AuthDeps, dummy: passwords.DummyHash, username: str, password: str, code: str
) -> LogonResult:
    given = _Given(username, password, code, *_check_password(deps, dummy, username, password))
    with UnitOfWork(deps.engine) as work:
        reading = tick(deps, work)
        row = find_operator(work.session, username)
        outcome = _attempt(deps, work, row, given, reading)
        if isinstance(outcome, LogonResult):
            return outcome
    if outcome.locked_until is not None:
        raise AccountLocked(
            f"logon: expected an account that is not locked, got {username!r} locked until "
            f"{outcome.locked_until.isoformat(timespec='seconds')} after repeated failures",
            until=outcome.locked_until,
        )
    raise AuthenticationFailed(_REFUSED, field="credentials")


@dataclass(frozen=True)
class _Given:
    """What the caller gave, and the password's check against the stored hash it was checked
    against (None: no such operator then)."""

    username: str
    password: str = field(repr=False)  # never in a log or a traceback's locals dump
    code: str = field(repr=False)
    checked_hash: str | None = field(repr=False)
    matched: bool = False


def _check_password(
    deps: AuthDeps, dummy: passwords.DummyHash, username: str, password: str
) -> tuple[str | None, bool]:
    """(the stored hash, whether the password matches it), checked before the unit of work:
    argon2 takes a good part of a second on purpose, and inside the unit it would hold the
    database's write lock, so a burst of logons would queue behind each other's checks until
    the lock wait (SQLite's busy timeout) gave up ("database is locked"). An unknown username
    burns a dummy hash instead, so the time taken does not tell."""
    with Session(deps.engine) as s:
        row = find_operator(s, username)
        stored = None if row is None else row.password_hash
    if stored is None:
        dummy.burn(password)
        return None, False
    return stored, passwords.verify(deps.hasher, stored, password)


def _attempt(
    deps: AuthDeps,
    work: UnitOfWork,
    row: OperatorRow | None,
    given: _Given,
    reading: auth_clock.Reading,
) -> LogonResult | _Failure:
    now = reading.now
    if row is None:
        emit(
            deps,
            work,
            EventType.LOGON_FAILED,
            given.username[:64],
            Outcome.FAILURE,
            reason="unknown_operator",
        )
        return _Failure("unknown_operator")
    if row.disabled_at is not None:
        return _fail(deps, work, row, "disabled")
    if unknown_role(row):
        return _fail(deps, work, row, "unknown_role")
    if row.locked_until is not None and now < row.locked_until:
        emit(
            deps,
            work,
            EventType.LOGON_FAILED,
            row,
            Outcome.FAILURE,
            reason="account_locked",
            locked_until=row.locked_until.isoformat(),
        )
        return _Failure("account_locked", row.locked_until)
    matched = given.matched
    if given.checked_hash != row.password_hash:  # set anew meanwhile (rare): check again
        matched = passwords.verify(deps.hasher, row.password_hash, given.password)
    if not matched:
        return _fail(deps, work, row, "bad_password", now=now)
    return _second_factor(deps, work, row, given, reading)


def _second_factor(
    deps: AuthDeps, work: UnitOfWork, row: OperatorRow, given: _Given, reading: auth_clock.Reading
) -> LogonResult | _Failure:
    step, replay = totp.match_step(
        totp_secret(deps, row),
        given.code,
        reading.raw,
        drift=deps.params.totp_drift_steps,
        last_step=row.last_totp_step,
    )
    if step is None or replay or not _claim_step(work.session, row, step):
        reason = "bad_totp" if step is None else "totp_replayed"
        return _fail(deps, work, row, reason, now=reading.now)
    return _succeed(deps, work, row, given.password, step, reading.now)


def _claim_step(s: Session, row: OperatorRow, step: int) -> bool:
    """Record ``step`` as used, atomically: of two logons racing with one code, one wins."""
    newer = or_(OperatorRow.last_totp_step.is_(None), OperatorRow.last_totp_step < step)
    claimed = s.connection().execute(
        update(OperatorRow).where(OperatorRow.id == row.id, newer).values(last_totp_step=step)
    )
    s.refresh(row, ["last_totp_step"])
    return claimed.rowcount == 1


def _fail(
    deps: AuthDeps, work: UnitOfWork, row: OperatorRow, reason: str, *, now: datetime | None = None
) -> _Failure:
    """Record a refusal; with ``now`` it counts towards the lockout."""
    s = work.session
    if now is not None:  # counted in SQL, so parallel guesses are each counted
        s.connection().execute(
            update(OperatorRow)
            .where(OperatorRow.id == row.id)
            .values(failed_logons=OperatorRow.failed_logons + 1)
        )
        s.refresh(row, ["failed_logons"])
    emit(
        deps,
        work,
        EventType.LOGON_FAILED,
        row,
        Outcome.FAILURE,
        reason=reason,
        failed_logons=row.failed_logons,
    )
    if now is None or row.failed_logons < deps.params.max_failed_logons:
        return _Failure(reason)
    row.locked_until = now + deps.params.lockout
    emit(
        deps,
        work,
        EventType.LOCKOUT,
        row,
        Outcome.FAILURE,
        failed_logons=row.failed_logons,
        locked_until=row.locked_until.isoformat(),
    )
    row.failed_logons = 0  # the lock is the consequence; a fresh count starts after it
    return _Failure(reason, row.locked_until)


def _succeed(
    deps: AuthDeps, work: UnitOfWork, row: OperatorRow, password: str, step: int, now: datetime
) -> LogonResult:
    s = work.session
    if deps.hasher.check_needs_rehash(row.password_hash):
        row.password_hash = deps.hasher.hash(password)
    row.failed_logons, row.locked_until = 0, None
    row.last_logon_at = now
    token = secrets.token_urlsafe(32)
    s.add(
        SessionRow(token_sha256=digest(token), operator_id=row.id, created_at=now, last_used_at=now)
    )
    principal = principal_of(s, row, "session")
    emit(deps, work, EventType.LOGON, principal, Outcome.SUCCESS)
    idle = int(deps.params.session_idle.total_seconds())
    return LogonResult(session_token=token, principal=principal, idle_timeout_s=idle)


def session_principal(deps: AuthDeps, session_token: str) -> Principal:
    """Who holds this session; each use restarts the idle timer."""
    with UnitOfWork(deps.engine) as work:
        s = work.session
        now = tick(deps, work).now
        found = _live_session(deps, work, session_token, now)
        if isinstance(found, str):
            failure = found
        else:
            sess, row = found
            sess.last_used_at = now
            return principal_of(s, row, "session")
    raise SessionExpired(
        f"session: expected a live session, got one that is {failure}; log on again",
        field="session",
    )


def _live_session(
    deps: AuthDeps, work: UnitOfWork, token: str, now: datetime
) -> tuple[SessionRow, OperatorRow] | str:
    s = work.session
    sess = s.scalar(select(SessionRow).where(SessionRow.token_sha256 == digest(token)))
    if sess is None:
        emit(deps, work, EventType.ACCESS_DENIED, None, Outcome.DENIED, reason="session_unknown")
        return "unknown"
    row = s.get_one(OperatorRow, sess.operator_id)
    if sess.ended_at is not None:
        emit(
            deps,
            work,
            EventType.ACCESS_DENIED,
            row,
            Outcome.DENIED,
            reason="session_ended",
            end_reason=sess.end_reason,
        )
        return f"ended ({sess.end_reason})"
    if row.disabled_at is not None:
        sess.ended_at, sess.end_reason = now, "disabled"
        emit(deps, work, EventType.ACCESS_DENIED, row, Outcome.DENIED, reason="operator_disabled")
        return "ended (operator disabled)"
    if unknown_role(row):
        sess.ended_at, sess.end_reason = now, "unknown_role"
        emit(deps, work, EventType.ACCESS_DENIED, row, Outcome.DENIED, reason="unknown_role")
        return "ended (the operator's stored role is unknown)"
    idle = now - sess.last_used_at
    if idle >= deps.params.session_idle:
        sess.ended_at, sess.end_reason = now, "idle"
        emit(
            deps,
            work,
            EventType.SESSION_EXPIRED,
            row,
            Outcome.SUCCESS,
            reason="idle",
            idle_s=int(idle.total_seconds()),
        )
        return f"expired after {int(idle.total_seconds()) // 60} minutes idle"
    return sess, row


def logout(deps: AuthDeps, session_token: str) -> None:
    """End the session; logging out of an ended or unknown session is harmless."""
    with UnitOfWork(deps.engine) as work:
        s = work.session
        now = tick(deps, work).now
        sess = s.scalar(select(SessionRow).where(SessionRow.token_sha256 == digest(session_token)))
        if sess is None or sess.ended_at is not None:
            return
        sess.ended_at, sess.end_reason = now, "logout"
        row = s.get_one(OperatorRow, sess.operator_id)
        emit(deps, work, EventType.LOGOUT, row, Outcome.SUCCESS)
