"""Finger rows' stored screen codes: sealed to their row, read alone at load, filled in for
rows enrolled before they existed, made again when stale, re-sealed on key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mobileid.auth.crypto import SecretBox
from mobileid.database import close_database, open_database, open_engine, release_engine, upgrade
from mobileid.database.schema import current_revision, head_revision
from mobileid.finger.match import prepare
from mobileid.gallery.finger_rows import (
    FingerTemplateRow,
    code_context,
    pack_code,
    pack_template,
    row_context,
)
from mobileid.gallery.finger_screen import code_layout, codes_of
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.sealing import DeploymentKeyError
from tests.finger.test_gallery import KEY, PID, _capture, _people, _template


def _rows(fingers: FingerGallery) -> list[FingerTemplateRow]:
    with Session(fingers.engine) as s:
        return list(s.scalars(select(FingerTemplateRow).order_by(FingerTemplateRow.id)))


def _set(fingers: FingerGallery, row_id: int, **values: object) -> None:
    with Session(fingers.engine) as s, s.begin():
        s.execute(update(FingerTemplateRow).where(FingerTemplateRow.id == row_id).values(values))


def test_codes_are_sealed_and_bound_to_their_row(tmp_path: Path) -> None:
    """A stored code holds no plaintext code; one moved to another row, or a template moved
    into the code column, fails to open when the gallery loads."""
    fingers = FingerGallery(tmp_path / "db.sqlite3", key=KEY)
    fingers.enrol_many("g1", _people(range(1, 4)))
    rows = _rows(fingers)
    tag, _ = code_layout()
    plain = pack_code(codes_of([_template(1)])[0], tag)
    assert rows[0].screen_code is not None and plain[8:72] not in rows[0].screen_code
    _set(fingers, rows[1].id, screen_code=rows[0].screen_code)
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        FingerGallery(fingers.engine, key=KEY).preload("g1", PID)
    _set(fingers, rows[1].id, screen_code=rows[1].template)
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        FingerGallery(fingers.engine, key=KEY).preload("g1", PID)


def test_a_load_reads_codes_only_and_a_search_reads_the_shortlist(tmp_path: Path) -> None:
    """With every template but one unreadable, the gallery still loads, and a search whose
    shortlist holds only the readable row finds it; one listing a damaged row fails."""
    fingers = FingerGallery(tmp_path / "db.sqlite3", key=KEY)
    fingers.enrol_many("g1", _people(range(10, 20)))
    rows = _rows(fingers)
    for row in rows[1:]:
        _set(fingers, row.id, template=rows[0].template)  # sealed for row 0: fails elsewhere
    fresh = FingerGallery(fingers.engine, key=KEY)
    assert fresh.preload("g1", PID) == 10
    hits, _ = fresh.search("g1", prepare(_template(10)), 1)
    assert [h.subject_id for h in hits] == [rows[0].subject_id] and hits[0].score > 0.9
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        fresh.search("g1", prepare(_template(11)), 1)


def test_a_row_deleted_after_the_load_is_no_hit(tmp_path: Path) -> None:
    """A shortlisted row whose template is gone from the table is dropped, not matched."""
    fingers = FingerGallery(tmp_path / "db.sqlite3", key=KEY)
    fingers.enrol_many("g1", _people(range(20, 25)))
    loaded = fingers._screens.load("g1", PID)
    row_id = int(loaded.ids[2])
    with Session(fingers.engine) as s, s.begin():
        s.execute(sa.delete(FingerTemplateRow).where(FingerTemplateRow.id == row_id))
    found = fingers._shortlisted("g1", loaded, loaded.ids.argsort())
    assert sorted(found) == sorted(int(i) for i in loaded.ids if i != row_id)
    hits, per_subject = fingers.search("g1", prepare(_template(22)), 5)
    assert len(hits) == 4 and len(per_subject) == 4  # the next search reloads without it


def test_stale_codes_are_made_again_and_stored(tmp_path: Path) -> None:
    """A code made under other screen parameters (another tag) is computed again from the
    template at the next load and written back; the search then finds its row."""
    fingers = FingerGallery(tmp_path / "db.sqlite3", key=KEY)
    fingers.enrol_many("g1", _people(range(30, 36)))
    row = _rows(fingers)[3]
    context = code_context("g1", row.subject_id, row.position, row.image_sha256, PID)
    old = pack_code(codes_of([_template(33)])[0], b"oldparam")
    _set(fingers, row.id, screen_code=SecretBox(KEY).seal(old, context))
    progress: list[tuple[int, int]] = []
    fresh = FingerGallery(fingers.engine, key=KEY, progress=lambda *p: progress.append(p))
    hits, _ = fresh.search("g1", prepare(_template(33)), 1)
    assert hits[0].subject_id == row.subject_id and hits[0].score > 0.9
    stored = SecretBox(KEY).open(_rows(fingers)[3].screen_code or b"", context, row.key_id)
    assert stored.startswith(code_layout()[0]) and progress == [(1, 1)]


def _old_database(path: Path) -> None:
    """A database at migration m0003 holding three template rows as that release wrote
    them (sealed templates, no code column)."""
    engine = open_engine(f"sqlite:///{path}")
    try:
        upgrade(engine, "m0003")
        box = SecretBox(KEY)
        meta = sa.MetaData()
        subjects = sa.Table("subjects", meta, autoload_with=engine)
        templates = sa.Table("finger_templates", meta, autoload_with=engine)
        assert "screen_code" not in templates.c
        with engine.begin() as conn:
            conn.execute(sa.insert(sa.Table("gallery_versions", meta, autoload_with=engine)),
                         [{"gallery": "g1", "version": 0, "training": False}])  # fmt: skip
            for seed in (40, 41, 42):
                sid, sha = f"{seed:032x}", f"sha{seed:04d}"
                conn.execute(sa.insert(subjects), [_subject(sid, seed)])
                context = row_context("g1", sid, "unknown", sha, PID)
                conn.execute(sa.insert(templates), [{
                    "subject_id": sid, "gallery": "g1", "position": "unknown",
                    "pipeline_id": PID, "image_sha256": sha, "key_id": box.key_id,
                    "template": box.seal(pack_template(_template(seed)), context),
                    "created_at": "2026-01-01T00:00:00+00:00",
                }])  # fmt: skip
    finally:
        release_engine(engine)


def _subject(sid: str, seed: int) -> dict[str, str]:
    return {"subject_id": sid, "gallery": "g1", "reference": f"r{seed}", "name": f"P{seed}",
            "source": "t", "created_at": "2026-01-01T00:00:00+00:00"}  # fmt: skip


def test_rows_from_before_the_code_column_get_codes_on_the_first_load(tmp_path: Path) -> None:
    """A database written before m0004 upgrades when opened; the first load computes and
    stores the missing codes with progress, searches find the old rows, a key rotation
    re-seals the new codes, and a later load computes nothing."""
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    engine = open_database(path)
    try:
        assert current_revision(engine) == head_revision()
        progress: list[tuple[int, int]] = []
        fingers = FingerGallery(engine, key=KEY, progress=lambda *p: progress.append(p))
        hits, _ = fingers.search("g1", prepare(_template(41)), 2)
        assert hits[0].subject_id == f"{41:032x}" and hits[0].score > 0.9
        assert progress[-1] == (3, 3) and all(r.screen_code for r in _rows(fingers))
        new = bytes(range(5, 37))
        assert fingers.rotate_key(KEY, new) == 3
        again: list[tuple[int, int]] = []
        rotated = FingerGallery(engine, key=new, progress=lambda *p: again.append(p))
        assert rotated.search("g1", prepare(_template(42)), 2)[0][0].score > 0.9
        assert again == []
        rotated.enrol("g1", "r43", "P43", "t", [_capture(43)])
        assert rotated.search("g1", prepare(_template(43)), 2)[0][0].score > 0.9
    finally:
        close_database(engine)
