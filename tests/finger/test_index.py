"""The first stage of 1:N search keeps mates on the shortlist; two stages rank them first."""

from __future__ import annotations

import numpy as np

from mobileid.finger.index import identify, screen, screen_codes
from mobileid.finger.match import prepare
from tests.finger.bank import TemplateBank

NAMES = [f"{f}_{k}.tif" for f in (104, 106, 108) for k in (1, 4)]


def test_screen_ranks_the_mate_first(templates: TemplateBank) -> None:
    """Among six DB1_B prints of three fingers, each print's mate tops the first stage."""
    feats = [prepare(templates.db1(n)) for n in NAMES]
    codes = screen_codes(feats)
    assert codes.shape[:2] == (6, 24) and codes.dtype == np.uint64
    for i in range(6):
        others = np.array([j for j in range(6) if j != i])
        rows, scores = screen(codes[i], codes[others], 5)
        assert NAMES[others[rows[0]]][:3] == NAMES[i][:3]
        assert np.all(np.diff(scores) <= 0)


def test_two_stage_identify(templates: TemplateBank) -> None:
    """Screen to a shortlist of 2, then the geometric score puts the mate on top."""
    feats = [prepare(templates.db1(n)) for n in NAMES]
    codes = screen_codes(feats)
    gallery = [0, 2, 4]  # first impression of each finger
    for probe in (1, 3, 5):
        ranked = identify(
            feats[probe], codes[probe], [feats[g] for g in gallery], codes[gallery], 2
        )
        assert gallery[ranked[0][0]] == probe - 1 and ranked[0][1] > 0.45


def test_screen_handles_empty_inputs(templates: TemplateBank) -> None:
    """An empty gallery gives an empty shortlist; a template without cylinders scores 0."""
    code = screen_codes([prepare(templates.db1(NAMES[0]))])
    rows, scores = screen(code[0], code[:0], 5)
    assert rows.size == 0 and scores.size == 0
    rows, scores = screen(np.zeros_like(code[0]), code, 5)
    assert rows.tolist() == [0] and scores[0] <= 0.5
