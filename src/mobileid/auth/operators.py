"""Creating, listing, disabling operators and changing their role and entitlements.

Every change needs ``manage_operators`` and is recorded (``operator_change`` for accounts,
``permission_change`` for roles and entitlements) in the unit of work that makes it: the
caller's ``uow`` when given (committed with whatever else the caller writes in it), else one
of its own.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mobileid.auth import passwords, totp
from mobileid.auth.access import enforce
from mobileid.auth.context import (
    AuthDeps,
    emit,
    find_operator,
    get_operator,
    info_of,
    normalise_username,
    tick,
)
from mobileid.auth.errors import DuplicateOperator, LastAdmin
from mobileid.auth.events import EventType, Outcome
from mobileid.auth.roles import Action, Role, parse_role
from mobileid.auth.store import EntitlementRow, OperatorRow, SessionRow
from mobileid.auth.values import NewOperator, OperatorInfo, Principal
from mobileid.database import UnitOfWork
from mobileid.database.unit_of_work import within
from mobileid.errors import InvalidArgument

_KINDS = ("gallery", "source")


def add_operator(
    deps: AuthDeps,
    actor: Principal,
    username: str,
    *,
    role: Role | str,
    password: str,
    display_name: str | None = None,
    unit: str | None = None,
    uow: UnitOfWork | None = None,
) -> NewOperator:
    enforce(deps, actor, Action.MANAGE_OPERATORS)
    name = normalise_username(username)
    the_role = role if isinstance(role, Role) else parse_role(role)
    passwords.check_strength(password, name, deps.params)
    secret = totp.new_secret()
    row = OperatorRow(
        username=name,
        display_name=(display_name or name).strip(),
        role=the_role.value,
        unit=unit,
        password_hash=deps.hasher.hash(password),
        totp_sealed=deps.box.seal(secret.encode(), _totp_context(name)),
        totp_key_id=deps.box.key_id,
        failed_logons=0,
    )
    with within(deps.engine, uow) as work:
        s = work.session
        row.created_at = tick(deps, work).now
        if find_operator(s, name) is not None:
            raise DuplicateOperator(
                f"username: expected a name not yet taken, got {name!r} (already an operator)",
                field="username",
            )
        s.add(row)
        s.flush()
        details = {"change": "created", "target": name, "target_role": the_role.value}
        emit(deps, work, EventType.OPERATOR_CHANGE, actor, Outcome.SUCCESS, **details, unit=unit)
        info = info_of(s, row)
    uri = totp.provisioning_uri(secret, name, deps.params.totp_issuer)
    return NewOperator(operator=info, totp_uri=uri, totp_secret=secret)


def _totp_context(username: str) -> str:
    return f"mobileid/totp/{username}"


def totp_secret(deps: AuthDeps, row: OperatorRow) -> str:
    return deps.box.open(row.totp_sealed, _totp_context(row.username), row.totp_key_id).decode()


def list_operators(deps: AuthDeps) -> list[OperatorInfo]:
    with Session(deps.engine) as s:
        rows = s.scalars(select(OperatorRow).order_by(OperatorRow.username)).all()
        return [info_of(s, r) for r in rows]


def census(deps: AuthDeps) -> tuple[int, int]:
    """(operators, active admins): whether a deployment is still a fresh install, counted in
    SQL (no row is interpreted, so a stored role this release does not know counts too)."""
    with Session(deps.engine) as s:
        total = s.scalar(select(func.count()).select_from(OperatorRow)) or 0
        admins = s.scalar(
            select(func.count())
            .select_from(OperatorRow)
            .where(OperatorRow.role == Role.ADMIN.value, OperatorRow.disabled_at.is_(None))
        )
    return int(total), int(admins or 0)


def operator_info(deps: AuthDeps, username: str) -> OperatorInfo:
    with Session(deps.engine) as s:
        return info_of(s, get_operator(s, username))


def _check_not_last_admin(s: Session, row: OperatorRow, change: str) -> None:
    if row.role != Role.ADMIN.value or row.disabled_at is not None:
        return
    active = s.scalar(
        select(func.count())
        .select_from(OperatorRow)
        .where(OperatorRow.role == Role.ADMIN.value, OperatorRow.disabled_at.is_(None))
    )
    if (active or 0) <= 1:
        raise LastAdmin(
            f"username: expected an operator other than the last active admin, got "
            f"{row.username!r} ({change} would leave nobody able to manage operators)",
            field="username",
        )


def disable_operator(
    deps: AuthDeps, actor: Principal, username: str, *, uow: UnitOfWork | None = None
) -> OperatorInfo:
    """Disable the account and end its sessions; its tokens are refused from now on."""
    enforce(deps, actor, Action.MANAGE_OPERATORS)
    with within(deps.engine, uow) as work:
        s = work.session
        now = tick(deps, work).now
        row = get_operator(s, username)
        if row.disabled_at is None:
            _check_not_last_admin(s, row, "disabling")
            row.disabled_at = now
            s.execute(
                update(SessionRow)
                .where(SessionRow.operator_id == row.id, SessionRow.ended_at.is_(None))
                .values(ended_at=now, end_reason="disabled")
            )
            emit(
                deps,
                work,
                EventType.OPERATOR_CHANGE,
                actor,
                Outcome.SUCCESS,
                change="disabled",
                target=row.username,
            )
        return info_of(s, row)


def set_role(
    deps: AuthDeps,
    actor: Principal,
    username: str,
    role: Role | str,
    *,
    uow: UnitOfWork | None = None,
) -> OperatorInfo:
    enforce(deps, actor, Action.MANAGE_OPERATORS)
    new = role if isinstance(role, Role) else parse_role(role)
    with within(deps.engine, uow) as work:
        s = work.session
        tick(deps, work)
        row = get_operator(s, username)
        old = row.role
        if old != new.value:
            if new is not Role.ADMIN:
                _check_not_last_admin(s, row, f"changing the role to {new.value}")
            row.role = new.value
            emit(
                deps,
                work,
                EventType.PERMISSION_CHANGE,
                actor,
                Outcome.SUCCESS,
                change="role",
                target=row.username,
                old_role=old,
                new_role=new.value,
            )
        return info_of(s, row)


def set_password(
    deps: AuthDeps, actor: Principal, username: str, password: str, *, uow: UnitOfWork | None = None
) -> None:
    """Set a new password and clear a lockout (the operator was identified out of band)."""
    enforce(deps, actor, Action.MANAGE_OPERATORS)
    with within(deps.engine, uow) as work:
        s = work.session
        tick(deps, work)
        row = get_operator(s, username)
        passwords.check_strength(password, row.username, deps.params)
        row.password_hash = deps.hasher.hash(password)
        row.failed_logons, row.locked_until = 0, None
        emit(
            deps,
            work,
            EventType.OPERATOR_CHANGE,
            actor,
            Outcome.SUCCESS,
            change="password_set",
            target=row.username,
        )


def change_entitlement(
    deps: AuthDeps,
    actor: Principal,
    username: str,
    kind: str,
    name: str,
    *,
    grant: bool,
    uow: UnitOfWork | None = None,
) -> OperatorInfo:
    """Grant (or revoke) the operator's use of one gallery or record source."""
    enforce(deps, actor, Action.MANAGE_OPERATORS)
    if kind not in _KINDS or not name.strip():
        raise InvalidArgument(
            f"entitlement: expected a non-empty gallery or source name, got {kind}={name!r}",
            field=kind if kind in _KINDS else "entitlement",
        )
    with within(deps.engine, uow) as work:
        s = work.session
        now = tick(deps, work).now
        row = get_operator(s, username)
        existing = _entitlement(s, row, kind, name)
        if (existing is None) != grant:
            return info_of(s, row)  # already so: nothing to change or record
        if existing is None:
            by = actor.username
            s.add(
                EntitlementRow(
                    operator_id=row.id, kind=kind, name=name, granted_at=now, granted_by=by
                )
            )
        else:
            s.delete(existing)
        s.flush()
        details = {"change": "grant" if grant else "revoke", "target": row.username, kind: name}
        emit(deps, work, EventType.PERMISSION_CHANGE, actor, Outcome.SUCCESS, **details)
        return info_of(s, row)


def _entitlement(s: Session, row: OperatorRow, kind: str, name: str) -> EntitlementRow | None:
    return s.scalar(
        select(EntitlementRow).where(
            EntitlementRow.operator_id == row.id,
            EntitlementRow.kind == kind,
            EntitlementRow.name == name,
        )
    )
