"""Searches by operators: roles and entitlements decide, refusals are audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest

from mobileid.audit import EventType
from mobileid.auth import AccessDenied, AuthenticationFailed, AuthService, console_principal
from mobileid.auth.crypto import load_or_create_key
from mobileid.config import Settings
from mobileid.service.access import act_as
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from tests.auth.conftest import PASSWORD, fast_hasher
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes


def _token(svc: AuthService, username: str, role: str, *, gallery: str | None, scope) -> str:
    new = svc.add_operator(console_principal("root"), username, role=role, password=PASSWORD)
    if gallery:
        svc.grant(console_principal("root"), username, gallery=gallery)
    logon = svc.logon(username, PASSWORD, pyotp.TOTP(new.totp_secret).now())
    return svc.issue_token(logon.principal, scope, expires_in=timedelta(hours=1)).token


@pytest.fixture(scope="module")
def setup(tmp_path_factory, lfw_dev):
    root = tmp_path_factory.mktemp("access")
    link_subjects(lfw_dev, root / "people", ["Bill_Clinton", "Carlos_Menem"], per_subject=2)
    settings = replace(Settings(), data_dir=root / "data", workers=1)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    enrol_directory(ctx, root / "people", gallery="field")
    enrol_directory(ctx, root / "people", gallery="other")
    key = load_or_create_key(settings.deployment_key_path)
    svc = AuthService.open(
        settings.data_dir / "operators.sqlite3",
        key,
        events=AuditedAuthEvents(ctx.audit),
        hasher=fast_hasher(),
    )
    tokens = {
        "officer": _token(svc, "officer1", "officer", gallery="field", scope=["search_live"]),
        "auditor": _token(svc, "auditor1", "auditor", gallery=None, scope=["read_audit"]),
    }
    svc.close()
    probe = (lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg").read_bytes()
    return settings, tokens, probe


def test_an_entitled_officer_searches_and_is_named_in_the_log(setup):
    """An officer's token searches its granted gallery; the audit entry names the officer."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    principal = act_as(ctx, tokens["officer"])
    reason = require_reason(ctx, LIVE_PURPOSE, "CASE-21")
    result = identify_face(ctx, probe, reason=reason, galleries=["field"], principal=principal)
    assert result.candidates[0].name == "Bill Clinton"
    last = [e for e in ctx.audit.read() if e.event == EventType.SEARCH][-1]
    assert (last.operator, last.role) == ("officer1", "officer")


def test_a_gallery_outside_the_entitlements_is_refused_and_audited(setup):
    """The officer may not search a gallery it was not granted; access_denied is logged."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    principal = act_as(ctx, tokens["officer"])
    reason = require_reason(ctx, LIVE_PURPOSE, "CASE-22")
    with pytest.raises(AccessDenied):
        identify_face(ctx, probe, reason=reason, galleries=["other"], principal=principal)
    denied = [e for e in ctx.audit.read() if e.event == EventType.ACCESS_DENIED]
    assert denied and denied[-1].operator == "officer1"


def test_an_auditor_cannot_search(setup):
    """The auditor role reads the log; a search by an auditor's token is refused."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    principal = act_as(ctx, tokens["auditor"])
    reason = require_reason(ctx, LIVE_PURPOSE, "CASE-23")
    with pytest.raises(AccessDenied):
        identify_face(ctx, probe, reason=reason, galleries=["field"], principal=principal)


def test_once_operators_exist_the_console_needs_a_token(setup):
    """With operators configured, acting without a token or with a forged one is refused."""
    settings, _, _ = setup
    ctx = open_context(settings)
    with pytest.raises(AuthenticationFailed, match="token"):
        act_as(ctx, None)
    with pytest.raises(AuthenticationFailed):
        act_as(ctx, "forged-token-value")
    assert ctx.audit.verify().ok
