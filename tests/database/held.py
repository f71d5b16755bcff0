"""A service on a real PostgreSQL holding subject A in gallery g1 and one audit entry: the
state that the restart, silence and breaker tests take away and expect back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from mobileid.audit import AuditEvent, EventType
from mobileid.config import Settings
from mobileid.database.engines import server_breaker
from mobileid.service.context import Context, open_context
from tests.gallery.relay import Relay

VEC = np.full(128, 128**-0.5, dtype=np.float32)
PID = "p/1"


def event(case: str) -> AuditEvent:
    """A search audit entry marked with ``case``."""
    return AuditEvent(EventType.SEARCH, "officer1", "officer", "test", details={"case": case})


def state(ctx: Context) -> tuple[list[str], list[str]]:
    """Subject names in g1 and audit cases, after checking that the chain verifies."""
    report = ctx.audit.verify()
    assert report.ok, report.reason
    cases = [str(e.details.get("case")) for e in ctx.audit.read() if "case" in e.details]
    return sorted(s.name for s in ctx.gallery.subjects("g1")), cases


def open_held(url: str, data_dir: Path, bound_s: float) -> Context:
    """A service on ``url`` with database timeout ``bound_s``, holding A and entry "before"."""
    settings = replace(Settings(), data_dir=data_dir, database_url=url, database_timeout_s=bound_s)
    ctx = open_context(settings)
    ctx.gallery.enrol("g1", "a", "A", "t", [("s1", VEC)], PID)
    ctx.audit.record(event("before"))
    return ctx


def through(relay: Relay, url: str) -> str:
    """``url`` reached through ``relay``."""
    return urlparse(url)._replace(netloc=f"postgres@127.0.0.1:{relay.port}").geturl()


def resume(ctx: Context, relay: Relay) -> None:
    """The relay passes again, and the cool-down of the breaker its silence opened is over
    (tests/database/test_breaker.py: requests fail fast until then)."""
    relay.resume()
    time.sleep(server_breaker(str(ctx.settings.database_url)).retry_in_s())


@contextmanager
def relayed(url: str, data_dir: Path, bound_s: float) -> Iterator[tuple[Context, Relay]]:
    """A held service whose database is ``url`` reached through a relay; the relay passes
    again and the breaker's cool-down is over when it ends."""
    relay = Relay(url)
    ctx = open_held(through(relay, url), data_dir, bound_s)
    try:
        yield ctx, relay
    finally:
        resume(ctx, relay)
        ctx.close()
        relay.close()
