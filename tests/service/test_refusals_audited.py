"""Every refusal of the operator store, written to the real tamper-evident audit log (not an
in-memory sink): lockout, forged, expired and revoked tokens, a replayed TOTP code, a clock set
backwards and a stored role this release does not know. The chain verifies afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import update

from mobileid.audit import AuditEntry, EmbeddedAuditLog, open_audit_log
from mobileid.auth import (
    AccountLocked,
    AuthenticationFailed,
    AuthService,
    SessionExpired,
    TokenRefused,
    console_principal,
    open_auth_engine,
)
from mobileid.auth.store import OperatorRow
from mobileid.service.auth_audit import AuditedAuthEvents
from tests.auth.conftest import KEY, PASSWORD, DrivenClock, fast_hasher


@dataclass
class Site:
    svc: AuthService
    log: EmbeddedAuditLog
    clock: DrivenClock
    path: Path
    secret: str

    def code(self, steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(self.clock(), counter_offset=steps)

    def new_entries(self, before: int) -> list[AuditEntry]:
        return self.log.read(before + 1)

    def head(self) -> int:
        return self.log.head().sequence


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    clock = DrivenClock()
    log = open_audit_log(tmp_path / "data")
    path = tmp_path / "operators.sqlite3"
    svc = AuthService.open(
        path, KEY, events=AuditedAuthEvents(log), clock=clock, monotonic=clock.monotonic,
        hasher=fast_hasher(),
    )  # fmt: skip
    new = svc.add_operator(console_principal("root"), "off1", role="officer", password=PASSWORD)
    yield Site(svc, log, clock, path, new.totp_secret)
    assert log.verify().ok  # every refusal above left a chain that still verifies
    svc.close()
    log.close()


def _token(site: Site, hours: float = 1) -> tuple[str, str]:
    site.clock.advance(seconds=30)
    logon = site.svc.logon("off1", PASSWORD, site.code())
    issued = site.svc.issue_token(
        logon.principal, ["search_live"], expires_in=timedelta(hours=hours)
    )
    return issued.token, issued.token_id


def test_lockout_is_in_the_log(site: Site) -> None:
    """Five wrong passwords lock the account: five logon_failed entries, one lockout, and the
    right password during the lock is refused and logged as account_locked."""
    before = site.head()
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            site.svc.logon("off1", "not the password at all", site.code())
    with pytest.raises(AccountLocked):
        site.svc.logon("off1", PASSWORD, site.code())
    found = [(e.event, e.details.get("reason")) for e in site.new_entries(before)]
    assert found == [("logon_failed", "bad_password")] * 5 + [
        ("lockout", None),
        ("logon_failed", "account_locked"),
    ]
    assert all(e.operator == "off1" and e.outcome == "failed" for e in site.new_entries(before))


@pytest.mark.parametrize("kind", ["forged", "expired", "revoked"])
def test_refused_tokens_are_in_the_log(site: Site, kind: str) -> None:
    """A forged, an expired and a revoked token are each refused and logged as access_denied
    with the reason (the forged one names nobody: it matches no operator)."""
    token, token_id = _token(site)
    if kind == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif kind == "expired":
        site.clock.advance(hours=1, seconds=1)
    else:
        site.svc.revoke_token(console_principal("root"), token_id)
    before = site.head()
    with pytest.raises(TokenRefused):
        site.svc.token_principal(token)
    (entry,) = site.new_entries(before)
    assert (entry.event, entry.outcome, entry.details["reason"]) == (
        "access_denied",
        "denied",
        f"token_{kind}",
    )
    assert entry.operator == ("(unknown)" if kind == "forged" else "off1")


def test_a_replayed_totp_code_is_in_the_log(site: Site) -> None:
    """A one-time code used for a logon is refused the second time, logged as totp_replayed."""
    site.clock.advance(seconds=30)
    code = site.code()
    session = site.svc.logon("off1", PASSWORD, code).session_token
    site.svc.logout(session)
    before = site.head()
    with pytest.raises(AuthenticationFailed):
        site.svc.logon("off1", PASSWORD, code)
    (entry,) = site.new_entries(before)
    assert (entry.event, entry.details["reason"]) == ("logon_failed", "totp_replayed")


def test_a_clock_set_backwards_is_in_the_log_and_does_not_revive_a_token(site: Site) -> None:
    """The wall clock set back two hours is logged (clock_backwards) and auth time does not
    go back with it: a token that expired stays expired."""
    token, _ = _token(site, hours=1)
    site.clock.advance(hours=1, minutes=1)
    with pytest.raises(TokenRefused):
        site.svc.token_principal(token)
    before = site.head()
    site.clock.jump(hours=-2)
    with pytest.raises(TokenRefused):
        site.svc.token_principal(token)
    found = site.new_entries(before)
    assert [(e.event, e.details.get("reason")) for e in found] == [
        ("clock_backwards", None),
        ("access_denied", "token_expired"),
    ]
    assert found[0].details["jumped_back_s"] >= 7000


def test_an_unknown_stored_role_is_refused_and_logged(site: Site) -> None:
    """A role written into the database by hand ("superuser") gives no rights: its token and
    its session are refused, its logon too, each logged with reason unknown_role."""
    token, _ = _token(site)
    site.clock.advance(seconds=30)
    session = site.svc.logon("off1", PASSWORD, site.code()).session_token
    engine = open_auth_engine(site.path)
    with engine.begin() as db:
        db.execute(
            update(OperatorRow).where(OperatorRow.username == "off1").values(role="superuser")
        )
    engine.dispose()
    before = site.head()
    with pytest.raises(TokenRefused):
        site.svc.token_principal(token)
    with pytest.raises(SessionExpired):
        site.svc.session_principal(session)
    site.clock.advance(seconds=30)
    with pytest.raises(AuthenticationFailed):
        site.svc.logon("off1", PASSWORD, site.code())
    found = [(e.event, e.role, e.details["reason"]) for e in site.new_entries(before)]
    assert found == [
        ("access_denied", "superuser", "unknown_role"),
        ("access_denied", "superuser", "unknown_role"),
        ("logon_failed", "superuser", "unknown_role"),
    ]
