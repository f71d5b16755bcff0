"""The finger snapshot written in pieces: a change writes only the segments it touched, a
removed template leaves the disk at once, and a damaged or foreign piece is never trusted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from mobileid.finger.match import prepare
from mobileid.gallery import finger_grow, finger_plan
from mobileid.gallery.finger_rows import FingerEnrolment, FingerTemplateRow, pack_code
from mobileid.gallery.finger_screen import code_layout, codes_of
from mobileid.gallery.finger_snapshot import read_snapshot, snapshot_path
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.store import SubjectRow
from tests.finger.test_gallery import KEY, PID, _capture, _people, _template
from tests.finger.test_gallery_snapshot import _fresh, _from_sql, _same

SEGMENT = 4  # rows a segment holds in these tests: 12 templates make 3 segments


@pytest.fixture
def pieces(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A gallery of 12 templates whose snapshot (3 segments of 4 rows) a first open wrote."""
    monkeypatch.setattr(finger_plan, "SEGMENT_ROWS", SEGMENT)
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 13)))
    fingers.preload("g1", PID)
    assert fingers.flush_snapshots(timeout=60)
    assert len(_segments(folder)) == 3
    return db, folder


def _segments(folder: Path) -> dict[str, bytes]:
    """The segment files on disk, by name, with their bytes."""
    return {f.name: f.read_bytes() for f in sorted(folder.glob("*.segment"))}


def _listed(folder: Path) -> list[tuple[str, int]]:
    """(token, rows) of each segment the g1 manifest lists, in order."""
    snap = read_snapshot(KEY, snapshot_path(folder, "g1", PID), "g1", PID)
    assert snap is not None and snap.manifest is not None
    return [(g.token, g.rows) for g in snap.manifest.segments]


def _delete(fingers: FingerGallery, *references: str) -> None:
    with Session(fingers.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference.in_(references)))


def _searched(fingers: FingerGallery) -> None:
    """A search (which catches the set up and hands it to the writer), its write waited for."""
    fingers.search("g1", prepare(_template(5)), 5)
    assert fingers.flush_snapshots(timeout=60)


def test_a_change_writes_only_the_segments_it_touched(pieces, monkeypatch) -> None:
    """An enrolment adds one segment and leaves the others' files as they were; a deletion
    writes its segment again without the row and removes the old file; the rest stay, and
    stay at the next enrolment too."""
    db, folder = pieces
    monkeypatch.setattr(finger_grow, "_COMPACT_SHARE", 1)  # removed rows stay held, dead
    fingers, _ = _fresh(db, folder)
    fingers.preload("g1", PID)
    before, first = _segments(folder), _listed(folder)
    fingers.enrol_many("g1", [FingerEnrolment("new", "N", "t", [_capture(40, "left_thumb")])])
    _searched(fingers)
    after, second = _segments(folder), _listed(folder)
    assert second[:3] == first and second[3][1] == 1 and before.items() <= after.items()
    _delete(fingers, "r6")  # the second segment's second row
    _searched(fingers)
    now, third = _segments(folder), _listed(folder)
    assert [n for _, n in third] == [4, 3, 4, 1] and third[1][0] != second[1][0]
    assert third[:1] + third[2:] == second[:1] + second[2:]
    assert set(after) - set(now) == {
        f"{snapshot_path(folder, 'g1', PID).stem}.{second[1][0]}.segment"
    }
    assert len(set(now) - set(after)) == 1
    assert all(now[name] == data for name, data in after.items() if name in now)
    fingers.enrol_many("g1", _people(range(13, 14)))
    _searched(fingers)
    assert [n for _, n in _listed(folder)] == [4, 3, 4, 1, 1] and now.items() <= _segments(
        folder
    ).items()


