"""``AuthService``: the one object the API, CLI and service layer use for operators and access.

Build it on the main database (its shared engine, a URL or a SQLite path), the deployment
key, and optionally the event sink, clock, password hasher and parameters, so tests and
deployments choose each of them. Nothing is created at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from mobileid.auth import logon as _logon
from mobileid.auth import operators as _ops
from mobileid.auth import tokens as _tokens
from mobileid.auth.access import enforce
from mobileid.auth.clock import Clock, MonotonicAnchor, system_clock
from mobileid.auth.context import AuthDeps
from mobileid.auth.crypto import SecretBox
from mobileid.auth.events import AuthEvents, MemoryEvents
from mobileid.auth.params import AuthParams
from mobileid.auth.passwords import DummyHash
from mobileid.auth.roles import Action, Role
from mobileid.auth.values import (
    IssuedToken,
    LogonResult,
    NewOperator,
    OperatorInfo,
    Principal,
    TokenInfo,
)
from mobileid.database import UnitOfWork, Where, attach, close_database
from mobileid.errors import InvalidArgument


class AuthService:
    """Operators, logon, sessions, API tokens and the access decision.

    ``events`` receives every security-relevant outcome (default: kept in memory, see
    ``self.events``), in the unit of work of the change it describes. Each operator change takes
    ``uow``: a unit the caller opened on this service's database, which then holds the change, its
    event and whatever else the caller writes, committed all or none (without one, the change is a
    unit of its own). ``hasher`` defaults to argon2-cffi's RFC 9106 profile; pass a cheaper one only
    in tests. ``clock`` must return aware datetimes; ``monotonic`` (seconds, never going back) lets
    auth time survive the wall clock being set back (see ``clock``).
    """

    def __init__(
        self,
        database: Where,
        deployment_key: bytes,
        *,
        events: AuthEvents | None = None,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
        hasher: PasswordHasher | None = None,
        params: AuthParams | None = None,
    ) -> None:
        engine, self._owns_engine = attach(database)
        params = AuthParams() if params is None else params
        self.events: AuthEvents = MemoryEvents() if events is None else events
        self._deps = AuthDeps(
            engine=engine,
            box=SecretBox(deployment_key),
            events=self.events,
            clock=clock,
            anchor=MonotonicAnchor(monotonic, tolerance=params.clock_tolerance),
            hasher=PasswordHasher() if hasher is None else hasher,
            params=params,
        )
        self._dummy = DummyHash(self._deps.hasher)

    @classmethod
    def open(
        cls,
        path: Path,
        deployment_key: bytes,
        *,
        events: AuthEvents | None = None,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
        hasher: PasswordHasher | None = None,
        params: AuthParams | None = None,
    ) -> AuthService:
        """A service on the main database in the SQLite file at ``path`` (created and
        upgraded as needed)."""
        return cls(
            path,
            deployment_key,
            events=events,
            clock=clock,
            monotonic=monotonic,
            hasher=hasher,
            params=params,
        )

    def close(self) -> None:
        """Release the engine, if this service opened it."""
        if self._owns_engine:
            close_database(self._deps.engine)

    @property
    def engine(self) -> Engine:
        """The main database's engine, on which a caller opens the unit it hands to ``uow``."""
        return self._deps.engine

    @property
    def params(self) -> AuthParams:
        return self._deps.params

    # --- operators (need manage_operators) --------------------------------------------------
    def add_operator(
        self,
        actor: Principal,
        username: str,
        *,
        role: Role | str,
        password: str,
        display_name: str | None = None,
        unit: str | None = None,
        uow: UnitOfWork | None = None,
    ) -> NewOperator:
        return _ops.add_operator(
            self._deps,
            actor,
            username,
            role=role,
            password=password,
            display_name=display_name,
            unit=unit,
            uow=uow,
        )

    def list_operators(self) -> list[OperatorInfo]:
        return _ops.list_operators(self._deps)

    def census(self) -> tuple[int, int]:
        """(operators, active admins), for the rule of the local console."""
        return _ops.census(self._deps)

    def operator(self, username: str) -> OperatorInfo:
        return _ops.operator_info(self._deps, username)

    def disable_operator(
        self, actor: Principal, username: str, *, uow: UnitOfWork | None = None
    ) -> OperatorInfo:
        return _ops.disable_operator(self._deps, actor, username, uow=uow)

    def set_role(
        self, actor: Principal, username: str, role: Role | str, *, uow: UnitOfWork | None = None
    ) -> OperatorInfo:
        return _ops.set_role(self._deps, actor, username, role, uow=uow)

    def set_password(
        self, actor: Principal, username: str, password: str, *, uow: UnitOfWork | None = None
    ) -> None:
        _ops.set_password(self._deps, actor, username, password, uow=uow)

    def grant(
        self,
        actor: Principal,
        username: str,
        *,
        gallery: str | None = None,
        source: str | None = None,
        uow: UnitOfWork | None = None,
    ) -> OperatorInfo:
        kind, name = _one_entitlement(gallery, source)
        return _ops.change_entitlement(self._deps, actor, username, kind, name, grant=True, uow=uow)

    def revoke(
        self,
        actor: Principal,
        username: str,
        *,
        gallery: str | None = None,
        source: str | None = None,
        uow: UnitOfWork | None = None,
    ) -> OperatorInfo:
        kind, name = _one_entitlement(gallery, source)
        return _ops.change_entitlement(
            self._deps, actor, username, kind, name, grant=False, uow=uow
        )

    # --- logon and sessions ------------------------------------------------------------------
    def logon(self, username: str, password: str, totp_code: str) -> LogonResult:
        return _logon.logon(self._deps, self._dummy, username, password, totp_code)

    def session_principal(self, session_token: str) -> Principal:
        return _logon.session_principal(self._deps, session_token)

    def logout(self, session_token: str) -> None:
        _logon.logout(self._deps, session_token)

    # --- API tokens --------------------------------------------------------------------------
    def issue_token(
        self,
        principal: Principal,
        scope: Iterable[Action | str],
        *,
        expires_in: timedelta,
        label: str = "",
    ) -> IssuedToken:
        return _tokens.issue_token(self._deps, principal, scope, expires_in=expires_in, label=label)

    def token_principal(self, token: str) -> Principal:
        return _tokens.token_principal(self._deps, token)

    def revoke_token(self, actor: Principal, token_id: str) -> None:
        _tokens.revoke_token(self._deps, actor, token_id)

    def list_tokens(self, username: str) -> list[TokenInfo]:
        return _tokens.list_tokens(self._deps, username)

    # --- the access decision -----------------------------------------------------------------
    def authorize(
        self,
        principal: Principal,
        action: Action | str,
        *,
        gallery: str | None = None,
        source: str | None = None,
    ) -> None:
        """Return if allowed; else record ``access_denied`` and raise ``AccessDenied``."""
        enforce(self._deps, principal, action, gallery=gallery, source=source)


def _one_entitlement(gallery: str | None, source: str | None) -> tuple[str, str]:
    if (gallery is None) == (source is None):
        raise InvalidArgument(
            f"entitlement: expected exactly one of gallery or source, got gallery={gallery!r}, "
            f"source={source!r}",
            field="entitlement",
        )
    return ("gallery", gallery) if gallery is not None else ("source", source or "")
