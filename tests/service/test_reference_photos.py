"""Reference photos kept by enrolment: sealed in the gallery database, downscaled, deleted by
the purge and by subject deletion, re-sealed by key rotation, absent from older galleries."""

from __future__ import annotations

import io
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from mobileid.audit import EventType
from mobileid.auth.crypto import load_key
from mobileid.auth.errors import DeploymentKeyError
from mobileid.capture.decode import decode_image
from mobileid.capture.reference import MAX_SIDE
from mobileid.config import Settings
from mobileid.errors import NotFound
from mobileid.gallery.photos import ReferencePhotos
from mobileid.service.caller import console_caller
from mobileid.service.context import Context, open_context
from mobileid.service.enrol import delete_subject, enrol_directory
from mobileid.service.keys import rotate_deployment_key
from mobileid.service.retention import purge, set_retention
from mobileid.service.review import photo_url, photo_urls, reference_photo
from tests.conftest import link_subjects

CONSOLE = console_caller()
T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


# Undo what migrations added after the first release, and the photo table.
BEFORE_PHOTOS = """
DROP TABLE reference_photos; DROP TABLE mobileid_schema_version;
DROP INDEX ix_audit_entries_search_id; ALTER TABLE audit_entries DROP COLUMN search_id;
DROP TABLE auth_api_tokens; DROP TABLE auth_sessions; DROP TABLE auth_entitlements;
DROP TABLE auth_clock; DROP TABLE auth_operators;
DROP TRIGGER finger_template_added; DROP TRIGGER finger_template_removed;
DROP TRIGGER finger_template_updated; DROP TABLE finger_template_changes;
ALTER TABLE finger_templates DROP COLUMN screen_code; DROP TABLE change_log_horizons;
"""


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path, fr_samples: Path) -> Path:
    """A data folder: two LFW subjects enrolled at T0, and Barack Obama (two large photos,
    910x1137 and 626x1200) at T0+10h, all in gallery "field" (enrolled once, copied per test)."""
    root = tmp_path_factory.mktemp("photos")
    link_subjects(lfw_dev, root / "early", ["Bill_Clinton", "Carlos_Menem"], per_subject=2)
    obama = root / "late" / "Barack_Obama"
    obama.mkdir(parents=True)
    for name in ("obama.jpg", "obama2.jpg"):
        (obama / name).symlink_to(fr_samples / "examples" / name)
    settings = replace(Settings(), data_dir=root / "data", workers=1)
    ctx = open_context(settings)
    ctx.gallery.clock = lambda: T0  # type: ignore[attr-defined]
    enrol_directory(ctx, CONSOLE, root / "early", gallery="field")
    ctx.gallery.clock = lambda: T0 + timedelta(hours=10)  # type: ignore[attr-defined]
    enrol_directory(ctx, CONSOLE, root / "late", gallery="field")
    ctx.close()
    ctx.gallery.close()  # type: ignore[attr-defined]
    return settings.data_dir


@pytest.fixture
def ctx(enrolled: Path, tmp_path: Path) -> Iterator[Context]:
    shutil.copytree(enrolled, tmp_path / "data", symlinks=True)
    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data", workers=1))
    yield ctx
    ctx.close()


def ids(ctx: Context) -> dict[str, str]:
    return {s.name: s.subject_id for s in ctx.gallery.subjects()}


def photo_rows(ctx: Context) -> int:
    return sum(ctx.photos.key_ids().values())


def test_enrolment_keeps_a_sealed_downscaled_photo_per_capture(ctx: Context) -> None:
    """Two photos per subject, JPEGs whose long side is <= 480 px (Obama's 1137 px photo
    becomes 480 px, same aspect), none of whose bytes appear in the database file, and each
    still a face the gallery finds as its own subject; the enrol entry counts them."""
    subjects = ids(ctx)
    assert ctx.photos.count(list(subjects.values())) == {sid: 2 for sid in subjects.values()}
    stored = ctx.settings.database_path
    with sqlite3.connect(stored) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = stored.read_bytes()
    for name, sid in subjects.items():
        for n in (1, 2):
            photo = reference_photo(ctx, CONSOLE, sid, n)
            assert photo.media_type == "image/jpeg" and photo.data[:2] == b"\xff\xd8"
            picture = Image.open(io.BytesIO(photo.data))
            picture.load()
            assert picture.format == "JPEG" and max(picture.size) <= MAX_SIDE
            assert photo.data[100:164] not in raw  # stored sealed, not as plain JPEG
            emb = ctx.pipeline.process(decode_image(photo.data, ctx.settings.limits))
            best = ctx.gallery.search("field", emb.vector, ctx.pipeline.pipeline_id, k=1)[0]
            assert best.subject_id == sid, name
    big = Image.open(io.BytesIO(reference_photo(ctx, CONSOLE, subjects["Barack Obama"], 1).data))
    assert big.size == (round(910 * 480 / 1137), 480)
    enrols = [e for e in ctx.audit.read() if e.event == EventType.ENROL]
    assert [e.details["photos_added"] for e in enrols] == [2, 2, 2]


