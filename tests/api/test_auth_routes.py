"""Logon, sessions and tokens over HTTP: the same rules as the command line's logon."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from mobileid.api import ApiOptions, create_app
from mobileid.audit import EventType
from tests.api.conftest import API, OPERATORS, ROOT, Deployment, assert_problem
from tests.auth.conftest import PASSWORD


def test_login_gives_a_session_that_me_describes_and_logout_ends(deployment: Deployment) -> None:
    """A session token from /auth/login works as Bearer; /me names the operator; logout ends it."""
    c = deployment.client
    session = deployment.login("sup1")
    assert session["operator"] == "sup1" and session["role"] == "supervisor"
    assert session["idle_timeout_s"] == 1800
    headers = {"Authorization": f"Bearer {session['token']}"}
    me = c.get(f"{API}/me", headers=headers).json()
    assert (me["operator"], me["role"], me["unit"], me["via"]) == (
        "sup1",
        "supervisor",
        "unit-7",
        "session",
    )
    assert me["galleries"] == ["field"] and me["sources"] == ["registry"] and me["scopes"] is None
    assert c.post(f"{API}/auth/logout", headers=headers).status_code == 204
    assert_problem(c.get(f"{API}/me", headers=headers), 401, "session_expired")


def test_an_api_token_shows_its_scopes(deployment: Deployment) -> None:
    """An API token from `operators token` is accepted as Bearer and /me lists its scopes."""
    me = deployment.client.get(f"{API}/me", headers=deployment.headers("off1")).json()
    assert me["via"] == "token" and me["scopes"] == sorted(OPERATORS["off1"][3])


def test_a_wrong_code_is_401_and_audited(deployment: Deployment) -> None:
    """A wrong one-time code is refused with 401 and recorded as a failed logon."""
    body = {"username": "aud1", "password": PASSWORD, "totp": "000000"}
    before = deployment.audit_count()
    answer = deployment.client.post(f"{API}/auth/login", json=body)
    assert_problem(answer, 401, "authentication_failed")
    assert answer.headers["www-authenticate"] == "Bearer"
    new = deployment.ctx.audit.read(before + 1)
    assert [(e.event, e.operator) for e in new] == [(EventType.LOGON_FAILED, "aud1")]


def test_no_token_and_forged_tokens_are_401(deployment: Deployment) -> None:
    """No token, a forged API token and an unknown session token are each 401, never 403."""
    c = deployment.client
    assert_problem(c.get(f"{API}/me"), 401, "authentication_failed")
    forged = {"Authorization": "Bearer mid_not-a-real-token"}
    assert_problem(c.get(f"{API}/me", headers=forged), 401, "token_refused")
    unknown = {"Authorization": "Bearer some-session-that-never-was"}
    assert_problem(c.get(f"{API}/me", headers=unknown), 401, "session_expired")
    denied = [e for e in deployment.ctx.audit.read() if e.event == EventType.ACCESS_DENIED]
    assert {e.details.get("reason") for e in denied} >= {"token_forged", "session_unknown"}


def test_expired_and_revoked_tokens_are_401(deployment: Deployment) -> None:
    """A token past its expiry and a revoked token are refused (401 token_refused)."""
    auth = deployment.auth
    logon = auth.logon("off2", PASSWORD, pyotp.TOTP(deployment.totp["off2"]).now())  # once
    short = auth.issue_token(logon.principal, ["search_live"], expires_in=timedelta(seconds=1))
    revoked = auth.issue_token(logon.principal, ["search_live"], expires_in=timedelta(hours=1))
    auth.revoke_token(ROOT, revoked.token_id)
    auth.logout(logon.session_token)
    time.sleep(1.2)
    c = deployment.client
    for token in (short.token, revoked.token):
        answer = c.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(answer, 401, "token_refused")


def test_five_failures_lock_the_account(deployment: Deployment) -> None:
    """After 5 wrong passwords the account is locked: the right password is then refused."""
    auth = deployment.auth
    new = auth.add_operator(ROOT, "lock1", role="officer", password=PASSWORD)
    c = deployment.client
    code = pyotp.TOTP(new.totp_secret).now()
    for _ in range(5):
        wrong = {"username": "lock1", "password": "not the password", "totp": code}
        assert_problem(c.post(f"{API}/auth/login", json=wrong), 401)
    right = {"username": "lock1", "password": PASSWORD, "totp": code}
    assert_problem(c.post(f"{API}/auth/login", json=right), 401, "account_locked")


def test_login_attempts_are_limited_per_address(deployment: Deployment) -> None:
    """Past the per-address limit, logins are refused with 429 and Retry-After, and audited."""
    options = ApiOptions(workers=1, queue=0, login_per_address=2, login_window_s=60)
    app = create_app(deployment.settings, context=deployment.ctx, options=options)
    c = TestClient(app)  # no lifespan needed: logins do not use the work pool
    body = {"username": "trn1", "password": "wrong", "totp": "000000"}
    for _ in range(2):
        assert_problem(c.post(f"{API}/auth/login", json=body), 401)
    before = deployment.audit_count()
    answer = c.post(f"{API}/auth/login", json=body)
    assert_problem(answer, 429, "login_rate_limited")
    assert int(answer.headers["retry-after"]) > 0
    (entry,) = deployment.ctx.audit.read(before + 1)
    assert (entry.event, entry.details["reason"]) == (EventType.LOGON_FAILED, "rate_limited")


def test_logout_refuses_an_api_token(deployment: Deployment) -> None:
    """API tokens are revoked by an administrator, not logged out: 400."""
    answer = deployment.client.post(f"{API}/auth/logout", headers=deployment.headers("off2"))
    assert_problem(answer, 400, "invalid_argument")
