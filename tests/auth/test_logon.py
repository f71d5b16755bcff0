"""Logon: password and TOTP both required, codes used once, drift, lockout, rehash."""

from __future__ import annotations

import sqlite3

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from mobileid.auth import AccountLocked, AuthenticationFailed, AuthService, open_auth_engine
from mobileid.auth.context import get_operator
from mobileid.auth.logon import _claim_step
from mobileid.database import close_database
from tests.auth.conftest import KEY, PASSWORD, Env

WRONG = "wrong horse battery"


def reasons(env: Env) -> list[str]:
    return [e.details["reason"] for e in env.events.of_type("logon_failed")]


@pytest.fixture
def alice(env: Env) -> Env:
    env.add("alice", "officer")
    env.svc.grant(env.console, "alice", gallery="wanted")
    return env


def test_logon_with_password_and_totp(alice: Env):
    """Correct password and current code open a session for the operator's role."""
    alice.clock.advance(seconds=30)
    result = alice.svc.logon("alice", PASSWORD, alice.code("alice"))
    p = result.principal
    assert (p.username, p.role.value, p.galleries, p.via) == (
        "alice",
        "officer",
        {"wanted"},
        "session",
    )
    assert result.idle_timeout_s == 1800 and len(result.session_token) >= 40
    ev = alice.events.last()
    assert (ev.event_type, ev.operator, ev.role, ev.outcome) == (
        "logon",
        "alice",
        "officer",
        "success",
    )


def test_wrong_password_refused(alice: Env):
    """A wrong password fails without saying which factor was wrong; the event does."""
    with pytest.raises(AuthenticationFailed, match="got a mismatch") as err:
        alice.svc.logon("alice", WRONG, alice.code("alice"))
    assert "password" not in err.value.message.split("expected")[0]
    assert reasons(alice) == ["bad_password"]
    assert alice.svc.operator("alice").failed_logons == 1


def test_wrong_totp_refused(alice: Env):
    """The right password with a wrong or malformed code is refused."""
    code = alice.code("alice")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for bad in (wrong, "12345", "abcdef"):
        with pytest.raises(AuthenticationFailed):
            alice.svc.logon("alice", PASSWORD, bad)
    assert reasons(alice) == ["bad_totp"] * 3


def test_replayed_totp_refused(alice: Env):
    """A code that opened a session cannot open another, even within its 30 s step."""
    code = alice.code("alice")
    alice.svc.logon("alice", PASSWORD, code)
    with pytest.raises(AuthenticationFailed):
        alice.svc.logon("alice", PASSWORD, code)
    assert reasons(alice) == ["totp_replayed"]


def test_older_code_refused_after_newer_one(alice: Env):
    """After the next step's code was used (drift), the current step's code is a replay."""
    alice.svc.logon("alice", PASSWORD, alice.code("alice", steps=1))
    with pytest.raises(AuthenticationFailed):
        alice.svc.logon("alice", PASSWORD, alice.code("alice"))
    assert reasons(alice) == ["totp_replayed"]


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_drift_accepted(alice: Env, steps: int):
    """A phone one 30 s step behind or ahead still logs on."""
    alice.clock.advance(seconds=90)
    assert alice.svc.logon("alice", PASSWORD, alice.code("alice", steps=steps)).session_token


@pytest.mark.parametrize("steps", [-2, 2])
def test_two_steps_drift_refused(alice: Env, steps: int):
    """A code two steps (60 s) away is refused."""
    alice.clock.advance(seconds=90)
    with pytest.raises(AuthenticationFailed):
        alice.svc.logon("alice", PASSWORD, alice.code("alice", steps=steps))
    assert reasons(alice) == ["bad_totp"]


def test_unknown_operator_refused_like_a_wrong_password(alice: Env):
    """An unknown username gets the same message as a wrong password, and is recorded."""
    with pytest.raises(AuthenticationFailed, match="got a mismatch"):
        alice.svc.logon("bob", PASSWORD, "123456")
    ev = alice.events.last()
    assert (ev.event_type, ev.operator, ev.details["reason"]) == (
        "logon_failed",
        "bob",
        "unknown_operator",
    )


def test_lockout_after_five_failures_then_unlock_after_ten_minutes(alice: Env):
    """Five failures lock the account for 10 minutes, refusing even correct credentials."""
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            alice.svc.logon("alice", WRONG, alice.code("alice"))
    with pytest.raises(AccountLocked) as err:  # the fifth failure locks
        alice.svc.logon("alice", PASSWORD, "000000")
    locked_at = alice.clock()
    assert err.value.until == locked_at.replace(minute=10)
    lockouts = alice.events.of_type("lockout")
    assert len(lockouts) == 1 and lockouts[0].details["failed_logons"] == 5

    alice.clock.advance(minutes=9, seconds=30)
    with pytest.raises(AccountLocked, match="locked until 2026-01-05T08:10:00"):
        alice.svc.logon("alice", PASSWORD, alice.code("alice"))
    assert reasons(alice)[-1] == "account_locked"

    alice.clock.set(err.value.until)
    assert alice.svc.logon("alice", PASSWORD, alice.code("alice")).principal.username == "alice"
    assert alice.svc.operator("alice").locked_until is None


def test_success_resets_the_failure_count(alice: Env):
    """Four failures, a success, then four more failures do not lock the account."""
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            alice.svc.logon("alice", WRONG, "000000")
    alice.logon("alice")
    assert alice.svc.operator("alice").failed_logons == 0
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            alice.svc.logon("alice", WRONG, "000000")
    assert alice.logon("alice")
    assert alice.events.of_type("lockout") == []


def stored_hash(env: Env) -> str:
    with sqlite3.connect(env.path) as db:
        return str(db.execute("SELECT password_hash FROM auth_operators").fetchone()[0])


def test_hash_upgraded_when_parameters_change(alice: Env):
    """A hash made with older argon2 parameters is replaced at the next good logon."""
    before = stored_hash(alice)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    svc = AuthService.open(alice.path, KEY, clock=alice.clock, hasher=stronger)
    alice.clock.advance(seconds=30)
    svc.logon("alice", PASSWORD, alice.code("alice"))
    svc.close()
    assert "m=8,t=1" in before and "m=16,t=2" in stored_hash(alice)


def test_default_hasher_is_strong(env: Env, tmp_path):
    """Without injection, passwords get argon2id at RFC 9106's low-memory cost (64 MiB, t=3)."""
    svc = AuthService.open(env.path, KEY, clock=env.clock)
    svc.add_operator(env.console, "alice", role="officer", password=PASSWORD)
    svc.close()
    assert stored_hash(env).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_step_claim_is_atomic(alice: Env):
    """Claiming a TOTP step succeeds once: an equal or older step can never be claimed again."""
    engine = open_auth_engine(alice.path)
    with Session(engine) as s, s.begin():
        row = get_operator(s, "alice")
        assert _claim_step(s, row, 100)
        assert not _claim_step(s, row, 100) and not _claim_step(s, row, 99)
        assert _claim_step(s, row, 101) and row.last_totp_step == 101
    close_database(engine)
