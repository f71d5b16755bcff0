"""Every kind of security-relevant outcome reaches the AuthEvents callback, without secrets."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mobileid.auth import AccessDenied, AuthenticationFailed, EventType, SessionExpired
from tests.auth.conftest import PASSWORD, Env


def test_a_working_day_emits_every_event_type(env: Env):
    """One scenario produces each event type, each JSON-ready and free of secrets."""
    env.add("root", "admin")
    env.add("alice", "officer")
    env.svc.grant(env.console, "alice", gallery="wanted")  # permission_change
    for _ in range(5):  # logon_failed x5, lockout
        with pytest.raises(AuthenticationFailed):
            env.svc.logon("alice", "wrong horse battery", "000000")
    env.clock.advance(minutes=10)
    token = env.logon("alice")  # logon
    p = env.svc.session_principal(token)
    with pytest.raises(AccessDenied):  # access_denied
        env.svc.authorize(p, "search_live", gallery="elsewhere")
    issued = env.svc.issue_token(p, ["search_live"], expires_in=timedelta(hours=1))
    env.svc.revoke_token(p, issued.token_id)  # token_revoked
    env.svc.logout(token)  # logout
    other = env.logon("alice")
    env.clock.advance(minutes=31)
    with pytest.raises(SessionExpired):  # session_expired
        env.svc.session_principal(other)
    env.clock.jump(minutes=-5)
    env.logon("alice")  # clock_backwards
    seen = {e.event_type for e in env.events.events}
    assert seen == {t.value for t in EventType}
    dumped = json.dumps([e.details for e in env.events.events])
    for secret in (PASSWORD, issued.token, token, other, env.secrets["alice"]):
        assert secret not in dumped
