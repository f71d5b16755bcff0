"""API tokens: scoped, expiring, revocable, hashed; forged ones refused."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest

from mobileid.auth import AccessDenied, Action, TokenRefused
from tests.auth.conftest import Env

HOUR = timedelta(hours=1)


@pytest.fixture
def alice(env: Env) -> Env:
    env.add("alice", "officer")
    env.svc.grant(env.console, "alice", gallery="wanted")
    return env


def test_token_acts_within_its_scope(alice: Env):
    """A search-only token may search, and nothing else the officer could do."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    assert issued.token.startswith("mid_") and issued.scope == {Action.SEARCH_LIVE}
    p = alice.svc.token_principal(issued.token)
    assert (p.username, p.via, p.credential_id) == ("alice", "token", issued.token_id)
    alice.svc.authorize(p, "search_live", gallery="wanted")
    with pytest.raises(AccessDenied, match="outside the scope of token") as err:
        alice.svc.authorize(p, Action.RECORD_DISPOSITION)
    assert err.value.reason.startswith("record_disposition is outside")
    ev = alice.events.last()
    assert (ev.event_type, ev.details["via"], ev.details["action"]) == (
        "access_denied", "token", "record_disposition",
    )  # fmt: skip
    issued_ev = alice.events.of_type("token_issued")[0]
    assert issued_ev.details["scope"] == ["search_live"] and issued.token not in str(issued_ev)


def test_scope_beyond_the_role_refused(alice: Env):
    """An officer cannot mint a token that manages operators."""
    with pytest.raises(ValueError, match="scope: expected actions of role officer, got manage"):
        alice.svc.issue_token(alice.principal("alice"), ["manage_operators"], expires_in=HOUR)
    with pytest.raises(ValueError, match="at least one action"):
        alice.svc.issue_token(alice.principal("alice"), [], expires_in=HOUR)


def test_token_cannot_mint_tokens(alice: Env):
    """A token-authenticated caller cannot issue further tokens."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    with pytest.raises(AccessDenied, match="issued from a logon session"):
        alice.svc.issue_token(
            alice.svc.token_principal(issued.token), ["search_live"], expires_in=HOUR
        )


def test_token_expires(alice: Env):
    """A token works until its expiry and is refused from then on, with an event."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    alice.clock.advance(minutes=59)
    alice.svc.token_principal(issued.token)
    alice.clock.advance(minutes=1)
    with pytest.raises(TokenRefused, match="expired at") as err:
        alice.svc.token_principal(issued.token)
    assert err.value.reason.startswith(f"token {issued.token_id} expired")
    assert alice.events.last().details == {"reason": "token_expired", "token_id": issued.token_id}


def test_lifetime_must_be_positive_and_bounded(alice: Env):
    """Tokens need an expiry between now and a year."""
    p = alice.principal("alice")
    for bad in (timedelta(0), timedelta(days=366)):
        with pytest.raises(ValueError, match="expires_in: expected more than 0 s"):
            alice.svc.issue_token(p, ["search_live"], expires_in=bad)


def test_revoked_token_refused(alice: Env):
    """A revoked token is refused; revocation is recorded."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    alice.svc.revoke_token(alice.principal("alice"), issued.token_id)
    with pytest.raises(TokenRefused, match="revoked at"):
        alice.svc.token_principal(issued.token)
    ev = alice.events.of_type("token_revoked")[0]
    assert (ev.operator, ev.details["token_id"]) == ("alice", issued.token_id)
    assert alice.events.last().details["reason"] == "token_revoked"
    assert alice.svc.list_tokens("alice")[0].revoked_at is not None


def test_only_owner_or_admin_revokes(alice: Env):
    """Another officer cannot revoke alice's token; an admin can."""
    alice.add("bob", "officer")
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    with pytest.raises(AccessDenied):
        alice.svc.revoke_token(alice.principal("bob"), issued.token_id)
    alice.svc.revoke_token(alice.console, issued.token_id)
    with pytest.raises(TokenRefused):
        alice.svc.token_principal(issued.token)


def test_forged_token_refused(alice: Env):
    """A token the system never issued is refused and recorded as forged."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    forged = issued.token[:-2] + ("AA" if not issued.token.endswith("AA") else "BB")
    with pytest.raises(TokenRefused, match="unknown token"):
        alice.svc.token_principal(forged)
    ev = alice.events.last()
    assert (ev.event_type, ev.operator, ev.details["reason"]) == (
        "access_denied",
        None,
        "token_forged",
    )


def test_token_of_disabled_operator_refused(alice: Env):
    """Disabling an operator stops their tokens at once."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    alice.svc.disable_operator(alice.console, "alice")
    with pytest.raises(TokenRefused, match="disabled operator"):
        alice.svc.token_principal(issued.token)


def test_token_follows_a_demotion(alice: Env):
    """A token's scope never exceeds the owner's current role."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    alice.svc.set_role(alice.console, "alice", "trainee")
    with pytest.raises(AccessDenied, match="role trainee does not allow search_live"):
        alice.svc.authorize(alice.svc.token_principal(issued.token), "search_live")


def test_token_stored_only_as_sha256(alice: Env):
    """The database holds the token's SHA-256, not the token."""
    issued = alice.svc.issue_token(alice.principal("alice"), ["search_live"], expires_in=HOUR)
    with sqlite3.connect(alice.path) as db:
        (stored,) = db.execute("SELECT token_sha256 FROM auth_api_tokens").fetchone()
    assert stored == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token.encode() not in alice.path.read_bytes()
