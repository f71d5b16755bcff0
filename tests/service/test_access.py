"""Searches by operators: roles and entitlements decide, refusals are audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest

from mobileid.audit import EventType
from mobileid.auth import AccessDenied, AuthenticationFailed, AuthService, console_principal
from mobileid.auth.crypto import load_or_create_key
from mobileid.config import Settings
from mobileid.service.access import caller_from_token
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.service.training import certify_operator
from tests.auth.conftest import PASSWORD, fast_hasher
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

CONSOLE = console_caller()


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
    enrol_directory(ctx, CONSOLE, root / "people", gallery="field")
    enrol_directory(ctx, CONSOLE, root / "people", gallery="other")
    key = load_or_create_key(settings.deployment_key_path)
    svc = AuthService(
        ctx.engine,
        key,
        events=AuditedAuthEvents(ctx.audit),
        hasher=fast_hasher(),
    )
    tokens = {
        "officer": _token(svc, "officer1", "officer", gallery="field", scope=["search_live"]),
        "auditor": _token(svc, "auditor1", "auditor", gallery=None, scope=["read_audit"]),
        "officer2": _token(svc, "officer2", "officer", gallery="field", scope=["search_live"]),
    }
    svc.close()
    for officer in ("officer1", "officer2"):  # live searches need a current certification
        certify_operator(ctx, CONSOLE, officer, exempt="access tests: certified elsewhere")
    ctx.close()
    probe = (lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg").read_bytes()
    return settings, tokens, probe


def test_an_entitled_officer_searches_and_is_named_in_the_log(setup):
    """An officer's token searches its granted gallery; the audit entry names the officer."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    caller = caller_from_token(ctx, tokens["officer"])
    reason = require_reason(ctx, caller, LIVE_PURPOSE, "CASE-21")
    result = identify_face(ctx, caller, probe, reason=reason, galleries=["field"])
    assert result.candidates[0].name == "Bill Clinton"
    last = [e for e in ctx.audit.read() if e.event == EventType.SEARCH][-1]
    assert (last.operator, last.role) == ("officer1", "officer")


def test_a_gallery_outside_the_entitlements_is_refused_and_audited(setup):
    """The officer may not search a gallery it was not granted; access_denied is logged."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    caller = caller_from_token(ctx, tokens["officer"])
    reason = require_reason(ctx, caller, LIVE_PURPOSE, "CASE-22")
    with pytest.raises(AccessDenied):
        identify_face(ctx, caller, probe, reason=reason, galleries=["other"])
    denied = [e for e in ctx.audit.read() if e.event == EventType.ACCESS_DENIED]
    assert denied and denied[-1].operator == "officer1"


def test_an_auditor_cannot_search(setup):
    """The auditor role reads the log; a search by an auditor's token is refused."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    caller = caller_from_token(ctx, tokens["auditor"])
    reason = require_reason(ctx, caller, LIVE_PURPOSE, "CASE-23")
    with pytest.raises(AccessDenied):
        identify_face(ctx, caller, probe, reason=reason, galleries=["field"])


def test_once_operators_exist_the_console_needs_a_token(setup):
    """With operators configured, acting without a token or with a forged one is refused."""
    settings, _, _ = setup
    ctx = open_context(settings)
    with pytest.raises(AuthenticationFailed, match="token"):
        caller_from_token(ctx, None)
    with pytest.raises(AuthenticationFailed):
        caller_from_token(ctx, "forged-token-value")
    assert ctx.audit.verify().ok


def test_concurrent_searches_by_different_operators_each_name_their_own(setup):
    """Searches running at once in threads, as two officers, over one shared context: every
    audit entry (the search and its purpose check) names the officer who ran that search."""
    settings, tokens, probe = setup
    ctx = open_context(settings)
    callers = [caller_from_token(ctx, tokens[k]) for k in ("officer", "officer2")]

    def one(i: int) -> tuple[str, tuple[str, str]]:
        caller, case = callers[i % 2], f"CASE-C{i:02d}"
        reason = require_reason(ctx, caller, LIVE_PURPOSE, case)
        result = identify_face(ctx, caller, probe, reason=reason, galleries=["field"], top=1)
        return result.search_id, (caller.operator, case)

    with ThreadPoolExecutor(max_workers=4) as pool:
        ran = dict(pool.map(one, range(8)))
    searches = {e.details["search_id"]: e for e in ctx.audit.read() if e.event == EventType.SEARCH}
    assert len(ran) == 8 and {op for op, _ in ran.values()} == {"officer1", "officer2"}
    for search_id, (operator, case) in ran.items():
        entry = searches[search_id]
        assert (entry.operator, entry.role, entry.details["case_number"]) == (
            operator,
            "officer",
            case,
        )
