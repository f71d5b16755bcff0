"""Retention rules are stored with the gallery; purge_before deletes expired captures only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.embedded import EmbeddedGallery

PID = "test-pipeline/1"
T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the gallery's stored times."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def gallery(tmp_path):
    g = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=bytes(32), clock=Clock(T0))
    yield g
    g.close()


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def at(g: EmbeddedGallery, when: datetime) -> None:
    g.clock = Clock(when)


def test_rules_are_stored_per_gallery_and_checked(gallery):
    """A rule is set, replaced and removed per gallery; bad values and galleries are refused."""
    gallery.create_gallery("a", training=False)
    gallery.create_gallery("b", training=True)
    assert gallery.set_retention("a", 12) is None
    assert gallery.set_retention("a", 24) == 12
    assert gallery.retention_rules() == {"a": 24, "b": None}
    assert gallery.set_retention("a", None) == 24 and gallery.retention("a") is None
    for bad in (0, -1, True, 10**9):
        with pytest.raises(InvalidArgument, match="hours: expected"):
            gallery.set_retention("a", bad)
    with pytest.raises(NotFound, match="gallery"):
        gallery.set_retention("nope", 1)


def test_purge_deletes_old_captures_and_subjects_left_without_any(gallery):
    """Captures before the cutoff go; a subject keeps its name while a newer capture remains."""
    old, _ = gallery.enrol("g", "old", "Old", "t", [("h1", vec(1))], PID)
    gallery.enrol("g", "mixed", "Mixed", "t", [("h2", vec(2))], PID)
    at(gallery, T0 + timedelta(hours=10))
    gallery.enrol("g", "mixed", "Mixed", "t", [("h3", vec(3))], PID)
    gallery.enrol("g", "new", "New", "t", [("h4", vec(4))], PID)
    assert gallery.search("g", vec(1), PID, k=1)[0].subject_id == old.subject_id
    purged = gallery.purge_before("g", T0 + timedelta(hours=1))
    assert (purged.subjects_deleted, purged.embeddings_deleted) == (1, 2)
    assert {s.name: s.embeddings for s in gallery.subjects("g")} == {"Mixed": 1, "New": 1}
    assert old.subject_id not in {h.subject_id for h in gallery.search("g", vec(1), PID, k=5)}


def test_a_purge_whose_receipt_fails_deletes_nothing(gallery):
    """When the receipt cannot be written in the purge's unit of work, the purge rolls back
    whole (and the index still finds the subject); a rule change likewise."""
    gallery.enrol("g", "old", "Old", "t", [("h1", vec(1))], PID)
    with pytest.raises(RuntimeError), UnitOfWork(gallery.engine) as uow:
        purged = gallery.purge_before("g", T0 + timedelta(hours=1), uow=uow)
        raise RuntimeError("audit store unavailable")
    assert purged.embeddings_deleted == 1  # deleted in the unit, then rolled back
    assert gallery.count("g") == 1 and len(gallery.subjects("g")) == 1
    assert [h.score > 0.99 for h in gallery.search("g", vec(1), PID, k=1)] == [True]
    with pytest.raises(RuntimeError), UnitOfWork(gallery.engine) as uow:
        gallery.set_retention("g", 24, uow=uow)
        raise RuntimeError("audit store unavailable")
    assert gallery.retention("g") is None


def test_purged_rows_are_gone_from_the_database_file(gallery, tmp_path):
    """Deletion overwrites the rows' bytes: after a checkpoint the file no longer holds them."""
    gallery.enrol("g", "old", "Zebedee Purgeable", "t", [("h1", vec(1))], PID)
    with gallery.engine.connect() as conn:
        blob = conn.exec_driver_sql("SELECT vector FROM face_embeddings").scalar_one()
    gallery.purge_before("g", T0 + timedelta(hours=1))
    with gallery.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = (tmp_path / "g.sqlite3").read_bytes()
    assert blob[:32] not in raw and b"Zebedee Purgeable" not in raw
