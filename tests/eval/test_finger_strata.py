"""The stratified finger tables hold each sensor to its own bound, not to the sensors' mixture."""

from __future__ import annotations

import numpy as np
import pytest

from mobileid.eval.bootstrap import bootstrap_calibration
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.finger_strata import ProbeScores, measure_strata, probe_scores
from mobileid.eval.fingers import Enrolled, PrintFile, evaluate, list_fvc_root
from mobileid.scoring import build_calibration
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture(scope="module")
def sets() -> tuple[ProbeScores, ProbeScores]:
    """Four real fingers, four impressions each (DB1_B), as captured and as a small sensor."""
    bank: TemplateBank = template_bank()
    files = [
        f
        for f in list_fvc_root(shared_path("fingerprints", "FVC2002", "DB1_B"))
        if f.finger <= 104 and f.impression <= 4
    ]

    def one(sensor: str | None, f: PrintFile) -> Enrolled:
        if sensor is None:
            return Enrolled(f, bank.db1(f.path.name), "", None)
        data = imitate_bytes(f.path.read_bytes(), sensor)
        return Enrolled(f, bank.pipeline.enrol_bytes(data, field=f.path.name), "", None)

    out = []
    for name, sensor in (("plain", None), ("small", "small")):
        enrolled = [one(sensor, f) for f in files]
        out.append(probe_scores(name, enrolled, evaluate(enrolled, bank.pipeline)))
    return out[0], out[1]


def test_good_table_is_at_least_every_sensors_own_bound(
    sets: tuple[ProbeScores, ProbeScores],
) -> None:
    """At every score the good table's rate is at least each set's own finger-bootstrap bound of
    its good probes' rate (the pooled bound of both sets fails this on these prints: each set's
    impostor tail is diluted by the other's), and the poor table is never below the good one."""
    plain, small = sets
    matcher = template_bank().pipeline.pipeline_id
    pooled = build_calibration(
        plain.impostor[::2], plain.genuine.size, matcher=matcher, dataset="p"
    )
    strata = measure_strata([plain, small], pooled)
    for d in (plain, small):
        keep = d.probe_quality >= strata.min_good_quality
        own = bootstrap_calibration(
            d.impostor[keep],
            d.probe_finger[keep],
            d.other_finger[keep],
            0,
            matcher=matcher,
            dataset=d.name,
        )
        got = np.array([strata.good.fmr(s) for s in own.scores])
        want = np.array([own.fmr(s) for s in own.scores])
        assert (got >= want * (1 - 1e-12)).all(), (d.name, own.scores[int(np.argmin(got - want))])
    for s in (*strata.good.scores, *strata.poor.scores):
        assert strata.poor.fmr(s) >= strata.good.fmr(s)
