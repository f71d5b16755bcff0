"""authorize(): role, entitlements per gallery and record source, recorded denials."""

from __future__ import annotations

import pytest

from mobileid.auth import AccessDenied, UnknownAction
from tests.auth.conftest import Env


@pytest.fixture
def team(env: Env) -> Env:
    for name, role in [("off", "officer"), ("aud", "auditor"), ("adm", "admin"), ("tr", "trainee")]:
        env.add(name, role)
    env.svc.grant(env.console, "off", gallery="wanted")
    env.svc.grant(env.console, "off", source="vehicles")
    env.svc.grant(env.console, "tr", gallery="training")
    return env


def test_officer_searches_granted_gallery_only(team: Env):
    """An officer searches a granted gallery and is refused another, naming it."""
    p = team.principal("off")
    team.svc.authorize(p, "search_live", gallery="wanted")
    with pytest.raises(AccessDenied) as err:
        team.svc.authorize(p, "search_live", gallery="missing-persons")
    assert err.value.message == (
        "action: operator 'off' may not search_live: no entitlement to gallery 'missing-persons'"
    )
    ev = team.events.last()
    assert (ev.event_type, ev.operator, ev.role, ev.outcome) == (
        "access_denied", "off", "officer", "denied",
    )  # fmt: skip
    assert ev.details["gallery"] == "missing-persons"


def test_record_source_entitlement(team: Env):
    """Viewing a record needs that record source granted."""
    p = team.principal("off")
    team.svc.authorize(p, "view_record", source="vehicles")
    with pytest.raises(AccessDenied, match="no entitlement to record source 'firearms'"):
        team.svc.authorize(p, "view_record", source="firearms")


@pytest.mark.parametrize("name", ["aud", "adm"])
def test_auditor_and_admin_cannot_search(team: Env, name: str):
    """Auditors and admins are refused any search, even with a gallery named."""
    p = team.principal(name)
    for action in ("search_live", "search_training"):
        with pytest.raises(AccessDenied, match=f"does not allow {action}"):
            team.svc.authorize(p, action, gallery="wanted")
    assert len(team.events.of_type("access_denied")) == 2


def test_trainee_training_range_only(team: Env):
    """A trainee searches the training gallery and nothing live."""
    p = team.principal("tr")
    team.svc.authorize(p, "search_training", gallery="training")
    with pytest.raises(AccessDenied, match="role trainee does not allow search_live"):
        team.svc.authorize(p, "search_live", gallery="training")


def test_grant_takes_effect_on_next_request(team: Env):
    """A grant made during a session applies to the session's next request."""
    token = team.logon("off")
    team.svc.grant(team.console, "off", gallery="missing-persons")
    p = team.svc.session_principal(token)
    team.svc.authorize(p, "search_live", gallery="missing-persons")


def test_admin_and_auditor_allowed_actions(team: Env):
    """Admins manage galleries and sources; auditors read the audit log."""
    team.svc.authorize(team.principal("adm"), "manage_galleries", gallery="wanted")
    team.svc.authorize(team.principal("aud"), "read_audit")


def test_unknown_action_is_an_input_error(team: Env):
    """A misspelt action is refused as input, not silently denied or allowed."""
    with pytest.raises(UnknownAction, match="got 'serch_live'"):
        team.svc.authorize(team.principal("off"), "serch_live")
