"""A unit of work owns one transaction: the service's change and its audit entry commit
together, or neither does."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from mobileid.audit import AuditEvent, EventType, open_audit_log
from mobileid.database import close_database, open_database
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.embedded import EmbeddedGallery

PID = "test-pipeline"
KEY = bytes(range(32))


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def _event(case: str) -> AuditEvent:
    return AuditEvent(EventType.ENROL, "officer1", "officer", "test", details={"case": case})


def test_an_enrolment_and_its_audit_entry_commit_together_or_not_at_all(
    database_url: str, tmp_path: Path
) -> None:
    """On SQLite and PostgreSQL: a unit that ends well commits the subject and its entry; one
    whose entry is refused (a biometric detail) keeps neither; the chain verifies."""
    engine = open_database(database_url)
    gallery = EmbeddedGallery(engine, tmp_path / "index", key=KEY)
    log = open_audit_log(tmp_path / "data", database=engine)
    try:
        with UnitOfWork(engine) as uow:
            gallery.enrol("g1", "r1", "R1", "t", [("h1", _vector(1))], PID, uow=uow)
            log.append(uow.session, _event("kept"))
        refused = AuditEvent(EventType.ENROL, "o", "officer", "t", details={"embedding": [0.1]})
        with pytest.raises(InvalidArgument), UnitOfWork(engine) as uow:
            gallery.enrol("g1", "r2", "R2", "t", [("h2", _vector(2))], PID, uow=uow)
            log.append(uow.session, refused)
        assert [s.name for s in gallery.subjects("g1")] == ["R1"]
        assert [e.details.get("case") for e in log.read()] == ["kept"]
        assert log.verify().ok
    finally:
        log.close()
        gallery.close()
        close_database(engine)


def test_a_failed_write_the_caller_swallowed_still_rolls_the_unit_back(tmp_path: Path) -> None:
    """A store write that fails inside a unit dooms it: even when the caller catches the
    error and carries on, the unit's earlier writes do not commit and the error is raised."""
    engine = open_database(tmp_path / "main.sqlite3")
    gallery = EmbeddedGallery(engine, tmp_path / "index", key=KEY)
    try:
        with pytest.raises(NotFound, match="no subject"), UnitOfWork(engine) as uow:
            gallery.enrol("g1", "r1", "R1", "t", [("h1", _vector(1))], PID, uow=uow)
            with contextlib.suppress(NotFound):  # a careless caller
                gallery.remove("S-nobody", uow=uow)
        assert gallery.subjects() == []
    finally:
        gallery.close()
        close_database(engine)


def test_after_commit_actions_run_only_after_a_commit(tmp_path: Path) -> None:
    """Work registered with after_commit runs once the unit committed, never on rollback."""
    engine = open_database(tmp_path / "main.sqlite3")
    ran: list[str] = []
    try:
        with UnitOfWork(engine) as uow:
            uow.after_commit(lambda: ran.append("committed"))
            assert ran == []
        assert ran == ["committed"]
        with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
            uow.after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError("fails")
        assert ran == ["committed"]
    finally:
        close_database(engine)


def test_a_failing_after_commit_action_skips_none_of_the_others(tmp_path: Path) -> None:
    """After a commit every registered action runs, once each even when registered twice, and
    the first one that failed is raised after the others ran; the commit stands."""
    engine = open_database(tmp_path / "main.sqlite3")
    gallery = EmbeddedGallery(engine, tmp_path / "index", key=KEY)
    ran: list[str] = []

    def witness_copy() -> None:
        ran.append("witness")
        raise OSError("witness folder not writable")

    try:
        with pytest.raises(OSError, match="not writable"), UnitOfWork(engine) as uow:
            gallery.enrol("g1", "r1", "R1", "t", [("h1", _vector(1))], PID, uow=uow)
            uow.after_commit(witness_copy)
            uow.after_commit(witness_copy)
            uow.after_commit(lambda: ran.append("index"))
        assert ran == ["witness", "index"]
        assert [s.name for s in gallery.subjects("g1")] == ["R1"]
    finally:
        gallery.close()
        close_database(engine)


def test_a_store_refuses_a_unit_on_another_database_or_one_not_open(tmp_path: Path) -> None:
    """A unit on another database cannot hold a store's writes (they would not commit
    together), and a unit's session exists only inside its block: InvalidArgument naming it."""
    engine = open_database(tmp_path / "main.sqlite3")
    other = open_database(tmp_path / "other.sqlite3")
    gallery = EmbeddedGallery(engine, tmp_path / "index", key=KEY)
    try:
        refused = pytest.raises(InvalidArgument, match="unit of work: expected one on")
        with refused, UnitOfWork(other) as uow:
            gallery.enrol("g1", "r1", "R1", "t", [("h1", _vector(1))], PID, uow=uow)
        with pytest.raises(InvalidArgument, match="inside its `with` block"):
            _ = UnitOfWork(engine).session
        assert gallery.subjects() == []
    finally:
        gallery.close()
        close_database(other)
        close_database(engine)
