"""Operators: creation, storage at rest, clear refusals, role and entitlement changes."""

from __future__ import annotations

import sqlite3

import pytest

from mobileid.auth import (
    AccessDenied,
    AuthenticationFailed,
    AuthService,
    DeploymentKeyError,
    DuplicateOperator,
    LastAdmin,
    Role,
    SessionExpired,
    UnknownOperator,
    UnknownRole,
    WeakPassword,
)
from tests.auth.conftest import KEY, PASSWORD, Env, fast_hasher


def test_add_operator_returns_totp_uri_once(env: Env):
    """A new operator gets a TOTP provisioning URI; the listing never shows secrets."""
    new = env.svc.add_operator(
        env.console, "Alice", role="officer", password=PASSWORD, display_name="A. Smith",
        unit="North",
    )  # fmt: skip
    assert new.totp_uri.startswith("otpauth://totp/mobileid:alice?secret=")
    assert new.totp_secret in new.totp_uri
    info = env.svc.operator("alice")
    assert (info.username, info.role, info.unit, info.display_name) == (
        "alice", Role.OFFICER, "North", "A. Smith",
    )  # fmt: skip
    assert new.totp_secret not in repr(env.svc.list_operators())
    ev = env.events.last()
    assert (ev.event_type, ev.operator, ev.outcome) == (
        "operator_change",
        "console:tester",
        "success",
    )
    assert ev.details["change"] == "created" and ev.details["target"] == "alice"


def test_passwords_are_argon2_hashes_and_totp_sealed(env: Env):
    """The database holds an argon2id hash and an AES-GCM ciphertext, never the plaintext."""
    secret = env.add("alice", "officer")
    with sqlite3.connect(env.path) as db:
        pw_hash, sealed = db.execute(
            "SELECT password_hash, totp_sealed FROM auth_operators WHERE username='alice'"
        ).fetchone()
    assert pw_hash.startswith("$argon2id$") and PASSWORD not in pw_hash
    assert secret.encode() not in sealed and len(sealed) >= len(secret) + 12 + 16
    assert PASSWORD.encode() not in env.path.read_bytes()
    assert secret.encode() not in env.path.read_bytes()


def test_wrong_deployment_key_is_a_clear_error(env: Env):
    """With another deployment key the TOTP secret cannot be read, and the error says so."""
    env.add("alice", "officer")
    other = AuthService.open(env.path, bytes(32), clock=env.clock, hasher=fast_hasher())
    env.clock.advance(seconds=30)
    with pytest.raises(DeploymentKeyError, match="expected key"):
        other.logon("alice", PASSWORD, env.code("alice"))
    other.close()


def test_duplicate_username_refused(env: Env):
    """A username is unique regardless of case."""
    env.add("alice", "officer")
    with pytest.raises(DuplicateOperator) as err:
        env.add("ALICE", "auditor")
    assert err.value.field == "username" and "'alice'" in err.value.message


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("short", "at least 12 characters, got 5"),
        ("aaaaaaaaaaaaaaaa", "not one character repeated"),
        ("my-name-is-alice!", "not the username"),
    ],
)
def test_weak_passwords_refused(env: Env, password, expected):
    """Short, repetitive or username-based passwords are refused before anything is stored."""
    with pytest.raises(WeakPassword, match=expected) as err:
        env.svc.add_operator(env.console, "alice", role="officer", password=password)
    assert err.value.field == "password" and env.svc.list_operators() == []


def test_unknown_role_refused(env: Env):
    """Adding an operator with a role that does not exist is an input error."""
    with pytest.raises(UnknownRole, match="got 'god'"):
        env.add("alice", "god")


def test_bad_username_refused(env: Env):
    """Usernames are short ASCII words; anything else names the field."""
    with pytest.raises(ValueError, match="username: expected 2-64 characters"):
        env.add("al ice; drop", "officer")


def test_only_admins_manage_operators(env: Env):
    """An officer cannot add operators: refused, and recorded as access_denied."""
    env.add("alice", "officer")
    officer = env.principal("alice")
    with pytest.raises(AccessDenied) as err:
        env.svc.add_operator(officer, "mallory", role="admin", password=PASSWORD)
    assert err.value.operator == "alice" and err.value.action == "manage_operators"
    assert "role officer does not allow manage_operators" in err.value.message
    ev = env.events.last()
    assert (ev.event_type, ev.operator, ev.role) == ("access_denied", "alice", "officer")
    assert [o.username for o in env.svc.list_operators()] == ["alice"]


def test_last_admin_cannot_be_disabled_or_demoted(env: Env):
    """The last active admin can be neither disabled nor given another role."""
    env.add("root1", "admin")
    with pytest.raises(LastAdmin, match="last active admin"):
        env.svc.disable_operator(env.console, "root1")
    with pytest.raises(LastAdmin):
        env.svc.set_role(env.console, "root1", "officer")
    env.add("root2", "admin")
    assert env.svc.disable_operator(env.console, "root1").disabled_at is not None
    with pytest.raises(LastAdmin):
        env.svc.disable_operator(env.console, "root2")


def test_role_change_and_grants_are_permission_changes(env: Env):
    """Role changes, grants and revocations are stored and recorded as permission_change."""
    env.add("alice", "trainee")
    env.svc.set_role(env.console, "alice", Role.OFFICER)
    env.svc.grant(env.console, "alice", gallery="wanted")
    info = env.svc.grant(env.console, "alice", source="vehicles")
    assert (info.role, info.galleries, info.sources) == (Role.OFFICER, ("wanted",), ("vehicles",))
    info = env.svc.revoke(env.console, "alice", gallery="wanted")
    assert info.galleries == ()
    changes = [e.details for e in env.events.of_type("permission_change")]
    assert [c["change"] for c in changes] == ["role", "grant", "grant", "revoke"]
    assert changes[0]["old_role"] == "trainee" and changes[1]["gallery"] == "wanted"
    with pytest.raises(ValueError, match="exactly one of gallery or source"):
        env.svc.grant(env.console, "alice")


def test_disable_ends_sessions(env: Env):
    """A disabled operator's sessions end and they cannot log on again."""
    env.add("alice", "officer")
    token = env.logon("alice")
    env.svc.disable_operator(env.console, "alice")
    with pytest.raises(SessionExpired, match="ended"):
        env.svc.session_principal(token)
    with pytest.raises(AuthenticationFailed, match="got a mismatch"):
        env.logon("alice")
    assert env.events.last().details["reason"] == "disabled"


def test_unknown_operator_is_not_found(env: Env):
    """Changing an operator that does not exist names them."""
    with pytest.raises(UnknownOperator, match="got 'ghost'"):
        env.svc.disable_operator(env.console, "ghost")


class BrokenAudit:
    """An event sink that cannot write (a full disk, a dead audit database)."""

    def record(self, event_type, operator, role, outcome, details, *, uow=None):
        raise OSError("audit log unavailable")


def test_change_without_event_does_not_happen(env: Env):
    """If the event of a change cannot be recorded, the change is rolled back."""
    svc = AuthService.open(
        env.path, KEY, events=BrokenAudit(), clock=env.clock, hasher=fast_hasher()
    )
    with pytest.raises(OSError, match="audit log unavailable"):
        svc.add_operator(env.console, "alice", role="officer", password=PASSWORD)
    assert svc.list_operators() == []
    env.add("bob", "officer")
    with pytest.raises(OSError):
        svc.grant(env.console, "bob", gallery="wanted")
    assert svc.operator("bob").galleries == ()
    svc.close()
