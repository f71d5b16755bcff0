"""The first stage of 1:N search keeps mates on the shortlist; two stages rank them first."""

from __future__ import annotations

import threading

import numba
import numpy as np
import numpy.typing as npt
import pytest

from mobileid.errors import InvalidArgument
from mobileid.finger.index import (
    U64,
    _fixed_kernel,
    _score_kernel,
    identify,
    screen,
    screen_codes,
    screen_many,
)
from mobileid.finger.match import prepare
from mobileid.finger.params import ScreenParams
from tests.finger.bank import TemplateBank

NAMES = [f"{f}_{k}.tif" for f in (104, 106, 108) for k in (1, 4)]
# Four impressions of three fingers for the recall check (NAMES plus two more of each).
RECALL_NAMES = [f"{f}_{k}.tif" for f in (104, 106, 108) for k in (1, 2, 4, 7)]
# Scores are means of 12 float32 values summed in another order: a few ulps of ~0.6 apart.
ATOL = 1e-6


def reference_scores(probe: U64, gallery: U64, top: int) -> npt.NDArray[np.float32]:
    """The numpy computation the kernel replaced, kept to check that the scores agree."""
    pa = np.sqrt(np.bitwise_count(probe).sum(axis=-1, dtype=np.float32))
    xor = np.bitwise_count(probe[None, :, None, :] ^ gallery[:, None, :, :]).sum(
        axis=-1, dtype=np.float32
    )
    gb = np.sqrt(np.bitwise_count(gallery).sum(axis=-1, dtype=np.float32))
    denom = pa[None, :, None] + gb[:, None, :]
    sim = np.where(denom > 0, 1.0 - np.sqrt(xor) / np.maximum(denom, 1e-9), 0.0)
    flat = sim.reshape(sim.shape[0], -1)
    k = min(top, flat.shape[1])
    return np.partition(flat, flat.shape[1] - k, axis=1)[:, -k:].mean(axis=1, dtype=np.float32)


def all_scores(probe: U64, gallery: U64, params: ScreenParams | None = None) -> np.ndarray:
    """Every gallery row's first-stage score, in gallery order."""
    rows, scores = screen(probe, gallery, gallery.shape[0], params)
    out = np.empty(gallery.shape[0], dtype=np.float32)
    out[rows] = scores
    return out


