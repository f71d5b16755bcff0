"""``mobileid admin prune-changes``: old change-log entries deleted, the horizon recorded, the
gallery still searched right afterwards; a negative --keep refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobileid.config import Settings
from mobileid.service.context import open_context
from tests.conftest import cli_json


def _site(data: Path) -> list[np.ndarray]:
    """Six subjects, the index file written after the first three (it lags by three)."""
    ctx = open_context(Settings(data_dir=data))
    vecs = []
    for i in range(6):
        v = np.random.default_rng(i).normal(size=128).astype(np.float32)
        vecs.append(v / np.linalg.norm(v))
        ctx.gallery.enrol("custody", f"r{i}", f"N{i}", "t", [(f"h{i}", vecs[-1])], "test/1")
        if i == 2:
            ctx.gallery.search("custody", vecs[0], "test/1", k=1)
    ctx.close()
    return vecs


def _first(ctx, v: np.ndarray) -> str:  # type: ignore[no-untyped-def]
    return str(ctx.gallery.get(ctx.gallery.search("custody", v, "test/1", k=1)[0].subject_id).name)


def test_prune_changes_deletes_old_entries_and_searches_stay_right(tmp_path: Path) -> None:
    """--keep 2 deletes all but the newest 2 face entries (none of the finger log, which is
    empty); the index file, three changes behind, is rebuilt and finds each subject first."""
    data = tmp_path / "data"
    vecs = _site(data)
    code, out = cli_json("admin", "prune-changes", "--keep", "2", "--data-dir", str(data))
    assert code == 0
    faces = {p["log"]: p for p in out["pruned"]}["face_embedding_changes"]
    assert (faces["deleted"], faces["horizon"], faces["newest"]) == (4, 4, 6)
    ctx = open_context(Settings(data_dir=data))
    for i, v in enumerate(vecs):
        assert _first(ctx, v) == f"N{i}"
    ctx.close()


def test_a_negative_keep_is_refused(tmp_path: Path) -> None:
    """--keep -1 is an input error naming the option; nothing is deleted."""
    code, out = cli_json("admin", "prune-changes", "--keep", "-1", "--data-dir", str(tmp_path))
    assert code != 0 and "--keep" in str(out)
