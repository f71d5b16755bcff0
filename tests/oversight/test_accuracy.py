"""Accuracy figures from DATA_DIR/eval: the newest run per (kind, pipeline), nothing hidden."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mobileid.oversight import load_accuracy


def _write(folder: Path, name: str, data: object, mtime: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_newest_per_kind_and_pipeline(tmp_path: Path) -> None:
    """measured_at wins over file order; without it the file's mtime decides."""
    ev = tmp_path / "eval"
    base = {"kind": "face_verify", "pipeline_id": "face/a", "dataset": "lfw-dev"}
    _write(ev, "a1.json", base | {"eer": 0.05, "measured_at": "2026-02-01T00:00:00+00:00"})
    _write(ev, "a2.json", base | {"eer": 0.02, "measured_at": "2026-03-01T00:00:00+00:00"})
    _write(ev, "b1.json", {"protocol": "identify", "pipeline_id": "face/a", "fpir": 0.1}, 1e9)
    _write(ev, "b2.json", {"protocol": "identify", "pipeline_id": "face/a", "fpir": 0.3}, 2e9)
    _write(ev, "c.json", {"pipeline_id": "finger/b", "metrics": {"eer": 0.07, "n": "x"}})
    got = {(f["kind"], f["pipeline_id"]): f for f in load_accuracy(ev)}
    assert set(got) == {("face_verify", "face/a"), ("identify", "face/a"), ("c", "finger/b")}
    assert got["face_verify", "face/a"]["metrics"] == {"eer": 0.02}
    assert got["face_verify", "face/a"]["dataset"] == "lfw-dev"
    assert got["face_verify", "face/a"]["date"] == "2026-03-01T00:00:00+00:00"
    assert got["identify", "face/a"]["metrics"] == {"fpir": 0.3}
    assert got["c", "finger/b"]["metrics"] == {"eer": 0.07}


def test_unusable_file_is_listed_not_hidden(tmp_path: Path) -> None:
    """A broken or pipeline-less file shows up with an error; no folder gives no figures."""
    ev = tmp_path / "eval"
    _write(ev, "bad.json", {"eer": 0.1})
    (ev / "torn.json").write_text("{", encoding="utf-8")
    got = load_accuracy(ev)
    assert [f["file"] for f in got] == ["bad.json", "torn.json"]
    assert all("error" in f for f in got)
    assert load_accuracy(tmp_path / "absent") == []
