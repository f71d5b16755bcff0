"""Operators live in the main database: a change and its audit entry commit together."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import event, text

from mobileid.audit import AuditEvent, AuditIntegrityError, EventType
from mobileid.auth import AuthService, console_principal
from mobileid.config import Settings
from mobileid.database import UnitOfWork
from mobileid.errors import InvalidArgument
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import Context, open_context
from tests.auth.conftest import PASSWORD, fast_hasher

ROOT = console_principal("root")


@pytest.fixture
def ctx(database_url: str, tmp_path: Path) -> Iterator[Context]:
    with _context(database_url, tmp_path) as context:
        yield context


@contextlib.contextmanager
def _context(database_url: str, tmp_path: Path, **settings_: Any) -> Iterator[Context]:
    settings = replace(
        Settings(), data_dir=tmp_path / "data", database_url=database_url, **settings_
    )
    context = open_context(settings)
    key = settings.deployment_key_path.read_bytes()
    auth = AuthService(context.engine, key, events=AuditedAuthEvents(context.audit),
                       hasher=fast_hasher())  # fmt: skip
    context.use_auth(auth)
    try:
        yield context
    finally:
        context.close()


def test_an_operator_change_and_its_entry_are_one_transaction(ctx: Context) -> None:
    """On SQLite and PostgreSQL, adding an operator, logging on and granting a gallery each
    write their row and their audit entry in one and the same transaction."""
    writes = transactions_of(ctx, ("auth_operators", "auth_sessions", "auth_entitlements"))
    new = ctx.auth.add_operator(ROOT, "off1", role="officer", password=PASSWORD)
    ctx.auth.logon("off1", PASSWORD, pyotp.TOTP(new.totp_secret).now())
    ctx.auth.grant(ROOT, "off1", gallery="field")
    for table in ("auth_operators", "auth_sessions", "auth_entitlements"):
        assert len(writes[table]) == 1 and writes[table] <= writes["audit_entries"], table
    kinds = [e.event for e in ctx.audit.read()[-3:]]
    assert kinds == [EventType.OPERATOR_CHANGE, EventType.LOGON, EventType.PERMISSION_CHANGE]
    assert ctx.audit.verify().ok


def transactions_of(ctx: Context, tables: tuple[str, ...]) -> dict[str, set[int]]:
    """{table: numbers of the transactions that inserted into it}, recorded from now on."""
    counter = itertools.count(1)
    current: dict[int, int] = {}
    writes: dict[str, set[int]] = {t: set() for t in (*tables, "audit_entries")}

    def begin(conn: Any) -> None:
        current[id(conn)] = next(counter)

    def executed(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        for table in writes:
            if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
                writes[table].add(current.get(id(conn), 0))

    event.listen(ctx.engine, "begin", begin)
    event.listen(ctx.engine, "after_cursor_execute", executed)
    return writes


def test_a_log_that_refuses_the_entry_undoes_the_change(ctx: Context) -> None:
    """When the log is found edited, the operator change is refused with it: neither the
    operator nor an entry is written."""
    ctx.auth.add_operator(ROOT, "off1", role="officer", password=PASSWORD)
    with ctx.engine.begin() as conn:  # someone edits the last entry in the database
        last = conn.scalar(text("SELECT max(sequence) FROM audit_entries"))
        conn.execute(
            text("UPDATE audit_entries SET details = '{}' WHERE sequence = :s"), {"s": last}
        )
    with pytest.raises(AuditIntegrityError):
        ctx.auth.add_operator(ROOT, "off2", role="officer", password=PASSWORD)
    assert [o.username for o in ctx.auth.list_operators()] == ["off1"]
    assert ctx.audit.head().sequence == last


def test_a_unit_the_service_opens_holds_operator_changes_and_their_entries(ctx: Context) -> None:
    """On SQLite and PostgreSQL, operator changes given the service's unit of work write their
    rows and their audit entries in that one transaction, committed when the unit ends."""
    writes = transactions_of(ctx, ("auth_operators", "auth_entitlements"))
    with UnitOfWork(ctx.auth.engine) as uow:
        ctx.auth.add_operator(ROOT, "off1", role="officer", password=PASSWORD, uow=uow)
        ctx.auth.grant(ROOT, "off1", gallery="field", uow=uow)
        assert ctx.audit.head().sequence == 0  # nothing committed inside the unit
    assert len(writes["audit_entries"]) == 1
    assert writes["auth_operators"] == writes["auth_entitlements"] == writes["audit_entries"]
    assert ctx.auth.operator("off1").galleries == ("field",)
    kinds = [e.event for e in ctx.audit.read()]
    assert kinds == [EventType.OPERATOR_CHANGE, EventType.PERMISSION_CHANGE]


def test_a_failed_audit_append_leaves_nothing_of_the_units_operator_changes(
    ctx: Context,
) -> None:
    """On SQLite and PostgreSQL, when an audit append in the unit fails (the service's own
    entry refused, or the hook's append finding the log edited), none of the unit's operator
    changes remain: no operator, no grant, no role change, no entry."""
    ctx.auth.add_operator(ROOT, "off1", role="officer", password=PASSWORD)
    head = ctx.audit.head().sequence
    refused = AuditEvent(EventType.OPERATOR_CHANGE, "root", "admin", "auth", {"embedding": [0.1]})
    with pytest.raises(InvalidArgument, match="embedding"), UnitOfWork(ctx.engine) as uow:
        ctx.auth.add_operator(ROOT, "off2", role="officer", password=PASSWORD, uow=uow)
        ctx.auth.grant(ROOT, "off1", gallery="field", uow=uow)
        ctx.audit.append(uow.session, refused)
    with ctx.engine.begin() as conn:  # someone edits the last entry in the database
        conn.execute(
            text("UPDATE audit_entries SET details = '{}' WHERE sequence = :s"), {"s": head}
        )
    with pytest.raises(AuditIntegrityError), UnitOfWork(ctx.engine) as uow:
        ctx.auth.set_role(ROOT, "off1", "supervisor", uow=uow)  # its entry is refused
    assert [(o.username, o.role.value, o.galleries) for o in ctx.auth.list_operators()] == [
        ("off1", "officer", ())
    ]
    assert ctx.audit.head().sequence == head


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_operator_change_whose_entry_waits_on_a_held_log_is_undone(
    database_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL, while another connection holds the audit head row, an operator change's
    entry fails with BackendUnavailable within the database timeout, and the change is undone."""
    import psycopg

    from mobileid.errors import BackendUnavailable
    from tests.postgres import libpq

    with _context(database_url, tmp_path, database_timeout_s=1.0) as ctx:
        with psycopg.connect(libpq(database_url)) as holder:
            holder.execute("UPDATE audit_head SET sequence = sequence")  # row lock, kept open
            with pytest.raises(BackendUnavailable), UnitOfWork(ctx.engine) as uow:
                ctx.auth.add_operator(ROOT, "off1", role="officer", password=PASSWORD, uow=uow)
            holder.rollback()
        assert ctx.auth.list_operators() == []
        assert ctx.audit.head().sequence == 0
