"""The finger gallery's change log and snapshot files: a search sees every change without
counting rows, and a gallery opens from one sealed file that is never trusted blindly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mobileid.database import close_database, open_database
from mobileid.finger.match import prepare
from mobileid.gallery import finger_changes, finger_snapshot
from mobileid.gallery.finger_changes import FingerChangeRow
from mobileid.gallery.finger_grow import compacted
from mobileid.gallery.finger_load import ScreenLoader
from mobileid.gallery.finger_rows import FingerTemplateRow
from mobileid.gallery.finger_screen import ScreenSet
from mobileid.gallery.finger_snapshot import snapshot_path
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.store import SubjectRow
from tests.finger.test_gallery import KEY, PID, _people, _template


def _fresh(db: Path, folder: Path) -> tuple[FingerGallery, list[str]]:
    """A new gallery object (as a new process opens it), and a log of whole-table reads."""
    fingers = FingerGallery(db, key=KEY, snapshots=folder)
    whole: list[str] = []
    inner = fingers._screens._read

    def spy(opener):  # type: ignore[no-untyped-def]
        whole.append(opener.gallery)
        return inner(opener)

    fingers._screens._read = spy  # type: ignore[method-assign]
    return fingers, whole


def _same(a: ScreenSet, b: ScreenSet) -> bool:
    a, b = compacted(a), compacted(b)
    return (
        np.array_equal(a.ids, b.ids)
        and a.subjects[: a.rows] == b.subjects[: b.rows]
        and a.positions[: a.rows] == b.positions[: b.rows]
        and np.array_equal(a.codes, b.codes)
        and a.per_subject == b.per_subject
    )


def _from_sql(db: Path) -> ScreenSet:
    """The set read whole from the table, without any file."""
    return FingerGallery(db, key=KEY)._screens.load("g1", PID)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A gallery of 12 templates whose snapshot file was written by a first open."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "index" / "fingers"
    fingers, whole = _fresh(db, folder)
    fingers.enrol_many("g1", _people(range(1, 13)), batch=5)
    assert fingers.preload("g1", PID) == 12 and whole == ["g1"]
    assert fingers.flush_snapshots(timeout=60) and snapshot_path(folder, "g1", PID).exists()
    return db, folder


def test_a_gallery_opens_from_its_file_without_reading_the_table(built) -> None:
    """A new process opens the set from the file (no whole-table read), equal to the table's,
    and searches as one that read the table."""
    db, folder = built
    fingers, whole = _fresh(db, folder)
    loaded = fingers._screens.load("g1", PID)
    assert whole == [] and _same(loaded, _from_sql(db))
    probe = prepare(_template(5))
    assert fingers.search("g1", probe, 5) == FingerGallery(db, key=KEY).search("g1", probe, 5)


def test_a_lagging_file_is_caught_up_from_the_change_log(built) -> None:
    """Rows enrolled and deleted (by subject, through the cascade) after the file was written
    are caught up on open, without reading the table whole."""
    db, folder = built
    other = FingerGallery(db, key=KEY)  # another process, without files
    other.enrol_many("g1", _people(range(13, 16)))
    with Session(other.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference.in_(["r2", "r14"])))
    fingers, whole = _fresh(db, folder)
    loaded = fingers._screens.load("g1", PID)
    assert whole == [] and loaded.size == 13 and _same(loaded, _from_sql(db))


def test_a_touched_row_without_a_code_sends_the_open_to_the_table(built) -> None:
    """A row whose code was cleared after the file was written (as a row from before codes
    were stored) is not caught up from the file: the table is read, the code made again."""
    db, folder = built
    other = FingerGallery(db, key=KEY)
    with Session(other.engine) as s, s.begin():
        s.execute(
            update(FingerTemplateRow).where(FingerTemplateRow.id == 7).values(screen_code=None)
        )
    fingers, whole = _fresh(db, folder)
    assert _same(fingers._screens.load("g1", PID), _from_sql(db)) and whole == ["g1"]
    with Session(other.engine) as s:
        assert s.get(FingerTemplateRow, 7).screen_code is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("damage", ["flipped byte", "cut short", "another key", "not a file"])
def test_a_damaged_file_is_rebuilt_from_the_table(built, damage: str) -> None:
    """A file that fails authentication or cannot be read is not used: the set is read from
    the table (equal to it) and the file written again, so the next open uses it (where a
    folder stands in its place, nothing is written and each open reads the table)."""
    db, folder = built
    path = snapshot_path(folder, "g1", PID)
    data = bytearray(path.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    elif damage == "cut short":
        path.write_bytes(bytes(data[:-100]))
    elif damage == "another key":
        loaded = _from_sql(db)
        finger_snapshot.write_snapshot(
            bytes(range(5, 37)), path, "g1", finger_snapshot.Snapshot(loaded, 10**6)
        )
    else:
        path.unlink()
        path.mkdir()
    fingers, whole = _fresh(db, folder)
    assert _same(fingers._screens.load("g1", PID), _from_sql(db)) and whole == ["g1"]
    fingers.flush_snapshots()
    again, whole = _fresh(db, folder)
    assert again.preload("g1", PID) == 12 and whole == ([] if damage != "not a file" else ["g1"])


@pytest.mark.parametrize("field", ["format", "code_tag", "shape", "gallery"])
def test_a_file_of_another_version_is_rebuilt(built, monkeypatch, field: str) -> None:
    """A file written by another format, for other screen parameters, another code shape or
    another gallery (sealed with the right key) is read again from the table."""
    db, folder = built
    path = snapshot_path(folder, "g1", PID)
    real = finger_snapshot._expected

    def other(gallery: str, pipeline_id: str) -> dict[str, object]:
        wrong = {"format": 99, "code_tag": "00" * 8, "shape": [1, 1], "gallery": "g2"}
        return {**real(gallery, pipeline_id), field: wrong[field]}

    with monkeypatch.context() as m:
        m.setattr(finger_snapshot, "_expected", other)
        finger_snapshot.write_snapshot(KEY, path, "g1", finger_snapshot.Snapshot(_from_sql(db), 0))
    fingers, whole = _fresh(db, folder)
    assert _same(fingers._screens.load("g1", PID), _from_sql(db)) and whole == ["g1"]


def test_a_file_from_another_database_is_not_trusted(built, tmp_path: Path) -> None:
    """A file of the same gallery and key but another database (other rows, an older change
    log) disagrees with the table once caught up, and the set is read from the table."""
    _, folder = built
    elsewhere = tmp_path / "other.sqlite3"
    FingerGallery(elsewhere, key=KEY).enrol_many("g1", _people(range(40, 52)))
    fingers, whole = _fresh(elsewhere, folder)
    assert _same(fingers._screens.load("g1", PID), _from_sql(elsewhere)) and whole == ["g1"]


def test_a_change_by_another_connection_is_seen_by_the_next_search(built) -> None:
    """Enrolment and deletion by another gallery object between searches reach the next
    search of a loaded set (no row count), and the set then equals the table's."""
    db, folder = built
    fingers, _ = _fresh(db, folder)
    probe = prepare(_template(20))
    assert all(h.score < 0.9 for h in fingers.search("g1", probe, 5)[0])
    other = FingerGallery(db, key=KEY)
    other.enrol_many("g1", _people(range(20, 21)))
    assert fingers.search("g1", probe, 5)[0][0].score > 0.9
    with Session(other.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference == "r20"))
    assert all(h.score < 0.9 for h in fingers.search("g1", probe, 5)[0])
    assert _same(fingers._screens.load("g1", PID), _from_sql(db))


