"""The FVC protocol on a small FVC-style folder: pair counts, FTE as misses, cached templates."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobileid.errors import InvalidArgument
from mobileid.eval.fingers import (
    TemplateCache,
    calibrate,
    enrol_root,
    evaluate,
    list_fvc_root,
)
from mobileid.finger.pipeline import FingerPipeline
from mobileid.service.sealed_cache import SealedCache
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture
def templates() -> TemplateBank:
    return template_bank()


DB1 = ("fingerprints", "FVC2002", "DB1_B")
KEY = bytes(range(32))  # a deployment key for the sealed template cache
PRINTS = ["102_1.tif", "102_2.tif", "103_7.tif", "104_1.tif", "104_4.tif"]


def _root(tmp_path: Path) -> Path:
    """Links to five DB1_B prints (three fingers) plus a blank image posing as 103_1."""
    root = tmp_path / "root"
    root.mkdir()
    for name in PRINTS:
        (root / name).symlink_to(shared_path(*DB1, name))
    blank = io.BytesIO()
    Image.fromarray(np.full((300, 300), 200, np.uint8)).save(blank, format="PNG")
    (root / "103_1.png").write_bytes(blank.getvalue())
    (root / "notes.txt").write_text("not a print")
    return root


def _seeded_cache(tmp_path: Path, templates: TemplateBank) -> TemplateCache:
    """A cache already holding the session's templates, so the test does not re-extract."""
    cache = TemplateCache(tmp_path / "cache", templates.pipeline.pipeline_id, KEY)
    for name in PRINTS:
        sha = hashlib.sha256(shared_path(*DB1, name).read_bytes()).hexdigest()
        cache.put(sha, templates.db1(name))
    return cache


def test_fvc_protocol_counts_and_fte(tmp_path: Path, templates: TemplateBank) -> None:
    """Pairs follow the FVC protocol; a print failing to enrol is a miss in its genuine pairs."""
    files = list_fvc_root(_root(tmp_path))
    assert [(f.finger, f.impression) for f in files] == [
        (102, 1),
        (102, 2),
        (103, 1),
        (103, 7),
        (104, 1),
        (104, 4),
    ]
    pipeline: FingerPipeline = templates.pipeline
    enrolled = enrol_root(files, pipeline, _seeded_cache(tmp_path, templates))
    assert [e.extract_ms is None for e in enrolled] == [True, True, False, True, True, True]
    assert enrolled[2].error.startswith("not_a_fingerprint")
    result = evaluate(enrolled, pipeline)
    m = result.metrics
    assert (m["genuine"], m["impostor"], m["impostor_all"]) == (3, 3, 12)
    assert m["fte_rate"] == pytest.approx(1 / 6)
    assert m["pipeline_id"] == pipeline.pipeline_id
    assert np.isneginf(result.genuine).sum() == 1  # 103_1 with 103_7
    assert m["eer"] == pytest.approx(1 / 3) and m["zero_fmr"] == pytest.approx(1 / 3)
    # Both real genuine pairs outscore all 7 real impostor pairs: the only error left at any
    # operating point is the print that failed to enrol.
    real_gen = result.genuine[np.isfinite(result.genuine)]
    assert real_gen.size == 2 and real_gen.min() > result.impostor_all.max() + 0.1
    for key in ("eer_all", "fmr100", "fmr1000"):
        assert m[key] == pytest.approx(1 / 3), key
    cal = calibrate(result, "test")
    assert cal.impostor_count == 8 and cal.genuine_count == 2  # pairs with 103_1 left out
    assert cal.matcher == pipeline.pipeline_id


def test_cache_serves_reruns(tmp_path: Path, templates: TemplateBank) -> None:
    """A rerun reads every outcome, the enrolment failure included, from the cache."""
    files = list_fvc_root(_root(tmp_path))
    cache = _seeded_cache(tmp_path, templates)
    first = enrol_root(files, templates.pipeline, cache)
    again = enrol_root(files, templates.pipeline, cache)
    assert all(e.extract_ms is None for e in again)
    assert [e.error for e in again] == [e.error for e in first]
    assert np.array_equal(again[0].template.minutiae, first[0].template.minutiae)  # type: ignore[union-attr]


def test_root_without_fvc_prints_is_refused(tmp_path: Path) -> None:
    """A folder without NNN_k prints of two fingers is refused, saying what was expected."""
    (tmp_path / "101_1.tif").write_bytes(b"")
    with pytest.raises(InvalidArgument, match="NNN_k"):
        list_fvc_root(tmp_path)
    with pytest.raises(InvalidArgument, match="folder"):
        list_fvc_root(tmp_path / "missing")


def test_a_refusal_cached_before_the_current_readings_is_tried_again(tmp_path: Path) -> None:
    """A refusal stored before the pipeline's current readings (no ``readings_version``) is
    not served from the cache; one stored now is."""
    cache = TemplateCache(tmp_path / "cache", "finger/p", KEY)
    old = SealedCache(tmp_path / "cache" / "finger-templates.sqlite3", KEY)
    old.put("finger/p", "aa" * 32, b'{"error": "low_quality_fingerprint: too few"}')
    old.commit()
    assert cache.get("aa" * 32) is None
    cache.put("bb" * 32, "low_quality_fingerprint: too few")
    assert cache.get("bb" * 32) == "low_quality_fingerprint: too few"
