"""The face embedding cache keeps each capture's quality measures, and a cache file written
before it did is upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from mobileid.config import Settings
from mobileid.service.embedding import EmbeddingCache, embed_files, file_sha256
from tests.conftest import shared_path


def test_an_old_cache_row_is_embedded_again_when_quality_is_needed(tmp_path: Path) -> None:
    """A row from a cache without the quality column is served as it is to a caller that does
    not need quality, and embedded again (real vector, quality measured) for one that does."""
    photo = sorted(shared_path("faces", "lfw-dev", "Ariel_Sharon").iterdir())[0]
    db = tmp_path / "cache.sqlite3"
    old = sqlite3.connect(db)
    old.execute(
        "CREATE TABLE cache (sha256 TEXT, key TEXT, vector BLOB, error_code TEXT, error TEXT,"
        " PRIMARY KEY (sha256, key))"
    )
    stale = np.zeros(128, dtype="<f4")
    old.execute(
        "INSERT INTO cache VALUES (?,?,?,?,?)", (file_sha256(photo), "k", stale.tobytes(), "", "")
    )
    old.commit()
    old.close()
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    cache = EmbeddingCache(db)
    try:
        (kept,) = embed_files([photo], settings, "k", cache=cache)
        assert kept.quality is None and not kept.vector.any()
        (fresh,) = embed_files([photo], settings, "k", cache=cache, need_quality=True)
        assert fresh.quality is not None and fresh.quality.inter_eye_px > 20
        assert abs(float(np.linalg.norm(fresh.vector)) - 1.0) < 1e-5
        (again,) = embed_files([photo], settings, "k", cache=cache, need_quality=True)
        assert again.quality == fresh.quality
        assert np.array_equal(again.vector, fresh.vector)
    finally:
        cache.close()
