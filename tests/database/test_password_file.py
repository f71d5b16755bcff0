"""The PostgreSQL password comes from a file (a Docker secret), never from the URL or a log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from mobileid.audit import AuditEvent, EventType
from mobileid.config import Settings
from mobileid.database.engines import redacted
from mobileid.errors import BackendUnavailable, InvalidArgument
from mobileid.service.context import open_context
from tests.postgres import libpq, start_server

SUPERUSER_PASSWORD = "superuser-secret-7"
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p@ss:/w rd%é 42"  # characters a URL would have to escape


@pytest.fixture(scope="module")
def password_server() -> Iterator[str]:
    """A PostgreSQL cluster of this module's own that asks every TCP client for a password."""
    yield from start_server(password=SUPERUSER_PASSWORD)


@pytest.fixture(scope="module")
def role_url(password_server: str) -> str:
    """The URL (no password in it) of a database owned by a role whose password is PASSWORD."""
    with psycopg.connect(libpq(password_server), autocommit=True) as conn:
        create = sql.SQL("CREATE ROLE mobileid LOGIN PASSWORD {}").format(sql.Literal(PASSWORD))
        conn.execute(create)
        conn.execute("CREATE DATABASE mobileid OWNER mobileid")
    port = password_server.rsplit(":", 1)[1].split("/")[0]
    return f"postgresql://mobileid@127.0.0.1:{port}/mobileid"


def _secret(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "postgres_password"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_password_file_opens_a_server_that_asks_for_one(role_url: str, tmp_path: Path) -> None:
    """With MOBILEID_DATABASE_PASSWORD_FILE (trailing newline dropped) the service opens a
    password-protected PostgreSQL and writes to it; the password is in no message or repr."""
    env = {
        "MOBILEID_DATA_DIR": str(tmp_path / "data"),
        "MOBILEID_DATABASE_URL": role_url,
        "MOBILEID_DATABASE_PASSWORD_FILE": str(_secret(tmp_path, PASSWORD + "\n")),
    }
    settings = Settings.from_env(env)
    ctx = open_context(settings)
    try:
        ctx.audit.record(AuditEvent(EventType.SEARCH, "o1", "officer", "test", details={}))
        assert ctx.audit.verify().ok
        shown = f"{ctx.engine!r} {ctx.engine.url} {redacted(settings.main_database_url)}"
        assert (
            shown.count("mobileid:***@127.0.0.1") == 3
            and PASSWORD not in shown
            and "w rd" not in shown
        )
    finally:
        ctx.close()


def test_without_the_file_or_with_a_wrong_one_the_server_refuses(
    role_url: str, tmp_path: Path
) -> None:
    """The server really checks: no password, or a wrong one, is refused as unavailable with
    the database named and no password in the message."""
    base = replace(Settings(), data_dir=tmp_path / "data", database_url=role_url)
    wrong = replace(base, database_password_file=_secret(tmp_path, "not-it"))
    for settings in (base, wrong):
        with pytest.raises(BackendUnavailable, match="password") as caught:
            open_context(settings)
        assert "not-it" not in str(caught.value) and "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "content", "expected"),
    [
        ("postgresql://u@h/db", None, "expected a readable file"),
        ("postgresql://u@h/db", "\n", "expected a password, got an empty file"),
        ("postgresql://u:inline@h/db", "x", "without a password beside it"),
        ("sqlite:////tmp/x.sqlite3", "x", "expected a postgresql:// database URL"),
    ],
)
def test_a_password_file_that_cannot_be_used_is_refused_by_name(
    url: str, content: str | None, expected: str, tmp_path: Path
) -> None:
    """A missing or empty file, a URL that holds a password too, or a SQLite URL: an
    InvalidArgument naming MOBILEID_DATABASE_PASSWORD_FILE, never the password itself."""
    path = tmp_path / "absent" if content is None else _secret(tmp_path, content)
    settings = replace(Settings(), database_url=url, database_password_file=path)
    with pytest.raises(InvalidArgument, match=expected) as caught:
        _ = settings.main_database_url
    assert "MOBILEID_DATABASE_PASSWORD_FILE" in str(caught.value)
    assert "inline" not in str(caught.value)


def test_the_compose_replicas_read_the_password_postgres_is_given() -> None:
    """In deploy/compose.yaml the replicas' URL names no password, and their password file is
    the mounted secret that the postgres service takes its POSTGRES_PASSWORD_FILE from."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    postgres, replica = compose["services"]["postgres"], compose["services"]["mobileid"]
    server_file = postgres["environment"]["POSTGRES_PASSWORD_FILE"]
    env = replica["environment"]
    assert make_url(env["MOBILEID_DATABASE_URL"]).password is None
    assert env["MOBILEID_DATABASE_PASSWORD_FILE"] == server_file
    secret = server_file.removeprefix("/run/secrets/")
    assert secret in postgres["secrets"] and secret in replica["secrets"]
    assert secret in compose["secrets"]
