"""``mobileid operators ...`` on a temporary data folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher

from mobileid.auth import DuplicateOperator, LastAdmin, MemoryEvents, UnknownRole, WeakPassword
from mobileid.cli import operators_cmd as cmd
from mobileid.config import Settings

PASSWORD = "correct horse battery"


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p = argparse.ArgumentParser(prog="mobileid")
    cmd.add_operators_parser(p.add_subparsers(dest="command", required=True), common)
    return p


def run(capsys, data: Path, *argv: str) -> tuple[int, str]:
    args = parser().parse_args(["operators", *argv])
    args.json = getattr(args, "json", False)
    code = args.handler(args, Settings(data_dir=data))
    return code, capsys.readouterr().out


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MOBILEID_PASSWORD", PASSWORD)
    return tmp_path / "data"


def admin_token(capsys, data: Path, monkeypatch, name: str = "root") -> str:
    """The first admin (from the console) and its manage_operators token."""
    _, out = run(capsys, data, "add", name, "--role", "admin", "--json")
    secret = pyotp.parse_uri(json.loads(out)["totp_uri"]).secret
    monkeypatch.setenv("MOBILEID_TOTP", pyotp.TOTP(secret).now())
    _, out = run(capsys, data, "token", name, "--scope", "manage_operators", "--json")
    monkeypatch.delenv("MOBILEID_TOTP")
    return str(json.loads(out)["token"])


@pytest.fixture
def fast(monkeypatch) -> None:
    """Cheap argon2 in the handlers (the first test keeps the real default)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    real = cmd.open_auth
    monkeypatch.setattr(cmd, "open_auth", lambda s, events=None: real(s, events, cheap))


def test_add_prints_totp_uri_and_creates_key(capsys, data):
    """add stores the operator, prints the provisioning URI once and creates a 0600 key."""
    code, out = run(capsys, data, "add", "alice", "--role", "officer", "--unit", "North")
    assert code == 0 and "operator alice (officer) added" in out
    uri = next(line for line in out.splitlines() if line.startswith("otpauth://"))
    secret = pyotp.parse_uri(uri).secret
    key = data / "keys" / "deployment.key"
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == 32
    assert (data / "mobileid.sqlite3").exists() and not (data / "operators.sqlite3").exists()
    events = MemoryEvents()
    svc = cmd.open_auth(Settings(data_dir=data), events)
    result = svc.logon("alice", PASSWORD, pyotp.TOTP(secret).now())
    svc.close()
    assert result.principal.unit == "North" and len(events.of_type("logon")) == 1


def test_list_json_grant_disable(capsys, data, fast, monkeypatch):
    """list --json shows roles and entitlements and never secrets; grant and disable apply."""
    t = ["--token", admin_token(capsys, data, monkeypatch)]
    run(capsys, data, "add", "alice", "--role", "officer", "--name", "Alice Smith", *t)
    code, out = run(capsys, data, "grant", "alice", "--gallery", "wanted", "--json", *t)
    assert code == 0 and json.loads(out)["operator"]["galleries"] == ["wanted"]
    run(capsys, data, "grant", "alice", "--source", "vehicles", *t)
    run(capsys, data, "disable", "alice", *t)
    code, out = run(capsys, data, "list", "--json")
    ops = {o["username"]: o for o in json.loads(out)["operators"]}
    alice = ops["alice"]
    assert code == 0 and set(ops) == {"alice", "root"}
    assert (alice["role"], alice["display_name"], alice["sources"]) == (
        "officer",
        "Alice Smith",
        ["vehicles"],
    )
    assert alice["disabled_at"] is not None and ops["root"]["disabled_at"] is None
    assert "secret" not in out and "argon2" not in out
    code, out = run(capsys, data, "list")
    assert "alice" in out and "disabled" in out and "gallery:wanted" in out


def test_revoke_entitlement(capsys, data, fast, monkeypatch):
    """revoke removes one gallery."""
    t = ["--token", admin_token(capsys, data, monkeypatch)]
    run(capsys, data, "add", "alice", "--role", "officer", *t)
    run(capsys, data, "grant", "alice", "--gallery", "wanted", *t)
    code, out = run(capsys, data, "revoke", "alice", "--gallery", "wanted", "--json", *t)
    assert code == 0 and json.loads(out)["operator"]["galleries"] == []


def test_grant_needs_exactly_one_target(capsys, data):
    """grant refuses both --gallery and --source at once, and neither."""
    for argv in (["grant", "alice"], ["grant", "alice", "--gallery", "g", "--source", "s"]):
        with pytest.raises(SystemExit):
            parser().parse_args(["operators", *argv])