def test_views_are_audited_and_unknown_photos_say_so(ctx: Context) -> None:
    """Each photo view is one record_view entry naming the subject and photo number; a
    third photo of a two-photo subject is NotFound 'no reference photo', not audited."""
    sid = ids(ctx)["Bill Clinton"]
    before = len(ctx.audit.read())
    reference_photo(ctx, CONSOLE, sid, 2)
    views = ctx.audit.read()[before:]
    assert [(e.event, e.details["view"], e.details["n"]) for e in views] == [
        (EventType.RECORD_VIEW, "photo", 2)
    ]
    with pytest.raises(NotFound, match="no reference photo 3"):
        reference_photo(ctx, CONSOLE, sid, 3)
    assert len(ctx.audit.read()) == before + 1
    assert photo_urls(ctx, [sid, "Snobody"]) == {sid: photo_url(sid), "Snobody": None}
    assert photo_url(sid) == f"/api/v1/subjects/{sid}/photos/1"


def test_the_purge_deletes_photos_with_their_captures_and_counts_them(ctx: Context) -> None:
    """A 12-hour rule at T0+13h deletes the four photos of the T0 captures (and their
    subjects) and keeps Obama's two; the receipt says photos_deleted=4."""
    subjects = ids(ctx)
    set_retention(ctx, CONSOLE, "field", 12)
    (done,) = purge(ctx, CONSOLE, T0 + timedelta(hours=13))
    assert (done.photos_deleted, done.embeddings_deleted, done.subjects_deleted) == (4, 4, 2)
    receipt = [e for e in ctx.audit.read() if e.event == EventType.PURGE][-1]
    assert receipt.details["photos_deleted"] == 4
    assert photo_rows(ctx) == 2
    assert ctx.photos.count(list(subjects.values())) == {subjects["Barack Obama"]: 2}


def test_deleting_a_subject_deletes_its_photos(ctx: Context) -> None:
    """delete_subject removes the subject's two photos in its transaction and its audit entry
    counts them; other subjects keep theirs."""
    sid = ids(ctx)["Carlos Menem"]
    delete_subject(ctx, CONSOLE, sid)
    entry = ctx.audit.read()[-1]
    assert (entry.event, entry.details["photos_removed"]) == (EventType.DELETE, 2)
    assert photo_rows(ctx) == 4 and ctx.photos.count([sid]) == {}


def test_key_rotation_reseals_photos(ctx: Context) -> None:
    """After rotate-key every photo is under the new key id and still opens to the same JPEG;
    the old key is gone and a store holding only it cannot open them."""
    sid = ids(ctx)["Bill Clinton"]
    old_key = load_key(ctx.settings.deployment_key_path)
    before = reference_photo(ctx, CONSOLE, sid, 1).data
    result = rotate_deployment_key(ctx, CONSOLE, batch=4)
    new_key = load_key(ctx.settings.deployment_key_path)
    assert result.photo_rows_resealed == 6 and new_key != old_key
    assert ctx.photos.key_ids() == {ctx.photos.box.key_id: 6}
    assert not list(ctx.settings.deployment_key_path.parent.glob("*.retired"))
    assert reference_photo(ctx, CONSOLE, sid, 1).data == before
    entry = [e for e in ctx.audit.read() if e.event == EventType.KEY_ROTATION][-1]
    assert entry.details["photo_rows_resealed_count"] == 6
    stale = ReferencePhotos(ctx.settings.database_path, key=old_key)
    with pytest.raises(DeploymentKeyError):
        stale.read(sid, 1)
    stale.close()


def test_a_gallery_from_before_photos_answers_no_reference_photo(
    enrolled: Path, tmp_path: Path
) -> None:
    """A database written before photos were kept (and before migrations: no photo table, no
    version, no search index, operators in their own file, no finger screen codes or change
    log) opens, its candidates get no photo URL, a photo view is NotFound 'no reference
    photo', and deleting one of its subjects still works."""
    shutil.copytree(enrolled, tmp_path / "data", symlinks=True)
    with sqlite3.connect(tmp_path / "data" / "mobileid.sqlite3") as db:
        db.executescript(BEFORE_PHOTOS)
    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data", workers=1))
    subjects = ids(ctx)
    assert photo_urls(ctx, list(subjects.values())) == dict.fromkeys(subjects.values())
    with pytest.raises(NotFound, match="no reference photo 1"):
        reference_photo(ctx, CONSOLE, subjects["Bill Clinton"], 1)
    delete_subject(ctx, CONSOLE, subjects["Bill Clinton"])
    assert ctx.audit.read()[-1].details["photos_removed"] == 0
    ctx.close()
