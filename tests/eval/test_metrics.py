"""Verification and identification metrics on score sets small enough to check by hand."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from mobileid.errors import InvalidArgument
from mobileid.eval.metrics import (
    best_accuracy,
    eer,
    fnmr_at_fmr,
    identification_metrics,
    kfold_accuracy,
    roc,
    tar_at_far,
    zero_fmr,
)

SEPARATED = ([0.8, 0.9, 0.95], [0.1, 0.2, 0.3])
# Threshold 0.5 accepts impostor 0.5 (FAR 1/4) and rejects genuine 0.3 (FRR 1/4).
OVERLAP = ([0.3, 0.6, 0.7, 0.8], [0.1, 0.2, 0.4, 0.5])


def test_roc_on_overlap_matches_hand_computation() -> None:
    """ROC points are the union of scores plus one threshold above them all."""
    t, far, frr = roc(*OVERLAP)
    np.testing.assert_allclose(t[:-1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert t[-1] > 0.8
    np.testing.assert_allclose(far, [1, 0.75, 0.5, 0.5, 0.25, 0, 0, 0, 0])
    np.testing.assert_allclose(frr, [0, 0, 0, 0.25, 0.25, 0.25, 0.5, 0.75, 1])


def test_roc_is_monotone_on_random_scores() -> None:
    """FAR never rises and FRR never falls as the threshold rises, from (1, 0) to (0, 1)."""
    rng = np.random.default_rng(7)
    t, far, frr = roc(rng.normal(2, 1, 500), rng.normal(0, 1, 5000))
    assert np.all(np.diff(t) > 0)
    assert np.all(np.diff(far) <= 0) and np.all(np.diff(frr) >= 0)
    assert (far[0], frr[0], far[-1], frr[-1]) == (1.0, 0.0, 0.0, 1.0)


def test_perfect_separation_gives_zero_errors() -> None:
    """Separated sets: EER 0, accuracy 1, TAR 1 at FAR 0, and every FNMR figure 0."""
    assert eer(*SEPARATED) == 0.0
    acc, threshold = best_accuracy(*SEPARATED)
    assert acc == 1.0 and 0.3 < threshold <= 0.8
    assert tar_at_far(*SEPARATED, 0.0) == 1.0
    assert fnmr_at_fmr(*SEPARATED, 0.01) == 0.0
    assert zero_fmr(*SEPARATED) == 0.0


def test_known_overlap_gives_known_rates() -> None:
    """The overlap set's EER is 0.25, best accuracy 7/8 at the midpoint 0.55, ZeroFMR 0.25."""
    assert eer(*OVERLAP) == pytest.approx(0.25)
    acc, threshold = best_accuracy(*OVERLAP)
    assert acc == pytest.approx(7 / 8) and threshold == pytest.approx(0.55)
    assert tar_at_far(*OVERLAP, 0.0) == pytest.approx(0.75)
    assert fnmr_at_fmr(*OVERLAP, 0.25) == pytest.approx(0.25)
    assert zero_fmr(*OVERLAP) == pytest.approx(0.25)


def test_eer_interpolates_between_roc_points() -> None:
    """FAR 2/3 stays flat while FRR jumps 0 → 1, so the lines cross at 2/3."""
    assert eer([0.5], [0.4, 0.6, 0.7]) == pytest.approx(2 / 3)


def test_tar_at_unmeasurable_far_uses_threshold_above_max_impostor() -> None:
    """With 4 impostors FAR 1e-3 is unmeasurable: TAR is that just above the top impostor."""
    assert tar_at_far([0.3, 0.6, 0.7, 0.8], [0.1, 0.2, 0.4, 0.65], 1e-3) == pytest.approx(0.5)


def test_failed_enrolment_genuine_counts_as_miss() -> None:
    """A -inf genuine score is rejected at every finite threshold."""
    gen, imp = [-math.inf, 0.9], [0.1, 0.2]
    assert tar_at_far(gen, imp, 0.0) == 0.5
    assert eer(gen, imp) == pytest.approx(0.5)
    assert best_accuracy(gen, imp)[0] == pytest.approx(0.75)


