"""A broken audit log stops the service as it stops the command line: searches are refused
with 503 (audit_integrity), and the auditor can still verify and see where it breaks."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient

from mobileid.api import ApiOptions, create_app
from mobileid.audit import audit_database
from mobileid.auth import AuthService
from mobileid.auth.crypto import load_or_create_key
from mobileid.config import Settings
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import open_context
from tests.api.conftest import API, ROOT, assert_problem
from tests.auth.conftest import PASSWORD, fast_hasher
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes


def test_an_edited_entry_stops_searches_and_verify_names_it(tmp_path: Path) -> None:
    """After an entry is edited in the database, a search is 503 audit_integrity and
    /audit/verify names the edited entry."""
    settings = replace(Settings(), data_dir=tmp_path / "data", audit_full_verify_minutes=0.0)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    key = load_or_create_key(settings.deployment_key_path)
    auth = AuthService(ctx.engine, key, events=AuditedAuthEvents(ctx.audit), hasher=fast_hasher())
    ctx.use_auth(auth)
    tokens = {}
    for name, role, scope in (
        ("off9", "officer", "search_live"),
        ("aud9", "auditor", "read_audit"),
    ):
        new = auth.add_operator(ROOT, name, role=role, password=PASSWORD)
        logon = auth.logon(name, PASSWORD, pyotp.TOTP(new.totp_secret).now())
        tokens[name] = auth.issue_token(logon.principal, [scope], expires_in=timedelta(hours=1))
    with closing(sqlite3.connect(audit_database(settings.data_dir))) as db, db:
        db.execute("UPDATE audit_entries SET operator = 'os:mallory' WHERE sequence = 2")
    client = TestClient(create_app(settings, context=ctx, options=ApiOptions(workers=1, queue=1)))
    photo = shared_path("faces", "lfw-dev", "Bill_Clinton", "Bill_Clinton_0010.jpg").read_bytes()
    answer = client.post(
        f"{API}/searches/face",
        headers={"Authorization": f"Bearer {tokens['off9'].token}"},
        files={"image": ("p.jpg", photo, "image/jpeg")},
        data={"purpose": LIVE_PURPOSE, "case": "CASE-B1"},
    )
    assert_problem(answer, 503, "audit_integrity")
    verified = client.post(
        f"{API}/audit/verify", headers={"Authorization": f"Bearer {tokens['aud9'].token}"}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is False and verified.json()["first_bad_sequence"] == 2
