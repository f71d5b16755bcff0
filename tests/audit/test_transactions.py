"""An action and its audit entry commit together or not at all; the clock cannot reorder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.audit import (
    AuditEvent,
    BiometricDataRefused,
    EmbeddedAuditLog,
    EventType,
    generate_key,
    open_audit_engine,
)
from mobileid.database import close_database, open_database
from mobileid.errors import InvalidArgument
from tests.audit.conftest import StepClock, sample_event

ACTIONS = MetaData()
SUBJECTS = Table(
    "subjects_demo", ACTIONS, Column("id", Integer, primary_key=True), Column("name", String)
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """One SQLite file holding an application table and the audit tables."""
    eng = open_audit_engine(tmp_path / "app.sqlite3")
    ACTIONS.create_all(eng)
    yield eng
    close_database(eng)


@pytest.fixture
def log(engine: Engine, tmp_path: Path) -> EmbeddedAuditLog:
    return EmbeddedAuditLog(engine, signer=generate_key(tmp_path / "keys"), clock=StepClock())


def _subjects(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(SUBJECTS)) or 0)


def _enrol(name: str) -> AuditEvent:
    return AuditEvent(EventType.ENROL, "admin1", "admin", "service", details={"name": name})


def test_action_and_entry_commit_together(engine: Engine, log: EmbeddedAuditLog) -> None:
    """A committed session holds both the action and its audit entry."""
    with Session(engine) as s, s.begin():
        s.execute(insert(SUBJECTS).values(name="a"))
        entry = log.append(s, _enrol("a"))
    assert _subjects(engine) == 1
    assert log.read() == [entry]


def test_failed_action_leaves_no_entry(engine: Engine, log: EmbeddedAuditLog) -> None:
    """When the action fails after its entry was appended, the rollback removes both."""
    with pytest.raises(RuntimeError), Session(engine) as s, s.begin():
        log.append(s, _enrol("b"))
        s.execute(insert(SUBJECTS).values(name="b"))
        raise RuntimeError("the action failed")
    assert _subjects(engine) == 0
    assert log.head().sequence == 0 and log.read() == []


def test_unloggable_entry_stops_the_action(engine: Engine, log: EmbeddedAuditLog) -> None:
    """An entry that cannot be written (biometric details) rolls the caller's action back."""
    bad = AuditEvent(
        EventType.ENROL, "admin1", "admin", "service", details={"face": {"embedding": [0.1]}}
    )
    with pytest.raises(BiometricDataRefused, match="embedding"), engine.begin() as conn:
        conn.execute(insert(SUBJECTS).values(name="c"))
        log.append(conn, bad)
    assert _subjects(engine) == 0
    assert log.head().sequence == 0


def test_rolled_back_checkpoint_leaves_the_chain_gapless(engine: Engine, tmp_path: Path) -> None:
    """An automatic checkpoint inside a rolled-back transaction vanishes with it."""
    log = EmbeddedAuditLog(
        engine, signer=generate_key(tmp_path / "k2"), clock=StepClock(), checkpoint_every=2
    )
    log.record(sample_event(0))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        log.append(conn, sample_event(1))  # entry 2, whose head is signed in the transaction
        raise RuntimeError("abort")
    assert log.checkpoints() == []
    log.record(sample_event(1))
    assert [e.sequence for e in log.read()] == [1, 2]
    assert [cp.sequence for cp in log.checkpoints()] == [2]
    assert log.verify().ok and log.verify().trusted_through == 2


def test_clock_going_backwards_is_recorded_not_lost(log: EmbeddedAuditLog) -> None:
    """A clock that jumps back still gets the next number, with its reading and a flag."""
    clock = StepClock()
    log.clock = clock
    first = log.record(sample_event(0))
    clock.now -= timedelta(hours=2)
    second = log.record(sample_event(1))
    third = log.record(sample_event(2))
    assert (second.sequence, second.clock_regressed, first.clock_regressed) == (2, True, False)
    assert second.time < first.time  # the reading as it was, not a corrected one
    assert not third.clock_regressed
    assert second.time.endswith("+00:00") and len(second.time.split(".")[1]) == 12
    assert log.verify().ok


def test_naive_clock_is_refused(log: EmbeddedAuditLog) -> None:
    """A clock without a time zone cannot be turned into UTC and is refused."""
    log.clock = lambda: datetime(2026, 1, 1)
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        log.record(sample_event(0))


def test_two_engines_in_turn_keep_one_chain(tmp_path: Path) -> None:
    """Two writers on separate engines, alternating, continue each other's chain."""
    path = tmp_path / "shared.sqlite3"
    signer = generate_key(tmp_path / "keys")
    logs = [
        EmbeddedAuditLog(open_audit_engine(path), signer=signer, checkpoint_every=5)
        for _ in range(2)
    ]
    for i in range(20):
        logs[i % 2].record(sample_event(i))
    seqs = [e.sequence for e in logs[0].read()]
    assert seqs == list(range(1, 21))
    assert [cp.sequence for cp in logs[0].checkpoints()] == [5, 10, 15, 20]
    assert logs[1].verify().ok
    for log in logs:
        log.close()


def test_concurrent_writers_never_fork(tmp_path: Path) -> None:
    """Threads appending at once through two engines still yield one gapless chain."""
    path = tmp_path / "shared.sqlite3"
    logs = [EmbeddedAuditLog(open_audit_engine(path)) for _ in range(2)]
    errors: list[BaseException] = []

    def work(log: EmbeddedAuditLog) -> None:
        try:
            for i in range(15):
                log.record(sample_event(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = logs[0].verify()
    assert report.ok and report.entries == 30
    assert {e.operator for e in logs[1].read()} == {f"officer{i % 7}" for i in range(15)}
    for log in logs:
        log.close()


def test_times_are_utc_with_microseconds(log: EmbeddedAuditLog) -> None:
    """A clock in another time zone is stored as UTC, ISO-8601 with microseconds."""
    log.clock = lambda: datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert log.record(sample_event(0)).time == "2026-03-01T12:00:00.000000+00:00"


def test_shares_the_gallery_database(tmp_path: Path) -> None:
    """The audit tables can live in the gallery's own SQLite file and share its sessions."""
    from mobileid.gallery.store import SubjectRow

    engine = open_database(tmp_path / "mobileid.sqlite3")
    log = EmbeddedAuditLog(engine, clock=StepClock())
    row = SubjectRow(subject_id="S1", gallery="g", reference="r", name="n", source="s")
    with Session(engine) as s, s.begin():
        s.add(row)
        s.flush()
        log.append(s, _enrol("n"))
    with pytest.raises(BiometricDataRefused), Session(engine) as s, s.begin():
        s.delete(s.get(SubjectRow, "S1"))
        s.flush()
        log.append(s, AuditEvent(EventType.DELETE, "a", "admin", "gallery", details={"image": 1}))
    with Session(engine) as s:
        assert s.get(SubjectRow, "S1") is not None  # the delete was rolled back with it
    assert log.head().sequence == 1 and log.verify().ok
    log.close()
    close_database(engine)
