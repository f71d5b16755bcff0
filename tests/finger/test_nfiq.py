"""Per-print NFIQ 2-style quality: measured on real prints, recorded in the template, lower for
degraded captures, and the stratified calibration that reads it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.finger.nfiq import QUALITY_VERSION, print_quality
from mobileid.finger.strata import FingerStrata
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank


def _print(db: str, name: str) -> bytes:
    return shared_path("fingerprints", "FVC2002", db, name).read_bytes()


def test_template_quality_is_the_print_quality(templates: TemplateBank) -> None:
    """A template's quality is the 0-100 score of its image and minutiae; a clear optical
    print scores high."""
    pipe, data = templates.pipeline, _print("DB1_B", "102_1.tif")
    t = templates.db1("102_1.tif")
    q = print_quality(pipe.load_image(data).pixels, t.minutiae)
    assert t.quality == q.score and 0 <= q.score <= 100
    assert q.score >= 80 and q.minutiae == t.count and q.area > 200 * 200


@pytest.mark.parametrize("sensor", ["small", "capacitive"])
def test_degraded_capture_scores_lower(templates: TemplateBank, sensor: str) -> None:
    """The same synthetic print from a small-area or a capacitive sensor scores lower than as
    captured: less area, fewer minutiae, fainter ridges."""
    pipe, data = templates.pipeline, _print("DB4_B", "105_3.tif")
    plain = pipe.enrol_bytes(data)
    degraded = pipe.enrol_bytes(imitate_bytes(data, sensor))
    assert degraded.quality < plain.quality - 5, (degraded.quality, plain.quality)


def test_texture_without_ridges_scores_near_zero() -> None:
    """Grain and shading with no minutiae (what a wall gives) has no usable quality."""
    rng = np.random.default_rng(1)
    x = np.mgrid[0:480, 0:480][1]
    wall = np.clip(120 + 40 * np.sin(x / 90.0) + rng.normal(0, 12, (480, 480)), 0, 255)
    q = print_quality(wall.astype(np.uint8), np.zeros((0, 5), np.float32))
    assert q.score < 20 and q.minutiae == 0


def test_shipped_strata_fit_the_pipeline(templates: TemplateBank) -> None:
    """The shipped stratified table is for this pipeline and quality version, and a poor probe
    never gets a lower false-match rate than a good one at any score."""
    path = Path(str(resources.files("mobileid.finger"))) / "strata.json"
    strata = FingerStrata.load(path)
    assert strata.matcher == templates.pipeline.pipeline_id
    assert strata.quality_version == QUALITY_VERSION
    assert 0 < strata.min_good_quality < 100
    for s in (*strata.good.scores, *strata.poor.scores):
        # equal rates read from two tables' own grids may differ in the last bit, by machine
        assert strata.poor.fmr(s) >= strata.good.fmr(s) * (1 - 1e-12)
    assert strata.for_quality(strata.min_good_quality - 1)[0] == "poor"
    assert strata.for_quality(strata.min_good_quality)[0] == "good"


def test_strata_file_of_another_format_is_refused() -> None:
    """A pooled calibration given as a strata file is refused, naming the format."""
    pooled = Path(str(resources.files("mobileid.finger"))) / "calibration.json"
    with pytest.raises(InvalidArgument, match="strata: expected format"):
        FingerStrata.from_json(json.loads(pooled.read_text()))
