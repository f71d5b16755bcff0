"""What operators and access control report: one ``AuthEvents`` callback, swappable.

The audit log plugs in here. ``record`` is called inside the unit of work of the action it describes
(``mobileid.database.UnitOfWork``), and is handed that unit (None for an event outside any, say a
refusal decided before anything was read): a sink in the same database appends through it, so the
action and its event commit together. A callback that raises undoes the action: an action whose
event cannot be written does not happen. Details are JSON-ready (str, int, bool, lists) and never
hold a password, TOTP code, secret or token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mobileid.database import UnitOfWork


class EventType(enum.StrEnum):
    LOGON = "logon"
    LOGON_FAILED = "logon_failed"
    LOCKOUT = "lockout"
    LOGOUT = "logout"
    ACCESS_DENIED = "access_denied"
    OPERATOR_CHANGE = "operator_change"
    PERMISSION_CHANGE = "permission_change"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    SESSION_EXPIRED = "session_expired"
    CLOCK_BACKWARDS = "clock_backwards"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # an authentication attempt that did not succeed
    DENIED = "denied"  # an identified caller refused an action


class AuthEvents(Protocol):
    """Receives every security-relevant outcome of ``mobileid.auth``."""

    def record(
        self,
        event_type: str,
        operator: str | None,
        role: str | None,
        outcome: str,
        details: dict[str, Any],
        *,
        uow: UnitOfWork | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class AuthEvent:
    event_type: str
    operator: str | None
    role: str | None
    outcome: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)


class MemoryEvents:
    """The default sink: keeps events in memory (tests, and until an audit log is wired)."""

    def __init__(self) -> None:
        self.events: list[AuthEvent] = []

    def record(
        self,
        event_type: str,
        operator: str | None,
        role: str | None,
        outcome: str,
        details: dict[str, Any],
        *,
        uow: UnitOfWork | None = None,
    ) -> None:
        self.events.append(AuthEvent(event_type, operator, role, outcome, dict(details)))

    def of_type(self, event_type: str) -> list[AuthEvent]:
        return [e for e in self.events if e.event_type == event_type]

    def last(self) -> AuthEvent:
        return self.events[-1]
