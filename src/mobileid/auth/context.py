"""What every auth operation shares: dependencies, auth time, events and row lookups."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.auth import clock as auth_clock
from mobileid.auth.crypto import SecretBox
from mobileid.auth.errors import UnknownOperator
from mobileid.auth.events import AuthEvents, EventType, Outcome
from mobileid.auth.params import AuthParams
from mobileid.auth.roles import Role
from mobileid.auth.store import ClockRow, EntitlementRow, OperatorRow
from mobileid.auth.values import OperatorInfo, Principal
from mobileid.database import UnitOfWork
from mobileid.errors import InvalidArgument


@dataclass(frozen=True)
class AuthDeps:
    engine: Engine
    box: SecretBox
    events: AuthEvents
    clock: auth_clock.Clock
    anchor: auth_clock.MonotonicAnchor
    hasher: PasswordHasher
    params: AuthParams


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tick(deps: AuthDeps, work: UnitOfWork) -> auth_clock.Reading:
    """Auth time for this unit of work; never earlier than any time used before."""
    s = work.session
    raw = auth_clock.read(deps.clock)
    # Take the row before reading it, so that the read, the check and the write are one:
    # on PostgreSQL this locks the row; on SQLite it starts the unit's write transaction
    # (the driver runs a plain SELECT outside any). Another request that read the row
    # first would otherwise write its older time over a newer one committed meanwhile.
    s.connection().execute(
        update(ClockRow).where(ClockRow.id == 1).values(offset_us=ClockRow.offset_us)
    )
    row = s.get(ClockRow, 1)
    if row is None:
        row = ClockRow(id=1, high_water=raw, offset_us=0)
        s.add(row)
    offset = timedelta(microseconds=row.offset_us)
    mono, mono_floor = deps.anchor.floor(raw + offset)
    floor = row.high_water if mono_floor is None else max(row.high_water, mono_floor)
    reading = auth_clock.advance(raw, floor, offset)
    deps.anchor.update(mono, reading.now)
    row.high_water = reading.now
    row.offset_us = reading.offset // timedelta(microseconds=1)
    if reading.jumped_back is not None and reading.jumped_back > deps.params.clock_tolerance:
        emit(
            deps,
            work,
            EventType.CLOCK_BACKWARDS,
            None,
            Outcome.SUCCESS,
            raw=raw.isoformat(),
            used=reading.now.isoformat(),
            jumped_back_s=reading.jumped_back.total_seconds(),
        )
    return reading


def emit(
    deps: AuthDeps,
    work: UnitOfWork | None,
    event_type: EventType,
    who: Principal | OperatorRow | str | None,
    outcome: Outcome,
    **details: Any,
) -> None:
    name: str | None
    role: str | None
    if isinstance(who, Principal):
        name, role = who.username, who.role.value
        details.setdefault("via", who.via)
    elif isinstance(who, OperatorRow):
        name, role = who.username, who.role
    else:
        name, role = who, None
    deps.events.record(event_type.value, name, role, outcome.value, details, uow=work)


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    ok = 2 <= len(name) <= 64 and name[0].isalnum()
    if not ok or not all(c.isascii() and (c.isalnum() or c in "._-") for c in name):
        raise InvalidArgument(
            "username: expected 2-64 characters a-z, 0-9, '.', '_' or '-', starting with a "
            f"letter or digit, got {username!r}",
            field="username",
        )
    return name


def find_operator(s: Session, username: str) -> OperatorRow | None:
    return s.scalar(select(OperatorRow).where(OperatorRow.username == username.strip().lower()))


def get_operator(s: Session, username: str) -> OperatorRow:
    row = find_operator(s, username)
    if row is None:
        raise UnknownOperator(
            f"username: expected an existing operator, got {username!r}", field="username"
        )
    return row


def unknown_role(row: OperatorRow) -> bool:
    """A stored role outside the role table (a database edited by hand, a newer release's
    role): such an operator is refused, never given some default rights."""
    return row.role not in {r.value for r in Role}


def entitlements(s: Session, row: OperatorRow) -> tuple[frozenset[str], frozenset[str]]:
    rows = s.scalars(select(EntitlementRow).where(EntitlementRow.operator_id == row.id)).all()
    galleries = frozenset(e.name for e in rows if e.kind == "gallery")
    return galleries, frozenset(e.name for e in rows if e.kind == "source")


def principal_of(s: Session, row: OperatorRow, via: str, **extra: Any) -> Principal:
    galleries, sources = entitlements(s, row)
    return Principal(
        username=row.username,
        role=Role(row.role),
        unit=row.unit,
        galleries=galleries,
        sources=sources,
        via=via,
        **extra,
    )


def info_of(s: Session, row: OperatorRow) -> OperatorInfo:
    galleries, sources = entitlements(s, row)
    return OperatorInfo(
        username=row.username,
        display_name=row.display_name,
        role=None if unknown_role(row) else Role(row.role),
        unit=row.unit,
        galleries=tuple(sorted(galleries)),
        sources=tuple(sorted(sources)),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        locked_until=row.locked_until,
        failed_logons=row.failed_logons,
        last_logon_at=row.last_logon_at,
        stored_role=row.role,
    )
