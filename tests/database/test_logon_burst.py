"""A burst of logons in one process: each one waits its turn for the write lock for
milliseconds, none waits on another's password check or on a connection it holds."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from mobileid.audit import EventType
from mobileid.auth import AuthService, console_principal
from mobileid.config import Settings
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import Context, open_context
from tests.auth.conftest import PASSWORD, fast_hasher

ROOT = console_principal("root")
BURST = 24  # more than the 15 connections of a pool


def _context(database_url: str, tmp_path: Path, hasher: PasswordHasher) -> Context:
    settings = replace(Settings(), data_dir=tmp_path / "data", database_url=database_url)
    ctx = open_context(settings)
    key = settings.deployment_key_path.read_bytes()
    ctx.use_auth(AuthService(ctx.engine, key, events=AuditedAuthEvents(ctx.audit), hasher=hasher))
    return ctx


def test_a_burst_of_logons_from_threads_all_succeed(database_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL, 24 operators logging on at once from threads (more than the
    pool's 15 connections, each appending its entry to a signed, witnessed log) all get a
    session, then use it and log out: no "database is locked", no pool wait running out, and
    the log verifies with every logon in it."""
    ctx = _context(database_url, tmp_path, fast_hasher())
    try:
        secrets = {
            f"op{i}": ctx.auth.add_operator(
                ROOT, f"op{i}", role="officer", password=PASSWORD
            ).totp_secret
            for i in range(BURST)
        }
        failures: list[str] = []
        start = threading.Barrier(BURST)

        def shift(name: str) -> None:
            start.wait()
            try:
                code = pyotp.TOTP(secrets[name]).now()
                token = ctx.auth.logon(name, PASSWORD, code).session_token
                assert ctx.auth.session_principal(token).username == name
                ctx.auth.logout(token)
            except Exception as exc:  # every failure is reported below
                failures.append(f"{name}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=shift, args=(name,)) for name in secrets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        logons = [e.operator for e in ctx.audit.read() if e.event == EventType.LOGON]
        assert sorted(logons) == sorted(secrets)
        report = ctx.audit.verify()
        assert report.ok, report.reason
    finally:
        ctx.close()


class ProbingHasher(PasswordHasher):
    """A real argon2 hasher that, on each password check, notes whether another connection
    could take SQLite's write lock at that moment (no wait)."""

    def __init__(self, database: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.database = database
        self.lock_free: list[bool] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        probe = sqlite3.connect(self.database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            self.lock_free.append(True)
        except sqlite3.OperationalError:
            self.lock_free.append(False)
        finally:
            probe.close()
        return super().verify(hash, password)


def test_a_logon_checks_the_password_without_holding_the_write_lock(tmp_path: Path) -> None:
    """On SQLite, argon2 (a good part of a second on purpose) runs while nobody holds the
    write lock, so logons in a burst do not queue behind each other's password checks until
    the busy timeout gives up."""
    url = f"sqlite:///{tmp_path / 'main.sqlite3'}"
    hasher = ProbingHasher(str(make_url(url).database), time_cost=1, memory_cost=8, parallelism=1)
    ctx = _context(url, tmp_path, hasher)
    try:
        secret = ctx.auth.add_operator(ROOT, "op1", role="officer", password=PASSWORD).totp_secret
        ctx.auth.logon("op1", PASSWORD, pyotp.TOTP(secret).now())
        assert hasher.lock_free == [True]
    finally:
        ctx.close()


def test_bearer_checks_from_many_threads_at_once_all_succeed_unserialised(
    database_url: str, tmp_path: Path
) -> None:
    """On SQLite and PostgreSQL, 32 request threads checking session and API tokens at once
    (10 checks each, no lock of the process around them, as the API now runs them) all get
    their caller: each check waits its turn on the clock row in the database, none fails."""
    from datetime import timedelta

    from mobileid.service.access import caller_from_bearer

    threads_n, each = 32, 10
    ctx = _context(database_url, tmp_path, fast_hasher())
    try:
        bearers = []
        for i in range(threads_n):
            new = ctx.auth.add_operator(ROOT, f"op{i}", role="officer", password=PASSWORD)
            session = ctx.auth.logon(f"op{i}", PASSWORD, pyotp.TOTP(new.totp_secret).now())
            who = ctx.auth.session_principal(session.session_token)
            api = ctx.auth.issue_token(who, ["search_live"], expires_in=timedelta(hours=1))
            bearers.append((session.session_token, api.token))
        failures: list[str] = []
        start = threading.Barrier(threads_n)

        def check(i: int) -> None:
            start.wait()
            for j in range(each):
                try:
                    assert caller_from_bearer(ctx, bearers[i][j % 2]).operator == f"op{i}"
                except Exception as exc:  # every failure is reported below
                    failures.append(f"op{i}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=check, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
    finally:
        ctx.close()
