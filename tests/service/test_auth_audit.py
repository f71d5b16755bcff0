"""Operator events reach the tamper-evident audit log, and a failing log stops the change."""

from __future__ import annotations

import pyotp
import pytest

from mobileid.audit import EventType, open_audit_log
from mobileid.auth import AuthenticationFailed, AuthService, console_principal
from mobileid.service.auth_audit import AuditedAuthEvents
from tests.auth.conftest import KEY, PASSWORD, fast_hasher


def test_operator_changes_and_failed_logons_are_audited(tmp_path):
    """Adding an operator, a good and a bad logon each leave a verifiable audit entry."""
    log = open_audit_log(tmp_path / "data")
    svc = AuthService.open(
        tmp_path / "ops.sqlite3", KEY, events=AuditedAuthEvents(log), hasher=fast_hasher()
    )
    new = svc.add_operator(
        console_principal("root"), "officer1", role="officer", password=PASSWORD, unit="North"
    )
    svc.logon("officer1", PASSWORD, pyotp.TOTP(new.totp_secret).now())
    with pytest.raises(AuthenticationFailed):
        svc.logon("officer1", "wrong password!!", "000000")
    events = [e.event for e in log.read()]
    assert EventType.OPERATOR_CHANGE in events
    assert EventType.LOGON in events and EventType.LOGON_FAILED in events
    failed = next(e for e in log.read() if e.event == EventType.LOGON_FAILED)
    assert failed.operator == "officer1" and failed.outcome == "failed"
    assert log.verify().ok


def test_an_unwritable_audit_log_stops_the_operator_change(tmp_path):
    """If the audit entry cannot be written, the operator is not added."""

    class Broken:
        def record(self, *args, **kwargs):
            raise OSError("audit store unavailable")

    svc = AuthService.open(tmp_path / "ops.sqlite3", KEY, events=Broken(), hasher=fast_hasher())
    with pytest.raises(OSError):
        svc.add_operator(console_principal("root"), "officer2", role="officer", password=PASSWORD)
    assert [o.username for o in svc.list_operators()] == []
