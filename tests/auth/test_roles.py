"""The permission table: which role may do which action."""

from __future__ import annotations

import pytest

from mobileid.auth import PERMISSIONS, Action, Role, UnknownRole, parse_role
from mobileid.auth.access import denial
from mobileid.auth.values import Principal

SEARCHES = {Action.SEARCH_LIVE, Action.SEARCH_TRAINING}


def who(role: Role) -> Principal:
    return Principal("x", role, None, frozenset({"g"}), frozenset({"s"}), via="session")


def test_officer_searches_live_and_training():
    """An officer may search the live and the training galleries and record dispositions."""
    for action in (Action.SEARCH_LIVE, Action.SEARCH_TRAINING, Action.RECORD_DISPOSITION):
        assert denial(who(Role.OFFICER), action, "g", None) is None


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR])
def test_non_searching_roles_cannot_search(role):
    """Auditors, admins and supervisors may not search at all."""
    for action in SEARCHES:
        reason = denial(who(role), action, None, None)
        assert reason == f"role {role.value} does not allow {action.value}"


def test_trainee_only_searches_training():
    """A trainee's only action is a training search."""
    assert PERMISSIONS[Role.TRAINEE] == {Action.SEARCH_TRAINING}
    assert denial(who(Role.TRAINEE), Action.SEARCH_LIVE, None, None) is not None


def test_admin_manages_but_auditor_reads_audit():
    """Only admins manage operators; only auditors read the audit log."""
    managers = {r for r in Role if Action.MANAGE_OPERATORS in PERMISSIONS[r]}
    readers = {r for r in Role if Action.READ_AUDIT in PERMISSIONS[r]}
    assert managers == {Role.ADMIN} and readers == {Role.AUDITOR}


def test_no_role_both_administers_and_searches():
    """Separation of duties: no role holds both a search and a management action."""
    for role, actions in PERMISSIONS.items():
        manages = any(a.value.startswith("manage_") for a in actions)
        assert not (manages and actions & SEARCHES), role


def test_every_role_has_a_row():
    """The table covers every role and names only known actions."""
    assert set(PERMISSIONS) == set(Role)
    assert all(isinstance(a, Action) for acts in PERMISSIONS.values() for a in acts)


def test_unknown_role_is_a_clear_input_error():
    """An unknown role names the field, the roles expected and what came."""
    with pytest.raises(UnknownRole) as err:
        parse_role("sheriff")
    assert err.value.field == "role" and "'sheriff'" in err.value.message
    assert "officer" in err.value.message and isinstance(err.value, ValueError)
    assert parse_role(" Officer ") is Role.OFFICER


def test_entitlements_bind_data_actions_only():
    """Search needs the gallery granted; management does not depend on entitlements."""
    officer = who(Role.OFFICER)
    assert denial(officer, Action.SEARCH_LIVE, "other", None) == "no entitlement to gallery 'other'"
    assert denial(officer, Action.VIEW_RECORD, None, "dmv") is not None
    assert denial(who(Role.ADMIN), Action.MANAGE_GALLERIES, "other", None) is None
