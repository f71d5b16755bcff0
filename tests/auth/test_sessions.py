"""Sessions: refreshed by use, ended after 30 minutes idle or by logout."""

from __future__ import annotations

import pytest

from mobileid.auth import SessionExpired
from tests.auth.conftest import Env


@pytest.fixture
def alice(env: Env) -> Env:
    env.add("alice", "officer")
    return env


def test_session_expires_after_thirty_idle_minutes(alice: Env):
    """29 minutes idle is fine; 30 minutes idle ends the session and records session_expired."""
    token = alice.logon("alice")
    alice.clock.advance(minutes=29, seconds=59)
    assert alice.svc.session_principal(token).username == "alice"
    alice.clock.advance(minutes=30)
    with pytest.raises(SessionExpired, match="expired after 30 minutes idle"):
        alice.svc.session_principal(token)
    ev = alice.events.of_type("session_expired")[-1]
    assert (ev.operator, ev.details["reason"], ev.details["idle_s"]) == ("alice", "idle", 1800)
    with pytest.raises(SessionExpired, match=r"ended \(idle\)"):  # stays ended
        alice.svc.session_principal(token)


def test_each_use_refreshes_the_session(alice: Env):
    """A session used every 20 minutes stays alive for hours."""
    token = alice.logon("alice")
    for _ in range(9):
        alice.clock.advance(minutes=20)
        alice.svc.session_principal(token)
    assert alice.events.of_type("session_expired") == []


def test_logout_ends_the_session(alice: Env):
    """After logout the token is refused; logging out twice is harmless."""
    token = alice.logon("alice")
    alice.svc.logout(token)
    alice.svc.logout(token)
    with pytest.raises(SessionExpired, match=r"ended \(logout\)"):
        alice.svc.session_principal(token)
    assert len(alice.events.of_type("logout")) == 1


def test_unknown_session_refused_and_recorded(alice: Env):
    """A made-up session token is refused and recorded as access_denied."""
    with pytest.raises(SessionExpired, match="unknown"):
        alice.svc.session_principal("not-a-session")
    assert alice.events.last().details["reason"] == "session_unknown"


def test_session_token_stored_only_as_digest(alice: Env):
    """The session token itself never reaches the database."""
    token = alice.logon("alice")
    assert token.encode() not in alice.path.read_bytes()
