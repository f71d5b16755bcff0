"""A clock that jumps backwards never unlocks early nor extends a token; naive clocks refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mobileid.auth import (
    AccountLocked,
    AuthenticationFailed,
    AuthService,
    SessionExpired,
    TokenRefused,
)
from mobileid.auth.clock import advance
from tests.auth.conftest import KEY, PASSWORD, START, Env, fast_hasher


def lock(env: Env, username: str) -> datetime:
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):  # the fifth is AccountLocked, a subclass
            env.svc.logon(username, "wrong horse battery", "000000")
    return env.clock()


def test_backward_jump_does_not_unlock_early(env: Env):
    """After a 1 h backward jump the lock still lasts 10 minutes of elapsed time."""
    env.add("alice", "officer")
    lock(env, "alice")
    env.clock.advance(minutes=2)
    env.clock.jump(hours=-1)  # the wall clock is set back
    env.clock.advance(minutes=7, seconds=30)
    with pytest.raises(AccountLocked):
        env.svc.logon("alice", PASSWORD, env.code("alice"))
    ev = env.events.of_type("clock_backwards")
    assert len(ev) == 1 and ev[0].details["jumped_back_s"] == 3600.0
    env.clock.advance(seconds=30)  # 10 minutes elapsed in all
    assert env.svc.logon("alice", PASSWORD, env.code("alice")).principal.username == "alice"


def test_backward_jump_does_not_extend_a_token(env: Env):
    """A 1 h token dies after 1 h of elapsed time even if the clock is set back 2 h."""
    env.add("alice", "officer")
    issued = env.svc.issue_token(
        env.principal("alice"), ["search_live"], expires_in=timedelta(hours=1)
    )
    env.clock.advance(minutes=30)
    env.clock.jump(hours=-2)
    env.svc.token_principal(issued.token)  # 30 min elapsed: still valid
    env.clock.advance(minutes=30)
    with pytest.raises(TokenRefused, match="expired"):
        env.svc.token_principal(issued.token)


def test_backward_jump_does_not_revive_idle_session(env: Env):
    """Setting the clock back does not make an idle session look fresh."""
    env.add("alice", "officer")
    token = env.logon("alice")
    env.clock.advance(minutes=20)
    env.clock.jump(hours=-3)
    env.clock.advance(minutes=10)
    with pytest.raises(SessionExpired, match="idle"):
        env.svc.session_principal(token)


def test_offset_survives_restart(env: Env):
    """The absorbed jump is stored: a new service process keeps auth time monotonic."""
    env.add("alice", "officer")
    lock(env, "alice")
    env.clock.jump(hours=-1)
    env.svc.operator("alice")
    env.svc.list_operators()
    svc2 = AuthService.open(env.path, KEY, clock=env.clock, hasher=fast_hasher())
    env.clock.advance(minutes=9)
    with pytest.raises(AccountLocked):
        svc2.logon("alice", PASSWORD, env.code("alice"))
    svc2.close()


def test_advance_is_monotonic():
    """The pure rule: readings behind the high-water mark are lifted and the gap remembered."""
    r = advance(START, START + timedelta(seconds=90), timedelta(0))
    assert (r.now, r.offset, r.jumped_back) == (
        START + timedelta(seconds=90),
        timedelta(seconds=90),
        timedelta(seconds=90),
    )
    r2 = advance(START + timedelta(seconds=10), r.now, r.offset)
    assert r2.now == START + timedelta(seconds=100) and r2.jumped_back is None


def test_naive_clock_refused(tmp_path):
    """A clock returning naive datetimes is a clear error, not a silent local-time guess."""
    svc = AuthService.open(
        tmp_path / "a.sqlite3", KEY, clock=lambda: datetime(2026, 1, 1), hasher=fast_hasher()
    )
    with pytest.raises(ValueError, match="clock: expected an aware UTC datetime, got naive"):
        svc.logon("alice", PASSWORD, "000000")
    svc.close()
