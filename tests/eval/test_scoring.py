"""Score → FMR calibration: exact order statistics, monotone, honest about its resolution."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.scoring import Calibration, band_for, build_calibration
from mobileid.types import Band


def _uniform(n: int) -> Calibration:
    """Impostors 1/n, 2/n, ..., 1: the FMR at score k/n is exactly (n - k + 1)/n."""
    return build_calibration(np.arange(1, n + 1) / n, 10, matcher="face/test", dataset="uniform")


def test_table_spans_one_down_to_resolution_with_exact_rates() -> None:
    """The table runs from (min, 1) to (max, 1/n) and each rate is the exact fraction >= score."""
    cal = _uniform(1000)
    assert (cal.scores[0], cal.fmrs[0]) == (0.001, 1.0)
    assert (cal.scores[-1], cal.fmrs[-1]) == (1.0, 0.001)
    for s, f in zip(cal.scores, cal.fmrs, strict=True):
        assert f == pytest.approx(1.001 - s)
    assert len(cal.scores) <= 200
    assert np.all(np.diff(cal.scores) > 0) and np.all(np.diff(cal.fmrs) < 0)


def test_ties_are_counted_and_deduplicated() -> None:
    """Ten impostors tied at 0.5 and one at 0.9: FMR 1 at 0.5, 1/11 at 0.9, two table rows."""
    cal = build_calibration([0.5] * 10 + [0.9], 0, matcher="m", dataset="d")
    assert cal.scores == (0.5, 0.9)
    assert cal.fmrs[0] == 1.0 and cal.fmrs[1] == pytest.approx(1 / 11) and len(cal.fmrs) == 2


def test_fmr_interpolates_log_rate_between_points() -> None:
    """Halfway between FMR 1 and 0.01 in score is FMR 0.1 (log-linear)."""
    cal = Calibration("m", "d", (0.0, 1.0), (1.0, 0.01), impostor_count=100, genuine_count=0)
    assert cal.fmr(0.5) == pytest.approx(0.1)
    assert cal.fmr(-5.0) == 1.0 and cal.fmr(-math.inf) == 1.0


def test_fmr_is_non_increasing_and_never_below_resolution() -> None:
    """Over scores far below, inside and far above the table, FMR falls but stays >= 1/n."""
    rng = np.random.default_rng(11)
    cal = build_calibration(rng.normal(0, 1, 5000), 100, matcher="m", dataset="d")
    xs = np.linspace(-10, 10, 4001)
    fmrs = np.array([cal.fmr(x) for x in xs])
    assert np.all(np.diff(fmrs) <= 0)
    assert fmrs.min() == 1 / 5000 == cal.fmr(math.inf)
    assert fmrs.max() == 1.0


def test_threshold_inverts_fmr() -> None:
    """fmr(threshold(f)) <= f (and close to f); threshold(fmr(x)) <= x and close to x."""
    rng = np.random.default_rng(12)
    cal = build_calibration(rng.normal(0, 1, 5000), 100, matcher="m", dataset="d")
    for f in np.logspace(0, math.log10(1 / 5000), 50):
        t = cal.threshold(f)
        assert cal.fmr(t) <= f and cal.fmr(t) == pytest.approx(f, rel=1e-9)
    for x in np.linspace(cal.scores[0], cal.scores[-1], 200):
        assert cal.threshold(cal.fmr(x)) <= x
        assert cal.threshold(cal.fmr(x)) == pytest.approx(x, abs=1e-9)


def test_threshold_between_last_point_and_resolution_is_just_above_table() -> None:
    """A rate below the table's last row but >= 1/n is reached only just above the table."""
    cal = Calibration("m", "d", (0.0, 1.0), (1.0, 0.1), impostor_count=100, genuine_count=0)
    t = cal.threshold(0.05)
    assert 1.0 < t < 1.0 + 1e-12 and cal.fmr(t) == 0.01


def test_threshold_below_resolution_is_refused() -> None:
    """With 1000 impostors no threshold can be shown to reach FMR 1e-4."""
    with pytest.raises(InvalidArgument) as info:
        _uniform(1000).threshold(1e-4)
    assert info.value.field == "fmr" and "resolution" in str(info.value)


