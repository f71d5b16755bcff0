"""Why genuine pairs of a small-area imitation fail: for each genuine pair of the chosen
fingers scoring under the EER threshold (all cross-finger impostors among those fingers), the
alignment the full prints agree on (as captured, moved into each crop's frame) is compared
with the one the matcher chose on the crops, and the crops are scored under it.

    nice -n 10 .venv/bin/python bench/finger_small_area.py \
        --root ../shared/data/fingerprints/FVC2002/DB4_B --fingers 101-105

Causes, first that applies:

- (b) wrong alignment: the chosen one is off the true one (over 10° or 16 px at the crop's
  centre) and the true one would score at the threshold or above;
- (a) minutiae lost: under the true alignment the crops pair under 2/3 of the full prints'
  pairs that lie inside both crops;
- (c) normalisation: right alignment, and the score without the ``min_overlap`` floor would
  reach the threshold;
- (d) the rest: the pairs are found, but they are few against the minutiae in the overlap.

Templates come from the evaluation's cache (``mobileid-data/cache``), so reruns only compare.
Matcher ``/3``, fingers 101-105: DB4_B a 1, b 2, c 5; DB1_B b 2, c 3, the ``c`` pairs' full
prints pairing 1-4 minutiae inside both crops. With cylinders compared on the cells both
prints show and the seed chosen by closeness (measured, not kept: README): DB4_B a 1, c 5;
DB1_B b 2, c 3. Minutiae kept near the crop's edge are printed last (extraction on the crop
against the full print).
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from mobileid.config import Settings
from mobileid.eval.finger_sensors import centre_crop_origin
from mobileid.eval.fingers import TemplateCache, enrol_root, evaluate, list_fvc_root
from mobileid.eval.metrics import eer
from mobileid.finger import match as M
from mobileid.finger.pipeline import load_finger_pipeline
from mobileid.service.deployment_key import deployment_key

SIDE = 200


def _offset(path: Path) -> np.ndarray:
    """(x, y) of the small crop's top-left corner in the print as captured."""
    with Image.open(io.BytesIO(path.read_bytes())) as img:
        g = np.asarray(img.convert("L"), dtype=np.float32)
    top, left = centre_crop_origin(g, SIDE)
    return np.array([left, top], dtype=np.float64)


def align(a: M.MatchFeatures, b: M.MatchFeatures, p: M.MatchParams):  # type: ignore[no-untyped-def]
    """The matcher's alignment (``_best_seed`` then ``_refine``): rotation, shift and pairs."""
    seed = M._best_seed(a, b, M.local_similarity(a.cylinders, b.cylinders), p)
    assert seed is not None, "no local pair between the two prints"
    return M._refine(a, b, *seed, p)


def score_under(a, b, r, t, p, floor=True):  # type: ignore[no-untyped-def]
    """Pairs and score of ``a`` moved by (r, t) onto ``b``, refined as the matcher does."""
    moved, turned = M._transform(a, r, t)
    pr = M._pair(moved, turned, b, moved[0].mean(axis=0, keepdims=True), p)[0]
    r, t, pr = M._refine(a, b, r, t, pr, p)
    moved, turned = M._transform(a, r, t)
    n = int(pr.sum())
    close = M._closeness(moved[0], turned[0], b, pr, p)
    q = p if floor else M.MatchParams(**{**p.__dict__, "min_overlap": 0})
    return n, M._normalised(n, close, moved[0], b.points, q), r, t


