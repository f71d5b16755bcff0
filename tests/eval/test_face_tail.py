"""The GPD tail bound on real lfw-dev faces (a small sample: tests/eval/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.eval.faces import EmbeddedSet, calibrate, impostor_pairs
from mobileid.eval.tail import TailModel


def test_tail_bound_never_promises_less_than_the_bootstrap(sample: EmbeddedSet) -> None:
    """With ``tail``: the table is the bootstrap bound below the score FEW impostor pairs reach,
    never below it above, and above the highest impostor score it no longer falls to the
    resolution at once (the fitted tail decides there)."""
    model = TailModel(top=0.05, few=20)
    boot = calibrate(sample, "sample", resamples=100)
    gpd = calibrate(sample, "sample", resamples=100, tail=model)
    a, b = impostor_pairs(sample.identity)
    keep = sample.ok[a] & sample.ok[b]
    imp = np.sort(sample.scores(a[keep], b[keep]))
    s_few = imp[-model.few]
    below = [s for s in boot.scores if s < s_few]
    assert below and all(gpd.fmr(s) == pytest.approx(boot.fmr(s)) for s in below)
    above = np.linspace(s_few, 1.0, 50)
    assert all(gpd.fmr(s) >= boot.fmr(s) * (1 - 1e-9) for s in above)
    just_above = float(imp[-1]) + 0.01
    assert gpd.fmr(just_above) > boot.fmr(just_above)
    assert gpd.threshold(1e-3) >= boot.threshold(1e-3)
    assert "GPD tail" in gpd.dataset


def test_tail_model_option_is_checked() -> None:
    assert TailModel.parse("gpd") == TailModel()
    assert TailModel.parse("gpd:0.01,30") == TailModel(0.01, 30)
    for bad in ("pareto", "gpd:0.01", "gpd:x,3"):
        with pytest.raises(InvalidArgument, match="tail: expected gpd"):
            TailModel.parse(bad)
    with pytest.raises(InvalidArgument, match=r"tail: expected 0 < TOP < 0\.5"):
        TailModel.parse("gpd:0.6,20")
