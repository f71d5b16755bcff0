"""Errors of operators and access control, all under the one tree of ``mobileid.errors``.

::

    MobileIdError
    ├── AccessDenied            exit 8: a known operator tried an action their role, token
    │                           scope or entitlements do not allow
    ├── AuthenticationFailed    exit 9: who is asking could not be established
    │   ├── AccountLocked       too many failed logons; refused until ``until``
    │   ├── SessionExpired      idle too long, logged out, or unknown session
    │   ├── LoginRateLimited    too many logon attempts from one address (HTTP 429)
    │   └── TokenRefused        forged, expired or revoked API token
    ├── DeploymentKeyError      the deployment key is missing, malformed or not the one
    │                           that encrypted the stored secrets
    ├── InvalidArgument
    │   ├── UnknownRole, UnknownAction, DuplicateOperator, WeakPassword, LastAdmin
    └── NotFound
        └── UnknownOperator

Messages of ``AuthenticationFailed`` deliberately do not say which factor was wrong (that
would help someone guessing); the recorded event does.
"""

from __future__ import annotations

from datetime import datetime

from mobileid.errors import InvalidArgument, MobileIdError, NotFound


class AccessDenied(MobileIdError):
    """The operator is known, but may not do this; ``reason`` says why."""

    code = "access_denied"
    exit_code = 8

    def __init__(self, message: str, *, operator: str, action: str, reason: str) -> None:
        super().__init__(message, field="action")
        self.operator = operator
        self.action = action
        self.reason = reason


class AuthenticationFailed(MobileIdError):
    code = "authentication_failed"
    exit_code = 9


class AccountLocked(AuthenticationFailed):
    code = "account_locked"

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message, field="username")
        self.until = until


class LoginRateLimited(AuthenticationFailed):
    code = "login_rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, field="username")
        self.retry_after_s = retry_after_s


class SessionExpired(AuthenticationFailed):
    code = "session_expired"


class TokenRefused(AuthenticationFailed):
    code = "token_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="token")
        self.reason = reason


class DeploymentKeyError(MobileIdError):
    code = "deployment_key_error"


class UnknownRole(InvalidArgument):
    code = "unknown_role"


class UnknownAction(InvalidArgument):
    code = "unknown_action"


class DuplicateOperator(InvalidArgument):
    code = "duplicate_operator"


class WeakPassword(InvalidArgument):
    code = "weak_password"


class LastAdmin(InvalidArgument):
    code = "last_admin"


class UnknownOperator(NotFound):
    code = "unknown_operator"
