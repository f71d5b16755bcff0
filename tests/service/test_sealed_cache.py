"""The evaluation caches are sealed at rest (issue 13): neither a vector, a template nor an
image hash can be read from their files, another key reads nothing, plaintext caches of earlier
versions are removed, and the files are readable by their owner only."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import numpy as np

from mobileid.config import Settings
from mobileid.eval.faces import embed_root
from mobileid.eval.fingers import TemplateCache
from mobileid.service.embedding import EmbeddingCache, EmbedOutcome
from tests.conftest import link_subjects
from tests.finger.bank import template_bank

NAMES = ["Bill_Clinton", "Carlos_Menem"]


def _raw(path: Path) -> bytes:
    """Every byte of a SQLite file and its journal, as someone copying the folder gets them."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_face_embedding_cache_holds_no_vector_and_no_image_hash(
    tmp_path: Path, lfw_dev: Path
) -> None:
    """After a real evaluation run the cache file holds neither a vector's bytes nor an image's
    SHA-256; the second run reads the same vectors back; it is 0600 in a 0700 folder."""
    root = link_subjects(lfw_dev, tmp_path / "people", NAMES, per_subject=1)
    settings = replace(Settings(), data_dir=tmp_path / "data", workers=1)
    first = embed_root(root, settings)
    assert first.ok.all()
    path = settings.cache_dir / "face-embeddings.sqlite3"
    raw = _raw(path)
    for vector in first.vectors:
        assert vector.astype("<f4").tobytes()[:16] not in raw
    for image in first.paths:
        sha = hashlib.sha256(Path(image).read_bytes()).hexdigest()
        assert sha.encode() not in raw and bytes.fromhex(sha) not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM sealed").fetchone() == (len(NAMES),)
    again = embed_root(root, settings)
    assert np.array_equal(again.vectors, first.vectors)


def test_another_key_reads_nothing_and_plaintext_is_dropped(tmp_path: Path) -> None:
    """An entry sealed under one key is a miss under another; the plaintext table an earlier
    version wrote is dropped and the file rewritten without its bytes."""
    path = tmp_path / "cache" / "face-embeddings.sqlite3"
    path.parent.mkdir()
    marker = np.arange(128, dtype="<f4") + 0.5  # a recognisable plaintext vector
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE cache (sha256 TEXT, key TEXT, vector BLOB, error_code TEXT,"
                   " error TEXT)")  # fmt: skip
        db.execute("INSERT INTO cache VALUES ('ab', 'k', ?, '', '')", (marker.tobytes(),))
        db.commit()
    cache = EmbeddingCache(path, bytes(32))
    cache.put(EmbedOutcome("p.jpg", "cd" * 32, marker * 2), "pipeline")
    cache.close()
    assert marker.tobytes()[:32] not in _raw(path)
    other = EmbeddingCache(path, bytes(range(32)))
    assert other.get("cd" * 32, "pipeline", "p.jpg") is None
    other.close()
    same = EmbeddingCache(path, bytes(32))
    hit = same.get("cd" * 32, "pipeline", "p.jpg")
    same.close()
    assert hit is not None and hit.vector is not None and np.array_equal(hit.vector, marker * 2)


def test_finger_template_cache_is_sealed_and_old_folders_go(tmp_path: Path) -> None:
    """A real template put in the cache comes back equal; its minutiae cannot be read from the
    file; the plaintext JSON folders of earlier versions are removed."""
    bank = template_bank()
    template = bank.db1("102_1.tif")
    old = tmp_path / "cache" / "finger-templates-0123456789abcdef"
    old.mkdir(parents=True)
    (old / "ab.json").write_text('{"minutiae": [[1, 2, 3, 1, 0.5]]}')
    cache = TemplateCache(tmp_path / "cache", template.pipeline_id, bytes(32))
    cache.put("ab" * 32, template)
    assert not old.exists()
    got = cache.get("ab" * 32)
    assert isinstance(got, type(template)) and np.array_equal(got.minutiae, template.minutiae)
    raw = _raw(tmp_path / "cache" / "finger-templates.sqlite3")
    assert template.minutiae.tobytes()[:24] not in raw and b"minutiae" not in raw
    assert (
        TemplateCache(tmp_path / "cache", template.pipeline_id, bytes(range(32))).get("ab" * 32)
        is None
    )
