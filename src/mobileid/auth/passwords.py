"""Password rules and hashing (argon2id via argon2-cffi).

The default ``PasswordHasher()`` uses argon2-cffi's RFC 9106 profile; tests inject a cheap one.
When the deployment's parameters change, a hash made with the old ones is replaced at the
operator's next successful logon.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mobileid.auth.errors import WeakPassword
from mobileid.auth.params import AuthParams


def check_strength(password: str, username: str, params: AuthParams) -> None:
    n = len(password)
    if n < params.min_password_length:
        raise WeakPassword(
            f"password: expected at least {params.min_password_length} characters, got {n}",
            field="password",
        )
    if n > params.max_password_length:
        raise WeakPassword(
            f"password: expected at most {params.max_password_length} characters, got {n}",
            field="password",
        )
    if len(set(password)) < 4 or username.lower() in password.lower():
        raise WeakPassword(
            "password: expected a passphrase that is not the username and not one character "
            "repeated, got one that is",
            field="password",
        )


def verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class DummyHash:
    """A hash to verify against when the username is unknown, so timing does not tell."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self._hash: str | None = None

    def burn(self, password: str) -> None:
        if self._hash is None:
            self._hash = self._hasher.hash("mobileid-no-such-operator")
        verify(self._hasher, self._hash, password)