def test_roc_over_a_million_impostors_gives_the_normal_model_rate() -> None:
    """Genuine N(4,1) against 1e6 impostors N(0,1) at FAR 1e-3: the threshold sits at the
    impostors' 99.9th percentile (3.09), so TAR = Phi(4 - 3.09) = 0.819 within sampling error."""
    rng = np.random.default_rng(3)
    rate = tar_at_far(rng.normal(4, 1, 3000), rng.normal(0, 1, 1_000_000), 1e-3)
    assert rate == pytest.approx(0.819, abs=0.025)


def test_kfold_accuracy_picks_threshold_on_other_folds() -> None:
    """Fold 1's threshold (0.175) fits fold 0; fold 0's (0.5) rejects fold 1's genuine 0.2."""
    mean, std, per_fold = kfold_accuracy([0.9, 0.1, 0.2, 0.15], [1, 0, 1, 0], [0, 0, 1, 1])
    np.testing.assert_allclose(per_fold, [1.0, 0.5])
    assert mean == pytest.approx(0.75) and std == pytest.approx(0.25)


def test_kfold_accuracy_is_perfect_on_separated_folds() -> None:
    """Ten separated folds score 1.0 each with no spread."""
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.6, 1, 100), rng.uniform(0, 0.4, 100)])
    truth = np.repeat([True, False], 100)
    mean, std, per_fold = kfold_accuracy(scores, truth, np.tile(np.arange(10), 20))
    assert (mean, std, per_fold.size) == (1.0, 0.0, 10)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: roc([], [0.1]), "genuine"),
        (lambda: roc([0.5], []), "impostor"),
        (lambda: eer([math.nan], [0.1]), "genuine"),
        (lambda: eer([0.5], [math.inf]), "impostor"),
        (lambda: tar_at_far([0.5], [0.1], 1.5), "far"),
        (lambda: fnmr_at_fmr([0.5], [0.1], -0.1), "fmr"),
        (lambda: kfold_accuracy([0.5, 0.1], [1, 0], [0, 0]), "folds"),
        (lambda: kfold_accuracy([0.5, 0.1], [1, 0], [0]), "folds"),
        (lambda: kfold_accuracy([0.5, 0.4, 0.1], [1, 1, 0], [0, 1, 1]), "folds"),
    ],
)
def test_invalid_verification_inputs_raise(call: Callable[[], object], field: str) -> None:
    """Empty, nan, +inf, out-of-range rates and bad folds are refused with the field named."""
    with pytest.raises(InvalidArgument) as info:
        call()
    assert info.value.field == field
    assert "expected" in str(info.value) and "got" in str(info.value)


# Probes 0-1 are mated (mate in columns 0 and 1), probes 2-3 are not.
# Probe 0 finds its mate at rank 1 (0.65); probe 1's mate (0.5) is beaten by column 0 (0.8).
# Non-mated top scores: 0.6 and 0.7.
IDENT = np.array(
    [
        [0.65, 0.2, 0.1],
        [0.8, 0.5, 0.3],
        [0.4, 0.6, 0.2],
        [0.3, 0.1, 0.7],
    ]
)
MATE = np.array([0, 1, -1, -1])


def test_identification_on_hand_built_matrix() -> None:
    """Rank-1 1/2, CMC [1/2, 1, 1]; FNIR 1/2 at FPIR 1/2 (t > 0.6) and 1 at FPIR 0 (t > 0.7)."""
    m = identification_metrics(IDENT, MATE, fpir_points=(0.5, 0.0), max_rank=3)
    assert m.rank1 == 0.5
    np.testing.assert_allclose(m.cmc, [0.5, 1.0, 1.0])
    assert m.fnir_at_fpir == {0.5: 0.5, 0.0: 1.0}
    assert 0.6 < m.threshold_at_fpir[0.5] < 0.65 and 0.7 < m.threshold_at_fpir[0.0] < 0.71
    np.testing.assert_allclose(m.mated_top, [0.65, -math.inf])
    np.testing.assert_allclose(m.nonmated_top, [0.6, 0.7])
    assert (m.mated_probes, m.nonmated_probes, m.gallery_size) == (2, 2, 3)


