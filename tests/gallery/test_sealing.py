"""Embeddings and index files at rest are sealed under the deployment key and rotate cleanly."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faiss
import numpy as np
import pytest

from mobileid.auth.crypto import key_id
from mobileid.auth.errors import DeploymentKeyError
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.faiss_files import _context
from mobileid.gallery.sealing import FileSeal

PID = "test-pipeline/1"
KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))


def unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def filled(tmp_path: Path, n: int = 6, key: bytes = KEY) -> tuple[EmbeddedGallery, np.ndarray]:
    g = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=key)
    vecs = unit(np.random.default_rng(0), n)
    for i, v in enumerate(vecs):
        g.enrol("g1", f"r{i}", f"N{i}", "t", [(f"h{i}", v)], PID)
    return g, vecs


def raw_rows(tmp_path: Path) -> list[tuple[int, bytes, str]]:
    with sqlite3.connect(tmp_path / "g.sqlite3") as db:
        return db.execute("SELECT id, vector, key_id FROM face_embeddings ORDER BY id").fetchall()


def test_stored_vectors_are_sealed_with_their_key_id(tmp_path):
    """No row holds its vector's bytes in the clear; each names the key that sealed it."""
    g, vecs = filled(tmp_path)
    for (_, blob, kid), v in zip(raw_rows(tmp_path), vecs, strict=True):
        assert kid == key_id(KEY)
        assert v.astype("<f4").tobytes()[:64] not in blob
        assert len(blob) == 12 + 512 + 16  # nonce, ciphertext, tag
    assert g.search("g1", vecs[2], PID, k=1)[0].score > 0.999
    g.close()


def test_index_file_is_sealed_and_a_corrupt_one_is_rebuilt(tmp_path):
    """The index is one sealed file holding no vector in the clear; a damaged one is a cache
    miss, rebuilt from the database."""
    g, vecs = filled(tmp_path)
    g.search("g1", vecs[0], PID, k=1)
    files = list((tmp_path / "index").iterdir())
    assert [f.suffix for f in files] == [".sealed"]
    assert vecs[0].astype("<f4").tobytes()[:64] not in files[0].read_bytes()
    files[0].write_bytes(b"\0" * 100)
    fresh = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    assert fresh.get(fresh.search("g1", vecs[4], PID, k=1)[0].subject_id).name == "N4"
    g.close()
    fresh.close()


def test_a_wrong_key_is_a_clear_error_not_an_empty_gallery(tmp_path):
    """Opened with another key, the sealed index is unreadable and the rows refuse to open,
    with a message naming both keys; nothing is silently rebuilt empty."""
    g, vecs = filled(tmp_path)
    g.search("g1", vecs[0], PID, k=1)
    wrong = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=NEW_KEY)
    with pytest.raises(DeploymentKeyError, match=f"{key_id(NEW_KEY)}.*{key_id(KEY)}"):
        wrong.search("g1", vecs[0], PID, k=1)
    assert g.search("g1", vecs[0], PID, k=1)[0].score > 0.999
    g.close()
    wrong.close()


def test_a_blob_moved_to_another_row_fails_to_open(tmp_path):
    """The associated data binds a ciphertext to its row: swapping two blobs is detected."""
    g, vecs = filled(tmp_path, n=2)
    (a, blob_a, _), (b, blob_b, _) = raw_rows(tmp_path)
    with sqlite3.connect(tmp_path / "g.sqlite3") as db:
        db.execute("UPDATE face_embeddings SET vector=? WHERE id=?", (blob_b, a))
        db.execute("UPDATE face_embeddings SET vector=? WHERE id=?", (blob_a, b))
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        g.search("g1", vecs[0], PID, k=1)
    g.close()


def test_rotation_reseals_every_row_and_drops_old_index_files(tmp_path):
    """After rotate_key in a unit of work, every row is under the new key once the unit
    commits (not before: the index files stay until then), the old key no longer opens the
    gallery and the new one does."""
    g, vecs = filled(tmp_path, n=7)
    g.search("g1", vecs[0], PID, k=1)
    with UnitOfWork(g.engine) as uow:
        n = g.rotate_key(KEY, NEW_KEY, batch=3, uow=uow)
        assert list((tmp_path / "index").iterdir()) and g.key_id == key_id(KEY)
    assert n == 7
    assert {kid for _, _, kid in raw_rows(tmp_path)} == {key_id(NEW_KEY)}
    assert not list((tmp_path / "index").iterdir())
    assert g.key_id == key_id(NEW_KEY) and g.key_ids() == {key_id(NEW_KEY): 7}
    assert g.search("g1", vecs[5], PID, k=1)[0].score > 0.999
    with pytest.raises(DeploymentKeyError):
        EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "x", key=KEY).search(
            "g1", vecs[5], PID, k=1
        )
    g.close()