def test_a_deleted_template_leaves_the_file_at_the_next_search(built) -> None:
    """A subject deleted after the file was written is gone from the files once the next search
    has caught up (every change is written at once, in pieces: an enrolment too)."""
    db, folder = built
    fingers, _ = _fresh(db, folder)
    path = snapshot_path(folder, "g1", PID)
    with Session(fingers.engine) as s:
        ids = s.scalars(
            select(FingerTemplateRow.id).join(SubjectRow).where(SubjectRow.reference == "r3")
        ).all()
    assert ids and set(ids) <= set(finger_snapshot.read_snapshot(KEY, path, "g1", PID).loaded.ids)
    FingerGallery(db, key=KEY).enrol_many("g1", _people(range(13, 14)))
    fingers.search("g1", prepare(_template(5)), 5)
    fingers.flush_snapshots()
    assert finger_snapshot.read_snapshot(KEY, path, "g1", PID).loaded.size == 13
    with Session(fingers.engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference == "r3"))
    fingers.search("g1", prepare(_template(5)), 5)
    assert fingers.flush_snapshots(timeout=60)  # written in the background, without delay
    kept = finger_snapshot.read_snapshot(KEY, path, "g1", PID)
    assert kept is not None and kept.manifest is not None
    assert not set(ids) & set(kept.loaded.ids)
    assert _same(kept.loaded, _from_sql(db))
    listed = {finger_snapshot.segment_path(path, g.token) for g in kept.manifest.segments}
    lock = finger_snapshot.lock_path(path)  # empty: writers take turns on it
    assert set(folder.iterdir()) == listed | {path, lock}  # no file left that held the template