def test_bad_input_raises_clear_errors(capsys, data, fast, monkeypatch):
    """Unknown role, duplicate name, weak password and last admin are input errors."""
    with pytest.raises(UnknownRole):
        run(capsys, data, "add", "alice", "--role", "sheriff")
    t = ["--token", admin_token(capsys, data, monkeypatch)]
    with pytest.raises(DuplicateOperator):
        run(capsys, data, "add", "root", "--role", "officer", *t)
    with pytest.raises(LastAdmin):
        run(capsys, data, "disable", "root", *t)
    monkeypatch.setenv("MOBILEID_PASSWORD", "short")
    with pytest.raises(WeakPassword) as err:
        run(capsys, data, "add", "bob", "--role", "officer", *t)
    assert err.value.exit_code == 2


def test_password_prompt_when_no_env(capsys, data, fast, monkeypatch):
    """Without MOBILEID_PASSWORD the password is asked twice; a mismatch is refused."""
    monkeypatch.delenv("MOBILEID_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)  # as if typed at a terminal
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(ValueError, match="same password twice"):
        run(capsys, data, "add", "alice", "--role", "officer")


def test_list_shows_an_unknown_stored_role_as_unknown(capsys, tmp_path, database_url, monkeypatch):
    """On SQLite and PostgreSQL, an operator whose stored role this release does not know (a
    row written by a newer release) is listed with the role "unknown" and the stored text,
    in the table and in --json, instead of a traceback."""
    from sqlalchemy import create_engine, text

    from mobileid.cli.main import main
    from mobileid.database import engine_url
    from tests.conftest import cli_json

    env = {"MOBILEID_DATABASE_URL": database_url, "MOBILEID_PASSWORD": PASSWORD}
    d = ["--data-dir", str(tmp_path / "data")]
    assert cli_json("operators", "add", "alice", "--role", "officer", *d, env=env)[0] == 0
    engine = create_engine(engine_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE auth_operators SET role = 'field-lead' WHERE username = 'alice'"))
    engine.dispose()
    code, listed = cli_json("operators", "list", *d, env=env)
    assert code == 0
    (alice,) = listed["operators"]
    assert (alice["username"], alice["role"], alice["stored_role"]) == (
        "alice",
        "unknown",
        "field-lead",
    )
    capsys.readouterr()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["operators", "list", *d]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:2] == ["alice", "unknown"]


def test_each_cli_operator_change_commits_with_its_audit_entry_or_not_at_all(
    tmp_path, database_url, monkeypatch
):
    """On SQLite and PostgreSQL, when the database refuses the audit entry of ``operators
    add``, ``grant`` or ``disable``, the command exits 12 (no traceback) and its change is
    absent: no operator, no grant, still active, no entry; accepted again, each one works."""
    from sqlalchemy import create_engine, text

    from mobileid.database import engine_url
    from tests.conftest import cli_json, first_admin_token
    from tests.database.refusing import accept_entries_again, refuse_entries_mentioning

    monkeypatch.setenv("MOBILEID_DATABASE_URL", database_url)
    env = {"MOBILEID_PASSWORD": PASSWORD}
    where = ["--data-dir", str(tmp_path / "data")]
    d = [*where, "--token", first_admin_token(tmp_path / "data")]
    assert cli_json("operators", "add", "alice", "--role", "officer", *d, env=env)[0] == 0
    engine = create_engine(engine_url(database_url))
    entries = "SELECT count(*) FROM audit_entries"
    try:
        with engine.connect() as conn:
            before = conn.scalar(text(entries))
        refuse_entries_mentioning(engine, '"target":"')  # every operator change names one
        changes = (
            ("add", "bob", "--role", "officer"),
            ("grant", "alice", "--gallery", "field"),
            ("disable", "alice"),
        )
        for change in changes:
            assert cli_json("operators", *change, *d, env=env)[0] == 12, change  # unavailable
        assert cli_json("operators", "list", *where, env=env)[0] == 0
        listed = cli_json("operators", "list", *where, env=env)[1]
        shown = [(o["username"], o["galleries"], o["disabled_at"]) for o in listed["operators"]]
        assert shown == [("admin0", [], None), ("alice", [], None)]
        with engine.connect() as conn:
            assert conn.scalar(text(entries)) == before
        accept_entries_again(engine)
        for change in changes:
            assert cli_json("operators", *change, *d, env=env)[0] == 0, change
    finally:
        engine.dispose()