def test_threshold_or_answers_for_a_rate_no_score_can_reach() -> None:
    """Below the resolution the caller's stand-in comes back; at or above it, the threshold.
    A rate above 1 is still refused: that is a wrong argument, not an unreachable band."""
    cal = _uniform(1000)
    assert cal.threshold_or(1e-4, math.inf) == math.inf
    assert cal.threshold_or(1e-4, None) is None
    assert cal.threshold_or(1e-3, None) == cal.threshold(1e-3) == 1.0
    assert cal.threshold_or(0.5, math.inf) == cal.threshold(0.5)
    with pytest.raises(InvalidArgument):
        cal.threshold_or(1.5, None)


def test_strong_band_needs_a_hundred_thousand_impostors() -> None:
    """1000 impostors cap the best band at possible; 1e5 impostors can reach strong."""
    small = _uniform(1000)
    assert band_for(small.fmr(1e9), 1e-5, 1e-3) is Band.POSSIBLE
    rng = np.random.default_rng(13)
    large = build_calibration(rng.normal(0, 1, 100_000), 0, matcher="m", dataset="d")
    assert band_for(large.fmr(1e9), 1e-5, 1e-3) is Band.STRONG


def test_band_boundaries_are_inclusive() -> None:
    """An FMR equal to a band's bound is in that band."""
    assert band_for(1e-5, 1e-5, 1e-3) is Band.STRONG
    assert band_for(1e-3, 1e-5, 1e-3) is Band.POSSIBLE
    assert band_for(1.1e-3, 1e-5, 1e-3) is Band.NONE


def test_band_for_refuses_inverted_bounds_and_nan() -> None:
    """strong_fmr above possible_fmr, or an FMR of nan, is an invalid argument."""
    with pytest.raises(InvalidArgument):
        band_for(1e-4, 1e-3, 1e-5)
    with pytest.raises(InvalidArgument):
        band_for(math.nan, 1e-5, 1e-3)


def test_json_round_trip_is_equal(tmp_path: Path) -> None:
    """to_json/from_json and save/load give back an equal calibration, through real JSON text."""
    cal = build_calibration(
        np.random.default_rng(1).normal(0, 1, 777), 42, matcher="m", dataset="d"
    )
    assert Calibration.from_json(json.loads(json.dumps(cal.to_json()))) == cal
    path = tmp_path / "cal.json"
    cal.save(path)
    assert Calibration.load(path) == cal


def test_bad_json_is_refused(tmp_path: Path) -> None:
    """A wrong format tag, a missing key or a file that is not JSON raise InvalidArgument."""
    data = _uniform(10).to_json()
    with pytest.raises(InvalidArgument):
        Calibration.from_json({**data, "format": "other"})
    with pytest.raises(InvalidArgument) as info:
        Calibration.from_json({k: v for k, v in data.items() if k != "fmrs"})
    assert info.value.field == "fmrs"
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidArgument):
        Calibration.load(path)


@pytest.mark.parametrize(
    ("scores", "fmrs", "impostors", "field"),
    [
        ((0.0, 1.0), (0.1, 1.0), 100, "fmrs"),  # rising rates
        ((1.0, 0.0), (1.0, 0.1), 100, "scores"),  # falling scores
        ((0.0, 1.0), (1.0, 0.001), 100, "fmrs"),  # below 1/impostor_count
        ((0.0, 1.0), (1.0,), 100, "fmrs"),  # lengths differ
        ((0.0, 1.0), (1.0, 0.1), 0, "impostor_count"),
    ],
)
def test_inconsistent_tables_are_refused(
    scores: tuple[float, ...], fmrs: tuple[float, ...], impostors: int, field: str
) -> None:
    """A table that is not monotone, claims more than its resolution or is ragged is refused."""
    with pytest.raises(InvalidArgument) as info:
        Calibration("m", "d", scores, fmrs, impostor_count=impostors, genuine_count=0)
    assert info.value.field == field


def test_build_refuses_empty_or_non_finite_scores() -> None:
    """No impostor scores, a nan, or fewer than two grid points cannot make a table."""
    for bad in ([], [0.1, math.nan], [0.1, -math.inf]):
        with pytest.raises(InvalidArgument):
            build_calibration(bad, 0, matcher="m", dataset="d")
    with pytest.raises(InvalidArgument):
        build_calibration([0.1, 0.2], 0, matcher="m", dataset="d", points=1)