def test_the_database_logs_every_change_on_each_engine(database_url: str) -> None:
    """On SQLite and PostgreSQL, inserting, updating and deleting template rows (directly and
    by the subject's cascade) each log the row under its gallery, in commit order."""
    engine = open_database(database_url)
    try:
        fingers = FingerGallery(engine, key=KEY)
        fingers.enrol_many("g1", _people(range(1, 4)))
        fingers.enrol_many("g2", _people(range(4, 5)))
        with Session(engine) as s, s.begin():
            ids = list(s.scalars(select(FingerTemplateRow.id).order_by(FingerTemplateRow.id)))
            s.execute(
                update(FingerTemplateRow)
                .where(FingerTemplateRow.id == ids[1])
                .values(position="left_ring")
            )
            s.execute(delete(SubjectRow).where(SubjectRow.reference == "r1"))
        with Session(engine) as s:
            log = [
                (r.gallery, r.template_id)
                for r in s.scalars(select(FingerChangeRow).order_by(FingerChangeRow.seq))
            ]
            assert log == [("g1", ids[0]), ("g1", ids[1]), ("g1", ids[2]), ("g2", ids[3]),
                           ("g1", ids[1]), ("g1", ids[1]), ("g1", ids[0])]  # fmt: skip
            newest = finger_changes.latest(s, "g1")
            assert finger_changes.touched(s, "g1", newest - 3, newest) == [ids[0], ids[1]]
            assert finger_changes.latest(s, "g3") == 0
    finally:
        close_database(engine)


def test_a_search_reads_no_row_count_when_nothing_changed(built, monkeypatch) -> None:
    """A search over a current set asks the change log, never counts the gallery's rows."""
    db, folder = built
    fingers, _ = _fresh(db, folder)
    fingers.preload("g1", PID)
    counted: list[str] = []
    monkeypatch.setattr(ScreenLoader, "_stamp", lambda self, g, p: counted.append(g))
    fingers.search("g1", prepare(_template(3)), 5)
    assert counted == []


def test_the_file_holds_no_plaintext_code(built) -> None:
    """The file is sealed: no code of the set, nor a subject id, appears in its bytes."""
    db, folder = built
    data = snapshot_path(folder, "g1", PID).read_bytes()
    loaded = _from_sql(db)
    assert loaded.codes[0].tobytes()[:64] not in data and loaded.subjects[0].encode() not in data
    assert json.dumps(PID).encode() not in data and b'"rows"' not in data


def test_an_empty_gallery_opens_from_its_file(tmp_path: Path) -> None:
    """A gallery with no template of the pipeline writes an empty file and opens from it."""
    db, folder = tmp_path / "db.sqlite3", tmp_path / "fingers"
    first, whole = _fresh(db, folder)
    assert first.preload("g0", PID) == 0 and whole == ["g0"] and first.flush_snapshots()
    assert snapshot_path(folder, "g0", PID).exists()
    again, whole = _fresh(db, folder)
    assert again.search("g0", prepare(_template(1)), 5) == ([], {}) and whole == []
