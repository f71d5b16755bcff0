"""Operators and access control: who may do what, proven at each request.

Roles and the permission table live in ``roles``; the decision in ``access``; everything that
touches storage goes through ``AuthService``. Every security-relevant outcome is reported to an
``AuthEvents`` callback (the audit log plugs in there).
"""

from mobileid.auth.clock import Clock, system_clock
from mobileid.auth.crypto import load_or_create_key
from mobileid.auth.errors import (
    AccessDenied,
    AccountLocked,
    AuthenticationFailed,
    DeploymentKeyError,
    DuplicateOperator,
    LastAdmin,
    SessionExpired,
    TokenRefused,
    UnknownAction,
    UnknownOperator,
    UnknownRole,
    WeakPassword,
)
from mobileid.auth.events import AuthEvent, AuthEvents, EventType, MemoryEvents, Outcome
from mobileid.auth.params import AuthParams
from mobileid.auth.roles import ENTITLEMENT_BOUND, PERMISSIONS, Action, Role, parse_role
from mobileid.auth.service import AuthService
from mobileid.auth.store import open_auth_engine
from mobileid.auth.values import (
    IssuedToken,
    LogonResult,
    NewOperator,
    OperatorInfo,
    Principal,
    TokenInfo,
    console_principal,
)

__all__ = [
    "ENTITLEMENT_BOUND",
    "PERMISSIONS",
    "AccessDenied",
    "AccountLocked",
    "Action",
    "AuthEvent",
    "AuthEvents",
    "AuthParams",
    "AuthService",
    "AuthenticationFailed",
    "Clock",
    "DeploymentKeyError",
    "DuplicateOperator",
    "EventType",
    "IssuedToken",
    "LastAdmin",
    "LogonResult",
    "MemoryEvents",
    "NewOperator",
    "OperatorInfo",
    "Outcome",
    "Principal",
    "Role",
    "SessionExpired",
    "TokenInfo",
    "TokenRefused",
    "UnknownAction",
    "UnknownOperator",
    "UnknownRole",
    "WeakPassword",
    "console_principal",
    "load_or_create_key",
    "open_auth_engine",
    "parse_role",
    "system_clock",
]
