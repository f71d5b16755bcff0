"""The stratified finger tables hold each sensor to its own bound, not to the sensors' mixture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mobileid.eval.bootstrap import bootstrap_calibration
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.finger_splits import draw_splits, split_check, subset
from mobileid.eval.finger_strata import ProbeScores, genuine_reach, measure_strata, probe_scores
from mobileid.eval.fingers import Enrolled, PrintFile, evaluate, list_fvc_root
from mobileid.eval.tail import FEW
from mobileid.finger.strata import POOR_SHARE
from mobileid.scoring import build_calibration
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture(scope="module")
def sets() -> tuple[ProbeScores, ProbeScores, ProbeScores]:
    """Six real fingers, six impressions each (DB1_B), as captured, small and dry."""
    bank: TemplateBank = template_bank()
    files = [
        f
        for f in list_fvc_root(shared_path("fingerprints", "FVC2002", "DB1_B"))
        if f.finger <= 106 and f.impression <= 6
    ]

    def one(sensor: str | None, f: PrintFile) -> Enrolled:
        if sensor is None:
            return Enrolled(f, bank.db1(f.path.name), "", None)
        data = imitate_bytes(f.path.read_bytes(), sensor)
        return Enrolled(f, bank.pipeline.enrol_bytes(data, field=f.path.name), "", None)

    out = []
    for name, sensor in (("plain", None), ("small", "small"), ("dry", "dry")):
        enrolled = [one(sensor, f) for f in files]
        out.append(probe_scores(name, enrolled, evaluate(enrolled, bank.pipeline)))
    return out[0], out[1], out[2]


def test_good_table_is_at_least_every_sensors_own_bound(
    sets: tuple[ProbeScores, ProbeScores, ProbeScores],
) -> None:
    """Where FEW or more of a set's good-probe impostor scores reach a score, the good table's
    rate is at least that set's own finger-bootstrap bound (the pooled bound of the sets fails
    this on these prints: each set's tail is diluted by the others'); at every one of its
    impostor scores, at least the set's observed rate; the poor table is never below the good."""
    matcher = template_bank().pipeline.pipeline_id
    plain = sets[0]
    pooled = build_calibration(
        plain.impostor[::2], plain.genuine.size, matcher=matcher, dataset="p"
    )
    strata = measure_strata(list(sets), pooled)
    for d in sets:
        keep = d.probe_quality >= strata.min_good_quality
        imp = np.sort(d.impostor[keep])
        own = bootstrap_calibration(
            imp, d.probe_finger[keep], d.other_finger[keep], 0, matcher=matcher, dataset=d.name
        )
        dense = [s for s in own.scores if s < imp[-FEW]]
        got = np.array([strata.good.fmr(s) for s in dense])
        want = np.array([own.fmr(s) for s in dense])
        assert dense and (got >= want * (1 - 1e-12)).all(), d.name
        observed = (imp.size - np.searchsorted(imp, imp, "left")) / imp.size
        table = np.array([strata.good.fmr(s) for s in imp])
        assert (table >= observed * (1 - 1e-12)).all(), (d.name, imp[np.argmin(table - observed)])
    for s in (*strata.good.scores, *strata.poor.scores):
        assert strata.poor.fmr(s) >= strata.good.fmr(s)


def test_split_check_fits_and_checks_on_disjoint_fingers(
    sets: tuple[ProbeScores, ProbeScores, ProbeScores],
) -> None:
    """Each split's fit and check fingers share no finger and cover the set; the rows count
    every held-out set's good-probe comparisons among the check fingers, summed over splits."""
    matcher = template_bank().pipeline.pipeline_id
    fingers = np.unique(sets[0].probe_finger)
    splits = draw_splits(fingers, 3, 4)
    for fit, rest in splits:
        assert not set(fit) & set(rest) and set(fit) | set(rest) == set(fingers)
        for d in sets:
            part = subset(d, rest)
            assert set(part.probe_finger) | set(part.other_finger) <= set(rest)
    rows = split_check(list(sets), splits=3, fit_fingers=4, matcher=matcher)
    total = 0
    for d in sets[1:]:
        others = np.concatenate([o.qualities for o in sets if o is not d])
        cut = float(np.quantile(others, POOR_SHARE))  # the check counts good probes only
        want = sum(int((subset(d, rest).probe_quality >= cut).sum()) for _, rest in splits)
        assert want > 0
        got = [r for r in rows if r.held_out == d.name and r.predicted == 1e-2]
        assert [(r.impostors, r.unresolved) for r in got] == [(want, 0)], d.name
        total += want
    every = {r.predicted: r for r in rows if r.held_out.startswith("~")}
    assert every[1e-2].impostors == total and every[1e-2].observed <= every[1e-2].upper95
    # 4 fingers of 6 prints: 216 pairs fit, too few to reach 1e-3 (2 sets x 3 splits)
    assert (every[1e-3].impostors, every[1e-3].unresolved) == (0, 6)


def test_genuine_reach_counts_every_protocol_pair(
    sets: tuple[ProbeScores, ProbeScores, ProbeScores],
) -> None:
    """Every genuine pair of the protocol is counted (6 fingers x 15 pairs), a refused print's
    as not reaching; small prints' mates reach the band less often than full prints'."""
    matcher = template_bank().pipeline.pipeline_id
    plain, small, _ = sets
    pooled = build_calibration(
        plain.impostor[::2], plain.genuine.size, matcher=matcher, dataset="p"
    )
    strata = measure_strata(list(sets), pooled)
    assert [d.genuine_pairs for d in sets] == [90, 90, 90]
    full = genuine_reach(strata, plain, 1e-2)
    assert 0.9 <= full <= 1.0
    assert genuine_reach(strata, small, 1e-2) < full
    # twice the pairs, the same scores: the added pairs' prints were refused
    refused = dataclasses.replace(plain, genuine_pairs=180)
    assert genuine_reach(strata, refused, 1e-2) == pytest.approx(full / 2)
    # a few thousand impostor comparisons: 1e-4 is finer than the tables can show
    assert strata.good.resolution > 1e-4
    assert genuine_reach(strata, plain, 1e-4) == 0.0
