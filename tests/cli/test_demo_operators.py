"""The demo's operators: one per role at the first start, each able to log on with what was
printed once; a second start creates and prints nothing new."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp

from mobileid.cli.demo_operators import create_demo_operators, print_accounts
from mobileid.cli.operators_cmd import open_auth
from mobileid.config import Settings


def test_first_start_creates_one_operator_per_role_who_can_log_on(tmp_path: Path):
    """Every printed password and otpauth secret logs its operator on; a rerun adds nobody."""
    settings = Settings.from_env(data_dir=tmp_path / "data")
    accounts = create_demo_operators(settings, galleries=["demo"])
    assert sorted(a.role for a in accounts) == [
        "admin",
        "auditor",
        "officer",
        "supervisor",
        "trainee",
    ]
    out = io.StringIO()
    print_accounts(accounts, out)
    printed = out.getvalue()
    svc = open_auth(settings)
    try:
        for a in accounts:
            assert a.password in printed and a.totp_uri in printed
            secret = parse_qs(urlparse(a.totp_uri).query)["secret"][0]
            result = svc.logon(a.username, a.password, pyotp.TOTP(secret).now())
            assert result.principal.role.value == a.role
        officer = svc.operator("demo-officer")
        assert set(officer.galleries) == {"demo"}
        assert not svc.operator("demo-admin").galleries  # an admin never searches
    finally:
        svc.close()
    assert printed.count("\u2588") + printed.count("\u2580") + printed.count("\u2584") > 100
    assert create_demo_operators(settings, galleries=["demo"]) == []
    again = io.StringIO()
    print_accounts([], again)
    assert "password:" not in again.getvalue()


def test_a_seeding_whose_audit_entry_fails_leaves_no_operator_and_can_run_again(
    database_url: str, tmp_path: Path
) -> None:
    """On SQLite and PostgreSQL, when the database refuses the fourth demo operator's audit
    entry, none of the operators, grants or entries written before it remain (the passwords
    were never shown), and the next start seeds all five."""
    import pytest
    from sqlalchemy import text

    from mobileid.database import open_engine, release_engine
    from tests.database.refusing import accept_entries_again, refuse_entries_mentioning

    settings = Settings.from_env(data_dir=tmp_path / "data", database_url=database_url)
    open_auth(settings).close()  # the schema, as the first start creates it
    engine = open_engine(settings.main_database)
    try:
        refuse_entries_mentioning(engine, "demo-admin")  # officer, supervisor, auditor first
        with pytest.raises(Exception, match="refused by the test"):
            create_demo_operators(settings, galleries=["demo"])
        with engine.connect() as conn:
            left = [
                conn.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("auth_operators", "auth_entitlements", "audit_entries")
            ]
        assert left == [0, 0, 0]
        accept_entries_again(engine)
        accounts = create_demo_operators(settings, galleries=["demo"])
        assert len(accounts) == 5
    finally:
        release_engine(engine)
