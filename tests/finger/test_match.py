"""Matching: real genuine pairs score well above impostors; the score ignores pose."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from mobileid.errors import PipelineMismatch
from mobileid.finger.match import compare
from mobileid.finger.types import FingerTemplate
from tests.finger.bank import TemplateBank

# On FVC2002 DB1_B all-impostor pairs, 0.45 is about FMR 1e-3 (highest impostor seen: 0.47).
THRESHOLD = 0.45


def test_sourceafis_trio_separates(templates: TemplateBank) -> None:
    """SourceAFIS's probe matches its mate well above the threshold, its non-mate well below."""
    probe = templates.afis("probe.png")
    assert compare(probe, templates.afis("matching.png")).score > THRESHOLD + 0.15
    assert compare(probe, templates.afis("nonmatching.png")).score < THRESHOLD - 0.2


def test_same_print_in_another_format_matches_fully(templates: TemplateBank) -> None:
    """The probe as BMP gives the PNG's template; as JPEG still a near-perfect match."""
    png = templates.afis("probe.png")
    assert np.array_equal(png.minutiae, templates.afis("probe.bmp").minutiae)
    assert compare(png, templates.afis("probe.jpeg")).score > 0.8


def test_handful_of_db1_prints(templates: TemplateBank) -> None:
    """Three DB1_B fingers, two impressions each: every genuine pair beats every impostor."""
    names = [f"{f}_{k}.tif" for f in (104, 106, 108) for k in (1, 4)]
    tpl = {n: templates.db1(n) for n in names}
    gen: list[float] = []
    imp: list[float] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            (gen if a[:3] == b[:3] else imp).append(compare(tpl[a], tpl[b]).score)
    assert min(gen) > THRESHOLD > max(imp)


def _moved(t: FingerTemplate, degrees: float, dx: float, dy: float) -> FingerTemplate:
    """The template of the same finger turned by ``degrees`` (as seen) and shifted."""
    m = t.minutiae.astype(np.float64)
    a = math.radians(degrees)
    cx, cy = t.width / 2, t.height / 2
    x, y = m[:, 0] - cx, m[:, 1] - cy
    # Counter-clockwise as seen is clockwise in y-down coordinates.
    xr = x * math.cos(a) + y * math.sin(a) + cx + dx
    yr = -x * math.sin(a) + y * math.cos(a) + cy + dy
    out = np.stack([xr, yr, m[:, 2] + a, m[:, 3], m[:, 4]], axis=1)
    return replace(t, minutiae=out.astype(np.float32))


@pytest.mark.parametrize("degrees", [0.0, 30.0, -75.0, 180.0])
def test_score_ignores_rotation_and_shift(templates: TemplateBank, degrees: float) -> None:
    """Turning and shifting the probe leaves the genuine score high (unlike afis's MCC)."""
    probe, mate = templates.afis("probe.png"), templates.afis("matching.png")
    base = compare(probe, mate).score
    moved = compare(_moved(probe, degrees, 40.0, -25.0), mate)
    assert moved.score == pytest.approx(base, abs=0.08)
    assert abs(math.remainder(moved.rotation_deg + degrees, 360.0)) < 10.0  # turned back


def test_templates_of_different_pipelines_are_not_compared(templates: TemplateBank) -> None:
    """Comparing across pipeline ids raises PipelineMismatch."""
    probe = templates.afis("probe.png")
    with pytest.raises(PipelineMismatch, match="pipeline"):
        compare(probe, replace(probe, pipeline_id="other"))


def test_empty_template_scores_zero(templates: TemplateBank) -> None:
    """A template without minutiae matches nothing (score 0), without error."""
    probe = templates.afis("probe.png")
    empty = replace(probe, minutiae=np.zeros((0, 5), np.float32))
    assert compare(probe, empty).score == 0.0
