"""A loaded finger set kept current without copying it: rows appended into spare room, removed
rows left dead in place and skipped, the screen's shortlist exactly the compact set's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mobileid.finger.index import screen
from mobileid.finger.match import prepare
from mobileid.gallery.finger_grow import changed, compacted
from mobileid.gallery.finger_rows import FingerTemplateRow
from mobileid.gallery.finger_screen import ScreenSet, code_layout
from mobileid.gallery.finger_snapshot import read_snapshot, snapshot_path
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.store import SubjectRow
from tests.finger.test_gallery import KEY, PID, _template
from tests.finger.test_gallery_snapshot import _fresh, _from_sql, _people, _same


def _random_set(rng: np.random.Generator, n: int, first_id: int = 1) -> ScreenSet:
    """``n`` rows of random codes, a third of them copies of others (ties in the screen)."""
    _, (m, w) = code_layout()
    codes = rng.integers(0, 2**63, (n, m, w), dtype=np.uint64) & rng.integers(
        0, 2**63, (n, m, w), dtype=np.uint64
    )
    copies = rng.integers(0, n, n // 3)
    codes[rng.integers(0, n, n // 3)] = codes[copies]
    ids = first_id + np.arange(n, dtype=np.int64) * 3
    subjects = [f"s{i % 7}" for i in range(n)]
    return ScreenSet(PID, ids, subjects, ["unknown"] * n, codes)


@pytest.mark.parametrize("seed", range(6))
def test_shortlist_with_dead_rows_equals_the_compact_sets(seed: int) -> None:
    """After appends and removals, the shortlist (ids, order, scores) is exactly what the
    screen gives over a set holding the live rows alone, ties included."""
    rng = np.random.default_rng(seed)
    held = ScreenSet.read(PID, [], expected=0)
    for _ in range(4):
        top = int(held.ids[-1]) + 1 if held.rows else 1
        fresh = _random_set(rng, int(rng.integers(200, 400)), first_id=top)
        gone = rng.choice(held.ids, min(held.rows, int(rng.integers(1, 5)))) if held.rows else []
        held = changed(held, np.union1d(fresh.ids, np.asarray(gone, np.int64)), fresh)
    assert held.dead.size  # the removals stayed in place (fewer than 1 in 32)
    live = compacted(held)
    probe = _random_set(rng, 1).codes[0]
    for size in (1, 5, 17, live.size, live.size + 10):
        rows, scores = held.shortlist(probe, size)
        want_rows, want_scores = screen(probe, live.codes, size)
        assert np.array_equal(held.ids[rows], live.ids[want_rows])
        assert np.array_equal(scores, want_scores)


def test_an_enrolment_appends_without_copying_the_set(tmp_path: Path) -> None:
    """A catch-up after one enrolment writes the new row into the loaded set's spare room:
    the new set's codes are the old ones' memory, and the old set keeps its rows."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 13)), batch=5)
    before = fingers._screens.load("g1", PID)
    kept = before.codes.copy()
    FingerGallery(db, key=KEY).enrol_many("g1", _people(range(20, 21)))
    after = fingers._screens.load("g1", PID)
    assert after.size == 13 and np.shares_memory(after.codes, before.codes)
    assert before.size == 12 and np.array_equal(before.codes, kept)
    assert _same(after, _from_sql(db))


def test_a_deletion_leaves_a_dead_row_that_is_never_returned(tmp_path: Path) -> None:
    """A deleted subject's rows stay in memory as dead rows (no copy): searches never return
    them, the set counts without them, and the set equals the table's."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 41)), batch=10)
    probe = prepare(_template(7))
    hits, _ = fingers.search("g1", probe, 5)
    assert hits[0].score > 0.9
    before = fingers._screens.load("g1", PID)
    with Session(fingers.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference == "r7"))
    after = fingers._screens.load("g1", PID)
    assert after.dead.size == 1 and np.shares_memory(after.codes, before.codes)
    hits, per_subject = fingers.search("g1", probe, 40)
    assert all(h.score < 0.9 for h in hits) and len(hits) == 39
    assert sum(per_subject.values()) == 39 == fingers.preload("g1", PID)
    assert _same(after, _from_sql(db))


def test_enough_deletions_compact_the_set(tmp_path: Path) -> None:
    """Once more than 1 row in 32 is dead the set is copied without its dead rows."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 41)), batch=20)
    fingers.preload("g1", PID)
    with Session(fingers.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference.in_(["r3", "r9"])))
    after = fingers._screens.load("g1", PID)
    assert after.dead.size == 0 and after.rows == after.size == 38
    assert _same(after, _from_sql(db))


def test_a_row_changed_in_place_is_caught_up_in_id_order(tmp_path: Path) -> None:
    """A row rewritten in the table (its code sealed again; its id below the highest) is read
    again in its place: the set equals the table's, ids ascending."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 9)), batch=4)
    before = fingers._screens.load("g1", PID)
    box = fingers._screens.box_for("g1", PID)
    with Session(fingers.engine) as s, s.begin():
        row = s.scalars(select(FingerTemplateRow).order_by(FingerTemplateRow.id)).first()
        assert row is not None
        row.screen_code = box.seal_code(row, box.code(row) or b"")
    after = fingers._screens.load("g1", PID)
    assert after is not before and after.size == 8 and np.all(np.diff(after.ids) > 0)
    assert _same(after, _from_sql(db))


def test_a_failed_background_write_is_handed_again_at_the_next_change(tmp_path: Path) -> None:
    """Where the file cannot be written (its folder is a file), searches go on; once it can,
    the next change has it written, holding what the table holds."""
    db, blocker = tmp_path / "db.sqlite3", tmp_path / "blocked"
    blocker.write_bytes(b"not a folder")
    fingers, _ = _fresh(db, blocker / "fingers")
    fingers.enrol_many("g1", _people(range(1, 6)))
    assert fingers.preload("g1", PID) == 5 and fingers.flush_snapshots(timeout=60)
    path = snapshot_path(blocker / "fingers", "g1", PID)
    assert fingers._screens.writer.failed(path)
    blocker.unlink()
    FingerGallery(db, key=KEY).enrol_many("g1", _people(range(6, 7)))
    assert fingers.preload("g1", PID) == 6 and fingers.flush_snapshots(timeout=60)
    kept = read_snapshot(KEY, path, "g1", PID)
    assert kept is not None and _same(kept.loaded, _from_sql(db))