def _centre_miss(r1, t1, r2, t2) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Degrees and px between two alignments, at the crop's centre."""
    c = np.array([SIDE / 2, SIDE / 2])

    def at(r, t):  # type: ignore[no-untyped-def]
        cr, sr = math.cos(r[0]), math.sin(r[0])
        return np.array([cr * c[0] - sr * c[1], sr * c[0] + cr * c[1]]) + t[0]

    d = abs(math.degrees(float(M._wrap(np.array([r1[0] - r2[0]]))[0])))
    return d, float(np.hypot(*(at(r1, t1) - at(r2, t2))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--fingers", default="101-105")
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.fingers.split("-"))
    files = [f for f in list_fvc_root(args.root) if lo <= f.finger <= hi]
    pipe = load_finger_pipeline()
    s = Settings()
    cache = TemplateCache(s.cache_dir, pipe.pipeline_id, deployment_key(s))
    small = enrol_root(files, pipe, cache, sensor="small")
    full = enrol_root(files, pipe, cache)
    res = evaluate(small, pipe)
    thr = _eer_threshold(res.genuine, res.impostor_all)
    p = pipe.match
    fs = [pipe.features(e.template) for e in small]  # type: ignore[arg-type]
    ff = [pipe.features(e.template) for e in full]  # type: ignore[arg-type]
    offs = [_offset(f.path) for f in files]
    print(f"EER {100 * eer(res.genuine, res.impostor_all):.2f}% threshold {thr:.4f}")
    counts: dict[str, int] = {}
    for i in range(len(files)):
        for j in range(i + 1, len(files)):
            if files[i].finger != files[j].finger:
                continue
            sc = M.match_features(fs[i], fs[j], p).score
            if sc >= thr:
                continue
            cause = _diagnose(fs[i], fs[j], ff[i], ff[j], offs[i], offs[j], p, thr, sc)
            counts[cause[0]] = counts.get(cause[0], 0) + 1
            print(f"{files[i].path.stem}-{files[j].path.stem} score {sc:.3f}: {cause}")
    print("causes:", dict(sorted(counts.items())))
    _border_losses(fs, ff, offs)


def _border_losses(fs, ff, offs) -> None:  # type: ignore[no-untyped-def]
    """Of the full print's minutiae inside the crop, the share the crop's template also has
    (within 8 px), by distance from the crop's edge; and the crop's minutiae the full print
    lacks (new ones, e.g. ridge ends made by the cut)."""
    bands = [(0, 16), (16, 32), (32, 64), (64, 101)]
    kept = np.zeros(len(bands))
    total = np.zeros(len(bands))
    new = np.zeros(len(bands))
    crop_n = np.zeros(len(bands))
    for a, f, o in zip(fs, ff, offs, strict=True):
        q = f.points - o
        inside = ((q >= 0) & (q < SIDE)).all(axis=1)
        q = q[inside]
        d = np.hypot(q[:, None, 0] - a.points[None, :, 0], q[:, None, 1] - a.points[None, :, 1])
        edge_f = np.minimum(q, SIDE - 1 - q).min(axis=1)
        edge_a = np.minimum(a.points, SIDE - 1 - a.points).min(axis=1)
        for k, (lo, hi) in enumerate(bands):
            sel = (edge_f >= lo) & (edge_f < hi)
            total[k] += sel.sum()
            kept[k] += (d[sel].min(axis=1) <= 8).sum() if a.count else 0
            sa = (edge_a >= lo) & (edge_a < hi)
            crop_n[k] += sa.sum()
            new[k] += (d[:, sa].min(axis=0) > 8).sum() if q.size else sa.sum()
    for k, (lo, hi) in enumerate(bands):
        print(
            f"edge {lo:>3}-{hi:<3} px: full print's minutiae kept {kept[k]:.0f}/{total[k]:.0f} "
            f"({100 * kept[k] / max(total[k], 1):.0f}%); crop's not in the full print "
            f"{new[k]:.0f}/{crop_n[k]:.0f}"
        )


def _diagnose(a, b, fa, fb, oa, ob, p, thr, sc):  # type: ignore[no-untyped-def]
    rf, tf, prf = align(fa, fb, p)  # full prints: the true alignment
    c, s_ = math.cos(rf[0]), math.sin(rf[0])
    rot_oa = np.array([c * oa[0] - s_ * oa[1], s_ * oa[0] + c * oa[1]])
    t_true = (tf[0] + rot_oa - ob)[None, :]
    r_ch, t_ch, _ = align(a, b, p)
    deg, px = _centre_miss(r_ch, t_ch, rf, t_true)
    n_true, s_true, _, _ = score_under(a, b, rf, t_true, p)
    _, s_nofloor, _, _ = score_under(a, b, rf, t_true, p, floor=False)
    ai, bi = np.nonzero(prf)
    pa, pb = fa.points[ai] - oa, fb.points[bi] - ob
    inside = ((pa >= 0) & (pa < SIDE)).all(axis=1) & ((pb >= 0) & (pb < SIDE)).all(axis=1)
    mates = int(inside.sum())
    steps = np.arange(0, SIDE, 4.0)
    grid = np.stack(np.meshgrid(steps, steps), -1).reshape(-1, 2)
    g_in_b = grid @ np.array([[c, s_], [-s_, c]]) + t_true[0]
    common = float((((g_in_b >= 0) & (g_in_b < SIDE)).all(axis=1)).mean())
    info = (
        f"chosen off {deg:.0f}deg {px:.0f}px; true: {n_true} pairs score {s_true:.3f} "
        f"(no floor {s_nofloor:.3f}); full-print mates in both crops {mates}; "
        f"minutiae {a.count}/{b.count}; "
        f"common area {100 * common:.0f}% of a crop"
    )
    if (deg > 10 or px > 16) and s_true >= thr:
        return "b " + info
    if n_true < 2 * mates / 3:
        return "a " + info
    if s_nofloor >= thr:
        return "c " + info
    return "d " + info


def _eer_threshold(gen: np.ndarray, imp: np.ndarray) -> float:
    cands = np.unique(np.concatenate([gen, imp]))
    best, thr = 2.0, 0.0
    for t in cands:
        fnmr, fmr = float((gen < t).mean()), float((imp >= t).mean())
        if abs(fnmr - fmr) < best:
            best, thr = abs(fnmr - fmr), float(t)
    return thr


if __name__ == "__main__":
    main()
