"""TOTP second factor (RFC 6238 via pyotp): 30 s steps, 6 digits, each code usable once."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def match_step(
    secret: str, code: str, at: datetime, *, drift: int, last_step: int | None
) -> tuple[int | None, bool]:
    """(the step ``code`` belongs to, whether it is a replay); (None, False) when no match.

    Steps within ``drift`` of the clock's step are tried. A match on a step at or before the
    last accepted one is a replay: a code, once used, never opens a second session.
    """
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return None, False
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for step in range(current - drift, current + drift + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            replay = last_step is not None and step <= last_step
            return step, replay
    return None, False