def test_after_enrolments_and_deletions_a_reopened_gallery_searches_as_sql(pieces) -> None:
    """Enrolments (of a new finger position), deletions across segments and of the newest
    rows, a row changed in place, each written in pieces: a new process opens the pieces
    without reading the table, holds what the table holds and answers as a gallery built from
    SQL alone."""
    db, folder = pieces
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g1", [FingerEnrolment("n1", "N", "t", [_capture(41, "left_thumb")])])
    _searched(fingers)
    _delete(fingers, "r1", "r7", "r12")
    _searched(fingers)
    fingers.enrol_many("g1", _people(range(20, 23)))
    _searched(fingers)
    _delete(fingers, "r21", "n1")
    _searched(fingers)
    with Session(fingers.engine) as s, s.begin():  # a row of a segment no other change touched
        row = s.get(FingerTemplateRow, 10)
        assert row is not None
        code = pack_code(codes_of([_template(99)])[0], code_layout()[0])
        row.screen_code = fingers._screens.box_for("g1", PID).seal_code(row, code)
    _searched(fingers)
    again, whole = _fresh(db, folder)
    loaded = again._screens.load("g1", PID)
    assert whole == [] and loaded.size == 11 and _same(loaded, _from_sql(db))
    sql = FingerGallery(db, key=KEY)
    for seed in (5, 20, 22, 41, 99):
        probe = prepare(_template(seed))
        assert again.search("g1", probe, 5) == sql.search("g1", probe, 5)


def test_small_segments_at_the_end_are_merged_past_a_threshold(pieces, monkeypatch) -> None:
    """One enrolment per write makes one small segment each; past the threshold (3 here) they
    are merged, so the snapshot keeps a bounded number of files, every one of them listed."""
    db, folder = pieces
    monkeypatch.setattr(finger_plan, "_TAIL", 3)
    fingers, _ = _fresh(db, folder)
    counts = []
    for seed in range(50, 70):
        fingers.enrol_many("g1", _people(range(seed, seed + 1)))
        _searched(fingers)
        counts.append(len(_listed(folder)))
        assert len(_segments(folder)) == counts[-1]  # no file left behind
    # Without the merge the 20 one-row segments would make 23; merged, at most the full ones
    # (3 + 20 // 4), the 3 small ones the threshold allows and one more.
    assert max(counts) <= 3 + 20 // SEGMENT + 3 + 1
    assert sum(n for _, n in _listed(folder)) == 32
    again, whole = _fresh(db, folder)
    assert _same(again._screens.load("g1", PID), _from_sql(db)) and whole == []


def _damaged(folder: Path, damage: str) -> None:
    """One piece of the g1 snapshot damaged or replaced as ``damage`` says."""
    first = sorted(folder.glob("fingers-g1-*.segment"))[1]
    if damage == "flipped byte":
        data = bytearray(first.read_bytes())
        data[len(data) // 2] ^= 1
        first.write_bytes(bytes(data))
    elif damage == "cut short":
        first.write_bytes(first.read_bytes()[:-8])
    elif damage == "missing":
        first.unlink()
    elif damage == "another set's":  # a well-formed segment of g2's snapshot, same key
        shutil.copyfile(sorted(folder.glob("fingers-g2-*.segment"))[0], first)
    else:  # the manifest written before the last change: its replaced segment is gone
        manifest = snapshot_path(folder, "g1", PID)
        manifest.write_bytes((folder / "older").read_bytes())


@pytest.mark.parametrize(
    "damage", ["flipped byte", "cut short", "missing", "another set's", "older manifest"]
)
def test_a_damaged_or_foreign_piece_is_rebuilt_from_the_table(pieces, damage: str) -> None:
    """A segment damaged, cut, missing or taken from another snapshot (or a manifest listing
    segments no longer there) is not used: the set is read from the table, equal to it, and
    written whole again, so the next open uses the files."""
    db, folder = pieces
    fingers, _ = _fresh(db, folder)
    fingers.enrol_many("g2", _people(range(30, 34)))
    fingers.preload("g2", PID)
    (folder / "older").write_bytes(snapshot_path(folder, "g1", PID).read_bytes())
    _delete(fingers, "r2")
    _searched(fingers)
    _damaged(folder, damage)
    opened, whole = _fresh(db, folder)
    assert _same(opened._screens.load("g1", PID), _from_sql(db)) and whole == ["g1"]
    assert opened.flush_snapshots(timeout=60) and [n for _, n in _listed(folder)] == [4, 4, 3]
    again, whole = _fresh(db, folder)
    assert again.preload("g1", PID) == 11 and whole == []


def test_no_piece_holds_a_plaintext_code_or_subject(pieces) -> None:
    """Every file of the snapshot is sealed: no code of the set, subject id or position name
    appears in the bytes of the manifest or of any segment."""
    db, folder = pieces
    loaded = _from_sql(db)
    for f in folder.iterdir():
        data = f.read_bytes()
        assert loaded.codes[0].tobytes()[:64] not in data
        assert loaded.subjects[0].encode() not in data and b"right_index" not in data
