"""Every constant of operators and access control, in one frozen value.

Kept here rather than in ``mobileid.config`` only while the parts land in parallel; it is a
plain frozen dataclass so it can move into ``Settings`` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class AuthParams:
    min_password_length: int = 12
    # argon2 cost grows with the input; nobody types a longer passphrase
    max_password_length: int = 1024
    max_failed_logons: int = 5  # the 5th failure in a row locks the account
    lockout: timedelta = timedelta(minutes=10)
    session_idle: timedelta = timedelta(minutes=30)
    max_token_lifetime: timedelta = timedelta(days=365)
    totp_drift_steps: int = 1  # accept the previous and next 30 s code: phone clocks drift
    totp_issuer: str = "mobileid"
    # wall and monotonic clocks differ by this much without either having jumped (NTP slews);
    # a backward step larger than this is a jump, absorbed and recorded as clock_backwards
    clock_tolerance: timedelta = timedelta(seconds=2)