def test_fpir_of_one_still_needs_the_mate_at_rank_one() -> None:
    """Accepting every search leaves FNIR at the rank-1 miss rate, not 0."""
    m = identification_metrics(IDENT, MATE, fpir_points=(1.0,))
    assert m.fnir_at_fpir[1.0] == 0.5


def test_cmc_pads_to_max_rank_beyond_gallery_size() -> None:
    """With 3 gallery entries, ranks 4..20 repeat the rank-3 value."""
    m = identification_metrics(IDENT, MATE)
    assert m.cmc.size == 20 and np.all(m.cmc[2:] == 1.0)


def test_failed_enrolment_rows_are_misses() -> None:
    """A -inf mated row is missed at every rank; a -inf non-mated row is never a false alarm."""
    scores = np.vstack([IDENT, np.full(3, -math.inf), np.full(3, -math.inf)])
    mate = np.append(MATE, [2, -1])
    m = identification_metrics(scores, mate, fpir_points=(0.5,), max_rank=3)
    assert m.rank1 == pytest.approx(1 / 3)
    np.testing.assert_allclose(m.cmc, [1 / 3, 2 / 3, 2 / 3])
    assert m.fpir(-1e300) == pytest.approx(2 / 3)
    assert m.fnir(-1e300) == pytest.approx(2 / 3)


def test_single_gallery_entry_failed_enrolment_is_a_miss() -> None:
    """With one gallery entry, a -inf mate 'ties' with nothing and must still be a miss."""
    m = identification_metrics([[-math.inf], [0.2]], [0, -1], max_rank=1)
    assert m.rank1 == 0.0 and m.fnir_at_fpir[0.01] == 1.0


def test_ties_with_the_mate_rank_ahead_of_it() -> None:
    """A gallery entry scoring the same as the mate pushes the mate to rank 2."""
    m = identification_metrics([[0.7, 0.7], [0.1, 0.2]], [1, -1], max_rank=2)
    np.testing.assert_allclose(m.cmc, [0.0, 1.0])


def test_det_curve_is_monotone_and_consistent() -> None:
    """FPIR falls and FNIR rises with the threshold; the ends are (≤1, rank-1 miss) and (0, 1)."""
    rng = np.random.default_rng(5)
    scores = rng.normal(0, 1, (60, 40))
    mate = np.where(np.arange(60) < 40, np.arange(60) % 40, -1)
    scores[np.arange(40), mate[:40]] += 3.0
    m = identification_metrics(scores, mate)
    t, fpir, fnir = m.det_curve()
    assert np.all(np.diff(fpir) <= 0) and np.all(np.diff(fnir) >= 0)
    assert fnir[0] == pytest.approx(1 - m.rank1) and (fpir[-1], fnir[-1]) == (0.0, 1.0)
    assert all(m.fnir(x) == pytest.approx(y) for x, y in zip(t, fnir, strict=True))


@pytest.mark.parametrize(
    ("scores", "mate", "field"),
    [
        ([0.1, 0.2], [0, -1], "scores"),
        ([[0.1, 0.2]], [0, -1], "scores"),
        ([[0.1, math.nan], [0.1, 0.2]], [0, -1], "scores"),
        ([[0.1, 0.2], [0.3, 0.4]], [2, -1], "mate"),
        ([[0.1, 0.2], [0.3, 0.4]], [-1, -1], "mate"),
        ([[0.1, 0.2], [0.3, 0.4]], [0, 1], "mate"),
        (np.zeros((0, 3)), np.zeros(0), "scores"),
    ],
)
def test_invalid_identification_inputs_raise(
    scores: npt.ArrayLike, mate: npt.ArrayLike, field: str
) -> None:
    """Wrong shapes, nan, out-of-range mates and one-sided probe sets are refused."""
    with pytest.raises(InvalidArgument) as info:
        identification_metrics(scores, mate)
    assert info.value.field == field


def test_invalid_identification_options_raise() -> None:
    """max_rank below 1 and an FPIR outside [0, 1] are refused."""
    with pytest.raises(InvalidArgument):
        identification_metrics(IDENT, MATE, max_rank=0)
    with pytest.raises(InvalidArgument):
        identification_metrics(IDENT, MATE, fpir_points=(2.0,))
