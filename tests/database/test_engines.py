"""One place opens engines: one pool per database URL per process, shared by every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import event

from mobileid.auth import Action, AuthService, console_principal
from mobileid.config import Settings
from mobileid.database import open_engine, release_engine, sqlite_url
from mobileid.database.engines import open_count
from mobileid.errors import BackendUnavailable, InvalidArgument
from mobileid.service.access import authorize, caller_from_token
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import open_context
from tests.auth.conftest import fast_hasher
from tests.postgres import free_port

PASSWORD = "a long enough pass phrase 42"


def test_the_same_url_shares_one_engine_until_the_last_user_releases_it(tmp_path: Path) -> None:
    """Two opens of one URL give the same engine; other waits give another; the last release
    disposes of it."""
    before = open_count()
    url = sqlite_url(tmp_path / "a.sqlite3")
    a, b = open_engine(url), open_engine(url)
    other = open_engine(url, timeout_s=1.0)
    assert a is b and other is not a and open_count() == before + 2
    release_engine(a)
    assert open_count() == before + 2 and open_engine(url) is a
    for engine in (a, b, other):
        release_engine(engine)
    assert open_count() == before


def test_a_context_shares_one_engine_and_authorizing_opens_no_other(tmp_path: Path) -> None:
    """Gallery, photos, finger templates, audit log, operators and training records of a
    context all use its one engine; 20 token checks and authorizations open no engine and at
    most one new connection; closing the context releases the engine."""
    before = open_count()
    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data"))
    key = ctx.settings.deployment_key_path.read_bytes()
    auth = AuthService(ctx.engine, key, events=AuditedAuthEvents(ctx.audit), hasher=fast_hasher())
    ctx.use_auth(auth)
    stores = (ctx.gallery.engine, ctx.audit.engine, ctx.training._engine, ctx.fingers.engine,
              ctx.photos.engine, auth._deps.engine)  # fmt: skip
    assert all(engine is ctx.engine for engine in stores) and open_count() == before + 1
    new = auth.add_operator(console_principal("t"), "off1", role="officer", password=PASSWORD)
    logon = auth.logon("off1", PASSWORD, pyotp.TOTP(new.totp_secret).now())
    token = auth.issue_token(logon.principal, ["search_training"], expires_in=timedelta(hours=1))
    connects: list[object] = []
    event.listen(ctx.engine, "connect", lambda *_: connects.append(1))
    for _ in range(20):
        authorize(ctx, caller_from_token(ctx, token.token), Action.SEARCH_TRAINING)
    assert open_count() == before + 1 and len(connects) <= 1
    ctx.close()
    assert open_count() == before


def test_an_unknown_kind_of_database_url_is_refused_by_name(tmp_path: Path) -> None:
    """A URL of an engine mobileid does not support is an InvalidArgument naming the setting,
    with any password hidden."""
    settings = replace(Settings(), data_dir=tmp_path, database_url="mysql://u:secret@h/db")
    with pytest.raises(InvalidArgument, match="database URL: expected sqlite") as caught:
        open_context(settings)
    assert "secret" not in str(caught.value)


def test_a_database_server_that_is_down_is_backend_unavailable(tmp_path: Path) -> None:
    """A PostgreSQL URL where nothing listens gives BackendUnavailable naming the database,
    without its password, and holds no engine afterwards."""
    before = open_count()
    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/db"
    settings = replace(Settings(), data_dir=tmp_path, database_url=url)
    with pytest.raises(BackendUnavailable, match="expected a reachable database") as caught:
        open_context(settings)
    assert "secret" not in str(caught.value) and open_count() == before


def test_every_opener_from_settings_shares_one_engine_with_the_settings_bound(
    tmp_path: Path,
) -> None:
    """The service, the operator store of the commands, the audit log and the deployment key
    open the main database from settings as one engine whose lock wait is
    MOBILEID_DATABASE_TIMEOUT_S (2.5 s here, not the default), and its name hides passwords."""
    from mobileid.audit import open_deployment_audit_log
    from mobileid.cli.operators_cmd import open_auth
    from mobileid.database import close_database
    from mobileid.service.database import open_main_database

    settings = replace(Settings(), data_dir=tmp_path / "data", database_timeout_s=2.5)
    engine = open_main_database(settings)
    log = open_deployment_audit_log(settings)
    auth = open_auth(settings)
    try:
        assert log.engine is engine and auth.engine is engine
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    finally:
        auth.close()
        log.close()
        close_database(engine)
    secret = replace(settings, database_url="postgresql://u:hunter2@db/mobileid").main_database
    assert "hunter2" not in repr(secret) and "db/mobileid" in repr(secret)
