"""Fixtures for auth tests: a driven clock, a cheap argon2 hasher, a service on a temp file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher

from mobileid.auth import AuthService, MemoryEvents, Principal, console_principal

START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)  # on a 30 s TOTP step boundary
PASSWORD = "correct horse battery"
KEY = bytes(range(32))


class DrivenClock:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.mono = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        """Time passes: both clocks move."""
        step = timedelta(**delta)
        self.now += step
        self.mono += step.total_seconds()

    def jump(self, **delta: float) -> None:
        """Someone sets the wall clock: only it moves."""
        self.now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        self.advance(seconds=(when - self.now).total_seconds())


def fast_hasher() -> PasswordHasher:
    """Minimal argon2 cost, for tests only; the default stays the RFC 9106 profile."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Env:
    svc: AuthService
    clock: DrivenClock
    events: MemoryEvents
    console: Principal
    path: Path
    secrets: dict[str, str]

    def add(self, username: str, role: str, **kw: str) -> str:
        """Add an operator with PASSWORD; returns their TOTP secret."""
        new = self.svc.add_operator(self.console, username, role=role, password=PASSWORD, **kw)
        self.secrets[username] = new.totp_secret
        return new.totp_secret

    def code(self, username: str, steps: int = 0) -> str:
        return pyotp.TOTP(self.secrets[username]).at(self.clock(), counter_offset=steps)

    def logon(self, username: str) -> str:
        """Log on with correct credentials on a fresh TOTP step; returns the session token."""
        self.clock.advance(seconds=30)
        return self.svc.logon(username, PASSWORD, self.code(username)).session_token

    def principal(self, username: str) -> Principal:
        return self.svc.session_principal(self.logon(username))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = DrivenClock()
    events = MemoryEvents()
    path = tmp_path / "operators.sqlite3"
    svc = AuthService.open(
        path, KEY, events=events, clock=clock, monotonic=clock.monotonic, hasher=fast_hasher()
    )
    yield Env(svc, clock, events, console_principal("tester"), path, {})
    svc.close()
