"""A real audit log, built once through the public API and copied for each test to tamper."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobileid.audit import (
    AuditEvent,
    EmbeddedAuditLog,
    EventType,
    Outcome,
    audit_database,
    open_audit_log,
)

USER_EVENTS = 350
EVERY = 100
# 350 events, heads signed (and witnessed) at entries 100, 200 and 300; 301..350 unsigned.
TOTAL = USER_EVENTS


class StepClock:
    """A clock that advances one second per reading and can be set back by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def sample_event(i: int) -> AuditEvent:
    kinds = [EventType.LOGON, EventType.SEARCH, EventType.RECORD_VIEW, EventType.DISPOSITION]
    return AuditEvent(
        event=kinds[i % len(kinds)],
        operator=f"officer{i % 7}",
        role="officer",
        component="service",
        outcome=Outcome.OK if i % 11 else Outcome.DENIED,
        details={
            "case": f"CASE-{i:05d}",
            "purpose": "missing person",
            "bands": {"strong": i % 2, "possible": i % 3},
            "galleries": ["default", "wanted"],
            "images_added": 0,
        },
    )


@pytest.fixture(scope="session")
def built_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of an intact log: 350 entries, heads signed at 100, 200 and 300 (a slow
    schedule, so that an unsigned tail exists to tamper with)."""
    data = tmp_path_factory.mktemp("audit-template")
    log = open_audit_log(data, clock=StepClock(), checkpoint_every=EVERY)
    for i in range(10):  # one transaction each...
        log.record(sample_event(i))
    for start in range(10, USER_EVENTS, 30):  # ...and in the callers' batched transactions
        with log.engine.begin() as conn:
            for i in range(start, min(start + 30, USER_EVENTS)):
                log.append(conn, sample_event(i))
    log.close()
    return data


@pytest.fixture
def data_dir(built_log: Path, tmp_path: Path) -> Path:
    """A private copy of the built log's data dir (database and keys)."""
    target = tmp_path / "data"
    shutil.copytree(built_log, target)
    return target


@pytest.fixture
def db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """A raw sqlite3 connection to the copy, as someone editing the file by hand has."""
    conn = sqlite3.connect(audit_database(data_dir), isolation_level=None)
    yield conn
    conn.close()


@pytest.fixture
def reopen(data_dir: Path) -> Iterator[EmbeddedAuditLog]:
    """The copied log, opened the way the deployment opens it."""
    log = open_audit_log(
        data_dir, create_key=False, clock=StepClock(datetime(2027, 1, 1, tzinfo=UTC))
    )
    yield log
    log.close()
