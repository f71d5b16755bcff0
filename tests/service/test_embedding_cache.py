"""The sealed face embedding cache keeps each capture's quality measures, and an entry written
before it did is embedded again when quality is needed."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np

from mobileid.config import Settings
from mobileid.service.embedding import EmbeddingCache, embed_files, file_sha256
from mobileid.service.sealed_cache import SealedCache
from tests.conftest import shared_path


def test_an_old_cache_entry_is_embedded_again_when_quality_is_needed(tmp_path: Path) -> None:
    """An entry without quality measures is served as it is to a caller that does not need
    quality, and embedded again (real vector, quality measured) for one that does."""
    photo = sorted(shared_path("faces", "lfw-dev", "Ariel_Sharon").iterdir())[0]
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    db, key = tmp_path / "cache.sqlite3", secrets.token_bytes(32)
    stale = np.zeros(128, dtype="<f4")
    old = SealedCache(db, key)
    entry = {"vector": stale.tobytes().hex(), "error_code": "", "error": ""}  # no "quality"
    old.put("k", file_sha256(photo, settings.limits.max_file_bytes), json.dumps(entry).encode())
    old.close()
    cache = EmbeddingCache(db, key)
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