def test_an_interrupted_rotation_resumes_where_it_stopped(tmp_path):
    """A unit of work that fails (its audit entry) rolls back only the last batch, and the
    gallery keeps the old key; a rerun re-seals just the rest."""
    g, _ = filled(tmp_path, n=7)
    with pytest.raises(RuntimeError), UnitOfWork(g.engine) as uow:
        g.rotate_key(KEY, NEW_KEY, batch=3, uow=uow)
        raise RuntimeError("audit store unavailable")
    assert g.key_id == key_id(KEY)
    assert g.key_ids() == {key_id(NEW_KEY): 6, key_id(KEY): 1}
    assert g.rotate_key(KEY, NEW_KEY, batch=3) == 1
    assert g.key_ids() == {key_id(NEW_KEY): 7}
    g.close()


def test_a_database_from_before_encryption_is_sealed_on_first_open(tmp_path):
    """Rows written in the clear by the earlier schema are sealed when opened with a key."""
    v = unit(np.random.default_rng(3))[0]
    with sqlite3.connect(tmp_path / "g.sqlite3") as db:
        db.executescript(
            "CREATE TABLE subjects (subject_id VARCHAR(32) PRIMARY KEY, gallery VARCHAR(64),"
            " reference VARCHAR(256), name VARCHAR(256), source VARCHAR(256),"
            " created_at VARCHAR(32));"
            "CREATE TABLE face_embeddings (id INTEGER PRIMARY KEY, subject_id VARCHAR(32),"
            " gallery VARCHAR(64), pipeline_id VARCHAR(200), image_sha256 VARCHAR(64),"
            " vector BLOB, created_at VARCHAR(32));"
            "CREATE TABLE gallery_versions (gallery VARCHAR(64) PRIMARY KEY, version INTEGER,"
            " training BOOLEAN);"
            "INSERT INTO subjects VALUES ('S1', 'old', 'r', 'Old Timer', 't',"
            " '2025-01-01T00:00:00+00:00');"
            "INSERT INTO gallery_versions VALUES ('old', 1, 0);"
        )
        db.execute(
            "INSERT INTO face_embeddings VALUES (1, 'S1', 'old', ?, 'h', ?,"
            " '2025-01-01T00:00:00+00:00')",
            (PID, v.astype("<f4").tobytes()),
        )
    g = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    assert g.key_ids() == {key_id(KEY): 1} and g.retention("old") is None
    assert g.get(g.search("old", v, PID, k=1)[0].subject_id).name == "Old Timer"
    g.close()


def test_an_index_file_copied_onto_another_gallery_is_not_used(tmp_path):
    """An index file is bound to its name: copied over another gallery's, it is rebuilt."""
    g, vecs = filled(tmp_path, n=3)
    others = unit(np.random.default_rng(9), 2)
    for i, v in enumerate([vecs[0], *others]):
        g.enrol("g2", f"x{i}", "Only In G2" if i == 0 else f"X{i}", "t", [(f"hx{i}", v)], PID)
    g.search("g1", vecs[0], PID, k=1)
    g.search("g2", vecs[0], PID, k=1)
    one, two = (next((tmp_path / "index").glob(f"{name}-*.sealed")) for name in ("g1", "g2"))
    two.write_bytes(one.read_bytes())
    fresh = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    hits = fresh.search("g2", vecs[0], PID, k=5)
    assert fresh.get(hits[0].subject_id).name == "Only In G2"
    g.close()
    fresh.close()


def _file_index(tmp_path: Path) -> faiss.Index:
    """The index held in the one sealed file, opened with the key as the gallery would."""
    (path,) = (tmp_path / "index").glob("*.sealed")
    _, body = FileSeal(KEY).open(path.read_bytes(), _context(path.with_suffix("")))
    return faiss.deserialize_index(np.frombuffer(body, dtype=np.uint8))


def test_deleted_and_purged_vectors_leave_the_index_file_at_once(tmp_path):
    """Deleting one subject of 250 rewrites the sealed index file without its vector (it used
    to stay there until the next search, and past it while under 1% of the index); a purge
    leaves the file empty."""
    g, vecs = filled(tmp_path, n=250)
    g.search("g1", vecs[0], PID, k=1)  # built and saved
    assert _file_index(tmp_path).ntotal == 250
    g.remove(g.search("g1", vecs[7], PID, k=1)[0].subject_id)
    in_file = _file_index(tmp_path)  # the gallery is still open: nothing was saved on close
    scores, _ = in_file.search(vecs[7:8], 1)
    assert in_file.ntotal == 249 and scores[0, 0] < 0.9
    g.close()
    g = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    g.purge_before("g1", datetime.now(UTC) + timedelta(days=1))
    assert _file_index(tmp_path).ntotal == 0
    g.close()
