"""Frozen values that leave the auth package: who is asking, and what was created."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mobileid.auth.roles import Action, Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, as access decisions see it.

    ``scope`` is None for a logon session (the role's actions) and the token's actions for an
    API token. ``via`` is "session", "token" or "console" (the local command line, trusted
    because it can read the database and the deployment key anyway).
    """

    username: str
    role: Role
    unit: str | None
    galleries: frozenset[str]
    sources: frozenset[str]
    via: str
    scope: frozenset[Action] | None = None
    credential_id: str | None = None  # the API token's id; None for sessions


def console_principal(os_user: str) -> Principal:
    """The operator of the local command line: an admin, named after the OS account."""
    return Principal(
        username=f"console:{os_user}",
        role=Role.ADMIN,
        unit=None,
        galleries=frozenset(),
        sources=frozenset(),
        via="console",
    )


@dataclass(frozen=True)
class OperatorInfo:
    """An operator as shown to administrators: never a hash or secret.

    ``role`` is None when the stored role is not one this release knows (``stored_role``: a
    row written by a newer release, or edited by hand); such an operator is listed, and can
    be disabled or given a known role, but is refused everything else."""

    username: str
    display_name: str
    role: Role | None
    unit: str | None
    galleries: tuple[str, ...]
    sources: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None
    failed_logons: int
    last_logon_at: datetime | None
    stored_role: str

    @property
    def role_name(self) -> str:
        """The role as shown: its name, or "unknown" for a stored role this release lacks."""
        return "unknown" if self.role is None else self.role.value


@dataclass(frozen=True)
class NewOperator:
    """The one time the TOTP secret is shown: scan ``totp_uri`` into an authenticator app."""

    operator: OperatorInfo
    totp_uri: str
    totp_secret: str


@dataclass(frozen=True)
class LogonResult:
    session_token: str  # shown once; only its SHA-256 is kept
    principal: Principal
    idle_timeout_s: int


@dataclass(frozen=True)
class IssuedToken:
    token_id: str  # public: name it to revoke the token
    token: str  # shown once; only its SHA-256 is kept
    scope: frozenset[Action]
    expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    """An issued API token as listed: never the token itself."""

    token_id: str
    owner: str
    label: str
    scope: frozenset[Action]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