def random_codes(rng: np.random.Generator, n: int, m: int = 24, dim: int = 312) -> U64:
    """Codes of random density, with a random number of trailing zero rows per template."""
    words = -(-dim // 64)
    bits = rng.random((n, m, words * 64)) < rng.uniform(0.2, 0.7, (n, 1, 1))
    bits[:, :, dim:] = False
    codes = np.packbits(bits, axis=2, bitorder="little").view(np.uint64).reshape(n, m, words)
    codes[np.arange(m)[None, :] >= rng.integers(0, m + 1, n)[:, None]] = 0
    return codes


def test_screen_ranks_the_mate_first(templates: TemplateBank) -> None:
    """Among six DB1_B prints of three fingers, the mates of 104 and 108 top the first stage;
    106's two impressions overlap little and rank lower here (the geometric check still pairs
    them: test_two_stage_identify)."""
    feats = [prepare(templates.db1(n)) for n in NAMES]
    codes = screen_codes(feats)
    assert codes.shape[:2] == (6, 24) and codes.dtype == np.uint64
    ranks = []
    for i in range(6):
        others = np.array([j for j in range(6) if j != i])
        rows, scores = screen(codes[i], codes[others], 5)
        names = [NAMES[others[r]][:3] for r in rows]
        ranks.append(names.index(NAMES[i][:3]))
        assert np.all(np.diff(scores) <= 0)
    assert [r for r, n in zip(ranks, NAMES, strict=True) if not n.startswith("106")] == [0] * 4


def test_kernel_scores_equal_the_reference_on_real_prints(templates: TemplateBank) -> None:
    """Real DB1_B templates: the compiled scores are the numpy scores to float32 rounding."""
    codes = screen_codes([prepare(templates.db1(n)) for n in RECALL_NAMES])
    for i in range(codes.shape[0]):
        want = reference_scores(codes[i], codes, ScreenParams().screen_top)
        np.testing.assert_allclose(all_scores(codes[i], codes), want, rtol=0, atol=ATOL)


def test_kernel_scores_equal_the_reference_on_random_codes() -> None:
    """Random codes with empty rows, several block sizes and screen_top values agree too."""
    rng = np.random.default_rng(7)
    gallery = random_codes(rng, 700)  # more than one parallel block
    probes = random_codes(rng, 6)
    probes[0] = 0  # a template without cylinders
    for top in (1, 12, 40):
        params = ScreenParams(screen_top=top)
        for probe in probes:
            want = reference_scores(probe, gallery, top)
            np.testing.assert_allclose(all_scores(probe, gallery, params), want, rtol=0, atol=ATOL)
    small = random_codes(rng, 5, m=3, dim=70)  # 3×3 pairs: fewer than screen_top
    few = ScreenParams(screen_top=12)
    np.testing.assert_allclose(
        all_scores(small[0], small, few), reference_scores(small[0], small, 12), rtol=0, atol=ATOL
    )


def test_recall_on_real_prints_is_unchanged(templates: TemplateBank) -> None:
    """Twelve DB1_B prints, each against the other eleven: the kernel ranks every mate where
    the numpy version did, and over 90% of the 36 mated pairs make the top five (34 seen)."""
    codes = screen_codes([prepare(templates.db1(n)) for n in RECALL_NAMES])
    fingers = np.array([n[:3] for n in RECALL_NAMES])
    ranks, want = [], []
    for i in range(codes.shape[0]):
        others = np.delete(np.arange(codes.shape[0]), i)
        mated = fingers[others] == fingers[i]
        rows, _ = screen(codes[i], codes[others], others.size)
        ranks += np.nonzero(mated[rows])[0].tolist()
        top = ScreenParams().screen_top
        order = np.argsort(-reference_scores(codes[i], codes[others], top), kind="stable")
        want += np.nonzero(mated[order])[0].tolist()
    assert ranks == want and len(ranks) == 36
    assert np.mean(np.array(ranks) < 5) > 0.9


def test_two_stage_identify(templates: TemplateBank) -> None:
    """Screen to a shortlist of 2, then the geometric score puts the mate on top."""
    feats = [prepare(templates.db1(n)) for n in NAMES]
    codes = screen_codes(feats)
    gallery = [0, 2, 4]  # first impression of each finger
    for probe in (1, 3, 5):
        ranked = identify(
            feats[probe], codes[probe], [feats[g] for g in gallery], codes[gallery], 2
        )
        assert gallery[ranked[0][0]] == probe - 1
        # pairs counted by closeness (matcher /3): mates 0.33-0.63, the next at most 0.044
        # (under /2 the mates scored above 0.45)
        assert ranked[0][1] > 0.25 and ranked[0][1] > 5 * ranked[1][1]


def test_screen_handles_empty_inputs(templates: TemplateBank) -> None:
    """An empty gallery gives an empty shortlist; a template without cylinders scores 0."""
    code = screen_codes([prepare(templates.db1(NAMES[0]))])
    rows, scores = screen(code[0], code[:0], 5)
    assert rows.size == 0 and scores.size == 0
    rows, scores = screen(np.zeros_like(code[0]), code, 5)
    assert rows.tolist() == [0] and scores[0] <= 0.5


def test_screen_sizes() -> None:
    """Size 0 or less gives nothing, a size beyond the gallery gives all of it, ties in order."""
    rng = np.random.default_rng(3)
    gallery = random_codes(rng, 40)
    for size in (0, -3):
        rows, scores = screen(gallery[0], gallery, size)
        assert rows.size == 0 and scores.size == 0 and rows.dtype == np.int64
    rows, scores = screen(gallery[0], gallery, 1000)
    assert sorted(rows.tolist()) == list(range(40)) and scores.dtype == np.float32
    assert rows[0] == 0 and np.all(np.diff(scores) <= 0)
    same = np.repeat(gallery[5:6], 6, axis=0)
    rows, _ = screen(gallery[1], same, 4)
    assert rows.tolist() == [0, 1, 2, 3]


def test_screen_refuses_mismatched_codes() -> None:
    """Codes of another width are refused with a message naming both shapes."""
    gallery = np.zeros((3, 24, 5), dtype=np.uint64)
    with pytest.raises(InvalidArgument, match=r"\(24, 4\)"):
        screen(np.zeros((24, 4), dtype=np.uint64), gallery, 2)


def test_concurrent_screens_agree() -> None:
    """Searches from several threads at once give the same answers as one at a time."""
    rng = np.random.default_rng(11)
    gallery = random_codes(rng, 3000)
    probes = random_codes(rng, 8)
    want = [screen(p, gallery, 10)[0].tolist() for p in probes]
    got: list[list[int]] = [[] for _ in probes]

    def run(i: int) -> None:
        got[i] = screen(probes[i], gallery, 10)[0].tolist()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(probes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def real_gallery(templates: TemplateBank, rows: int) -> U64:
    """``rows`` codes made from the twelve DB1_B prints, each copy with a random third of its
    cylinders emptied, so that scores differ and some tie (several parallel blocks)."""
    codes = screen_codes([prepare(templates.db1(n)) for n in RECALL_NAMES])
    gallery = np.resize(codes, (rows, *codes.shape[1:]))
    rng = np.random.default_rng(5)
    gallery[rng.random(gallery.shape[:2]) < 1 / 3] = 0
    return gallery


def test_fixed_kernel_equals_the_general_one(templates: TemplateBank) -> None:
    """The default layout's own kernel gives the general kernel's scores bit for bit, on real
    DB1_B codes and on random ones (empty rows, several screen_top values)."""
    gallery = real_gallery(templates, 1500)
    rng = np.random.default_rng(9)
    probes = np.concatenate([gallery[:12], random_codes(rng, 4), np.zeros_like(gallery[:1])])
    randoms = random_codes(rng, 900)
    root = np.sqrt(np.arange(5 * 64 + 1, dtype=np.float32))
    assert gallery.shape[1:] == (24, 5)
    for top, rows in ((4, gallery), (4, randoms), (1, randoms), (40, randoms)):
        fixed, general = np.zeros((2, probes.shape[0], rows.shape[0]), np.float32)
        _fixed_kernel(probes, rows, root, top, fixed)
        _score_kernel(probes, rows, root, top, general)
        assert np.array_equal(fixed, general)


def test_screen_many_is_each_probe_screened_alone(templates: TemplateBank) -> None:
    """One pass of several probes over the gallery gives each probe's own screen, bit for bit
    (real DB1_B codes with ties, random codes of another layout, empty probes and galleries)."""
    gallery = real_gallery(templates, 1500)
    rng = np.random.default_rng(13)
    probes = np.concatenate([gallery[3:8], random_codes(rng, 3), np.zeros_like(gallery[:1])])
    other = random_codes(rng, 700, m=20, dim=200)
    other_probes = random_codes(rng, 4, m=20, dim=200)
    for codes, rows, size in (
        (probes, gallery, 100),
        (other_probes, other, 30),
        (probes, gallery, 0),
    ):
        got = screen_many(codes, rows, size)
        assert len(got) == codes.shape[0]
        for probe, (order, scores) in zip(codes, got, strict=True):
            alone = screen(probe, rows, size)
            assert np.array_equal(order, alone[0]) and np.array_equal(scores, alone[1])
    assert [r.size for r, _ in screen_many(probes, gallery[:0], 5)] == [0] * probes.shape[0]
    assert screen_many(probes[:0], gallery, 5) == []


def test_parallel_screen_gives_the_serial_shortlist(templates: TemplateBank) -> None:
    """On real DB1_B codes, the screen on every thread gives exactly the one-thread screen's
    shortlist and scores, ties included."""
    threads = numba.get_num_threads()
    if threads < 2:
        pytest.skip("one thread only: nothing runs in parallel")
    gallery = real_gallery(templates, 3000)
    for probe in gallery[:12]:
        parallel = screen(probe, gallery, 100)
        numba.set_num_threads(1)
        try:
            serial = screen(probe, gallery, 100)
        finally:
            numba.set_num_threads(threads)
        assert np.array_equal(parallel[0], serial[0]) and np.array_equal(parallel[1], serial[1])
