"""Would a ridge-orientation agreement score rescue small-overlap fingerprint pairs? Measured
beside the minutiae matcher, nothing shipped: templates and scores stay as they are.

For each print of a set (FVC2002 DB1_B / DB4_B as captured or as a sensor imitation gives it)
the evaluation's template (its cache, ``mobileid-data/cache``) and a coarse orientation field
of the print as the pipeline sees it (``FingerPipeline.load_image``: 500 ppi, dark ridges, the
template's frame): the quality's own block features (``finger/nfiq.py``: doubled gradient
angle, coherence, blocks with contrast) on 16 px blocks, quantised as a template would hold
them (4 bits of angle, 2 of coherence: 0 no print, 1-3 coherence under 0.3 / 0.6 / above).

For every comparison of the FVC protocol (genuine pairs, all cross-finger impostors):

- ``s``: the matcher's score, from its own alignment (``match._best_seed``, ``match._refine``);
- ``under``: whether the ``min_overlap`` floor binds (or no alignment was found);
- ``A``, ``N``: orientation agreement under that alignment: over the blocks of the probe's
  print that land on the candidate's, the mean of cos(2 dθ) weighted by both coherences, and
  how many blocks overlap;
- ``G``: the best of ``A · min(1, N / n0)`` over a coarse registration of the fields alone
  (rotations -30..30° by 6°, every shift of whole blocks), for n0 in ``N0S``.

Fusion rules (few free parameters), ``f = w · clip((agreement - a0) / (1 - a0), 0, 1)``, with
``min(1, N / n0)`` for the matcher's alignment; the score becomes ``max(s, f)`` everywhere or
only where ``under``. Chosen on fingers 101-105 of all sets (mean EER, then mean FMR1000;
rules that worsen an as-captured or capacitive set there are excluded), reported on 106-110
and on all fingers: EER / FMR1000 over all cross-finger impostors, before -> after.

    nice -n 10 .venv/bin/python bench/finger_orientation_fusion.py

Per-pair measurements are kept in ``--work`` (one ``.npz`` a set), so rules are tried again
without comparing again (``--rules-only``). About 20 minutes on the shared 2-core host with the
templates cached.

Measured (matcher ``/3``): the chosen rules take the small prints' EER on fingers 106-110 from
DB4_B 7.14% / DB1_B 10.0% to 5.00% / 7.86% (matcher's alignment; DB1_B FMR1000 10.7% -> 11.4%)
or 5.71% / 7.14% (fields registered; FMR1000 unchanged), the other sets unchanged there: a
quarter, short of a third; not kept (README "Accuracy").
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal  # type: ignore[import-untyped]

from mobileid.config import Settings
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.fingers import Enrolled, TemplateCache, enrol_root, list_fvc_root
from mobileid.eval.metrics import eer, fnmr_at_fmr
from mobileid.finger import match as M
from mobileid.finger import nfiq
from mobileid.finger.params import RidgeParams
from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline
from mobileid.service.deployment_key import deployment_key

FVC = Path("../shared/data/fingerprints/FVC2002")
SETS = [
    f"{db}:{s}"
    for db in ("DB1_B", "DB4_B")
    for s in ("", "small", "capacitive", "wet", "dry", "crop300")
]
GROUPS = {"101-105": range(101, 106), "106-110": range(106, 111), "all": range(101, 111)}
BLOCK = 16
ANGLE_LEVELS = 16  # 4 bits
COH_CUTS = (0.3, 0.6)  # 2 bits: 0 no print, then 1-3
ROTS = np.radians(np.arange(-30, 31, 6))
N0S = (20, 40, 80)
_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Field:
    """Per 16 px block of the template's frame: doubled angle (quantised) and weight (0: no
    print, else the quantised coherence level / 3)."""

    angle2: np.ndarray
    weight: np.ndarray

    def nbytes(self) -> int:
        """Bytes stored: the foreground's bounding box at 6 bits a block, and 4 bytes of box."""
        ys, xs = np.nonzero(self.weight > 0)
        if ys.size == 0:
            return 4
        box = (int(ys.max() - ys.min()) + 1) * (int(xs.max() - xs.min()) + 1)
        return 4 + math.ceil(box * 6 / 8)


def print_field(pixels: np.ndarray) -> Field:
    """The quantised orientation field, from the quality's block features (not a second
    estimator): ``nfiq._block_features`` on 16 px blocks, its foreground mask."""
    p = RidgeParams(block=BLOCK)
    blocks, rows, cols = nfiq._blocks(pixels, p)
    feats = nfiq._block_features(blocks, p)
    fg = nfiq._foreground(feats["std"], p)
    step = 2 * np.pi / ANGLE_LEVELS
    angle2 = (np.round(feats["angle2"] / step) % ANGLE_LEVELS) * step
    level = 1 + np.searchsorted(COH_CUTS, feats["coherence"])
    weight = np.where(fg, level / 3.0, 0.0)
    return Field(angle2.reshape(rows, cols), weight.reshape(rows, cols))


def _centres(f: Field) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(f.weight > 0)
    pts = np.stack([xs * BLOCK + BLOCK / 2, ys * BLOCK + BLOCK / 2], axis=1).astype(float)
    return pts, f.angle2[ys, xs], f.weight[ys, xs]


def agreement(fa: Field, fb: Field, rot: float, shift: np.ndarray) -> tuple[float, int]:
    """Coherence-weighted mean cos(2 dθ) over ``fa``'s blocks moved by (rot, shift) onto
    ``fb``'s print, and how many overlap."""
    pts, ang, w = _centres(fa)
    c, s = math.cos(rot), math.sin(rot)
    moved = pts @ np.array([[c, s], [-s, c]]) + shift
    ij = np.floor(moved / BLOCK).astype(int)
    rows, cols = fb.weight.shape
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < cols) & (ij[:, 1] >= 0) & (ij[:, 1] < rows)
    ij, ang, w = ij[inside], ang[inside], w[inside]
    wb = fb.weight[ij[:, 1], ij[:, 0]]
    both = wb > 0
    if not both.any():
        return 0.0, 0
    ww = w[both] * wb[both]
    d = np.cos(ang[both] + 2 * rot - fb.angle2[ij[both, 1], ij[both, 0]])
    return float((ww * d).sum() / ww.sum()), int(both.sum())


def grid_best(fa: Field, fb: Field) -> np.ndarray:
    """Best ``A · min(1, N / n0)`` (n0 in ``N0S``) over rotations ``ROTS`` and every shift by
    whole blocks, by correlating the fields as complex images."""
    pts, ang, w = _centres(fa)
    best = np.zeros(len(N0S))
    if w.size == 0 or not (fb.weight > 0).any():
        return best
    zb = fb.weight * np.exp(1j * fb.angle2)
    mb = (fb.weight > 0).astype(float)
    for rot in ROTS:
        c, s = math.cos(rot), math.sin(rot)
        u = np.floor(pts @ np.array([[c, s], [-s, c]]) / BLOCK).astype(int)
        u -= u.min(axis=0)
        shape = (int(u[:, 1].max()) + 1, int(u[:, 0].max()) + 1)
        za, wa, ma = np.zeros(shape, complex), np.zeros(shape), np.zeros(shape)
        np.add.at(za, (u[:, 1], u[:, 0]), w * np.exp(1j * (ang + 2 * rot)))
        np.add.at(wa, (u[:, 1], u[:, 0]), w)
        np.add.at(ma, (u[:, 1], u[:, 0]), 1.0)
        num = signal.correlate(zb, za, mode="full").real
        den = signal.correlate(fb.weight, wa, mode="full")
        cnt = signal.correlate(mb, ma, mode="full")
        a = np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)
        for k, n0 in enumerate(N0S):
            best[k] = max(best[k], float((a * np.minimum(1.0, cnt / n0)).max()))
    return best


def matcher_alignment(a: M.MatchFeatures, b: M.MatchFeatures, p: M.MatchParams):  # type: ignore[no-untyped-def]
    """The matcher's score (``match._align``'s arithmetic), its rotation and shift (None
    without an alignment) and whether the ``min_overlap`` floor binds."""
    if a.count < 2 or b.count < 2:
        return 0.0, None, True
    seed = M._best_seed(a, b, M.local_similarity(a.cylinders, b.cylinders), p)
    if seed is None:
        return 0.0, None, True
    r, t, pr = M._refine(a, b, *seed, p)
    moved, turned = M._transform(a, r, t)
    n = int(pr.sum())
    score = M._normalised(n, M._closeness(moved[0], turned[0], b, pr, p), moved[0], b.points, p)
    d = np.hypot(
        moved[0][:, None, 0] - b.points[None, :, 0], moved[0][:, None, 1] - b.points[None, :, 1]
    )
    ov = min((d.min(axis=1) <= p.overlap_reach).sum(), (d.min(axis=0) <= p.overlap_reach).sum())
    return score, (float(r[0]), t[0].copy()), max(int(ov), n) < p.min_overlap


def fields_of(item: str, enrolled: list[Enrolled], pipe: FingerPipeline) -> list[Field | None]:
    sensor = item.split(":")[1]
    out: list[Field | None] = []
    for e in enrolled:
        if e.template is None:
            out.append(None)
            continue
        data = e.file.path.read_bytes()
        image = pipe.load_image(imitate_bytes(data, sensor) if sensor else data)
        assert (image.width, image.height) == (e.template.width, e.template.height)
        out.append(print_field(image.pixels))
    return out


def measure(item: str, pipe: FingerPipeline, cache: TemplateCache, work: Path) -> Path:
    """Per-pair measurements of one set, kept in ``work``."""
    db, sensor = item.split(":")
    path = work / f"{db}-{sensor or 'captured'}.npz"
    if path.exists():
        return path
    enrolled = enrol_root(list_fvc_root(FVC / db), pipe, cache, sensor=sensor or None)
    log(f"{item}: {sum(e.extract_ms is not None for e in enrolled)} extracted now; fields")
    t0 = time.perf_counter()
    fields = fields_of(item, enrolled, pipe)
    field_ms = 1000 * (time.perf_counter() - t0) / len(fields)
    feats = [pipe.features(e.template) if e.template else None for e in enrolled]
    rows, times = [], np.zeros(3)
    pairs = list(itertools.combinations(range(len(enrolled)), 2))
    for k, (i, j) in enumerate(pairs):
        fi, fj = enrolled[i].file, enrolled[j].file
        meta = [fi.finger, fj.finger, int(fi.finger == fj.finger)]
        fa, fb, a, b = fields[i], fields[j], feats[i], feats[j]
        if a is None or b is None or fa is None or fb is None:
            rows.append(meta + [-np.inf, 1, 0.0, 0] + [0.0] * len(N0S))
            continue
        t0 = time.perf_counter()
        s, al, under = matcher_alignment(a, b, pipe.match)
        t1 = time.perf_counter()
        A, N = agreement(fa, fb, *al) if al is not None else (0.0, 0)
        t2 = time.perf_counter()
        g = grid_best(fa, fb)
        times += (t1 - t0, t2 - t1, time.perf_counter() - t2)
        rows.append([*meta, s, int(under), A, N, *g])
        if (k + 1) % 500 == 0:
            log(f"{item}: {k + 1}/{len(pairs)} comparisons")
    nbytes = [f.nbytes() for f in fields if f is not None]
    np.savez(
        path,
        rows=np.array(rows, float),
        ms=1000 * times / len(pairs),
        nbytes=nbytes,
        field_ms=field_ms,
    )
    return path


def fuse(d: np.ndarray, rule: tuple) -> np.ndarray:  # type: ignore[type-arg]
    """Scores after ``rule`` = (source, w, a0, n0, where)."""
    source, w, a0, n0, where = rule
    s = d[:, 3]
    if source == "none":
        return s
    if source == "matcher":
        agree = d[:, 5] * np.minimum(1.0, d[:, 6] / n0)
    else:
        agree = d[:, 7 + N0S.index(n0)]
    f = w * np.clip((agree - a0) / (1.0 - a0), 0.0, 1.0)
    fused = np.maximum(s, f)
    return np.where(d[:, 4] > 0, fused, s) if where == "under" else fused


def figures(d: np.ndarray, scores: np.ndarray, fingers: range) -> tuple[float, float]:
    sel = np.isin(d[:, 0], fingers) & np.isin(d[:, 1], fingers)
    gen, imp = scores[sel & (d[:, 2] == 1)], scores[sel & (d[:, 2] == 0)]
    return 100 * eer(gen, imp), 100 * fnmr_at_fmr(gen, imp, 0.001)


def rules() -> list[tuple]:  # type: ignore[type-arg]
    out: list[tuple] = [("none", 0, 0, 0, "all")]  # type: ignore[type-arg]
    for source, w, a0, n0, where in itertools.product(
        ("matcher", "grid"),
        (0.05, 0.1, 0.15, 0.2, 0.3),
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        N0S,
        ("all", "under"),
    ):
        out.append((source, w, a0, n0, where))
    return out


def choose(data: dict[str, np.ndarray], source: str) -> tuple:  # type: ignore[type-arg]
    """The rule of ``source`` with the lowest mean EER (then FMR1000) over the sets on fingers
    101-105, among those that leave every as-captured and capacitive set no worse there."""
    base = {k: figures(d, d[:, 3], GROUPS["101-105"]) for k, d in data.items()}
    best, key = (
        ("none", 0, 0, 0, "all"),
        (np.mean([b[0] for b in base.values()]), np.mean([b[1] for b in base.values()])),
    )
    for rule in rules():
        if rule[0] != source:
            continue
        figs = {k: figures(d, fuse(d, rule), GROUPS["101-105"]) for k, d in data.items()}
        guarded = [k for k in data if k.endswith(("captured", "capacitive"))]
        if any(figs[k][0] > base[k][0] or figs[k][1] > base[k][1] for k in guarded):
            continue
        cand = (np.mean([f[0] for f in figs.values()]), np.mean([f[1] for f in figs.values()]))
        if cand < key:
            best, key = rule, cand
    return best


def report(data: dict[str, np.ndarray], costs: dict[str, np.lib.npyio.NpzFile]) -> None:
    chosen = {src: choose(data, src) for src in ("matcher", "grid")}
    for src, rule in chosen.items():
        print(f"\nrule chosen on 101-105, {src} alignment: {rule}")
        print(f"{'set':<18}" + " | ".join(f"{g:>28}" for g in GROUPS))
        for k, d in data.items():
            cells = []
            for fingers in GROUPS.values():
                (e0, f0), (e1, f1) = (
                    figures(d, d[:, 3], fingers),
                    figures(d, fuse(d, rule), fingers),
                )
                cells.append(f"{e0:5.2f}/{f0:5.1f} -> {e1:5.2f}/{f1:5.1f}")
            print(f"{k:<18}" + " | ".join(f"{c:>28}" for c in cells))
    print(
        "\ncost per set: field bytes mean/max, field ms a print, "
        "ms a comparison (matcher, agreement, grid)"
    )
    for k, c in costs.items():
        nb, ms = c["nbytes"], c["ms"]
        print(
            f"{k:<18} {nb.mean():6.0f} / {nb.max():4d} B   {float(c['field_ms']):6.1f} ms   "
            f"{ms[0]:.2f} / {ms[1]:.3f} / {ms[2]:.2f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sets", default=",".join(SETS), help="DB:sensor,... (empty sensor: as captured)"
    )
    ap.add_argument("--work", type=Path, default=Path("reports/finger-orientation"))
    ap.add_argument("--rules-only", action="store_true", help="use the kept measurements only")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    pipe = load_finger_pipeline()
    s = Settings()
    cache = TemplateCache(s.cache_dir, pipe.pipeline_id, deployment_key(s))
    data, costs = {}, {}
    for item in args.sets.split(","):
        path = measure(item, pipe, cache, args.work) if not args.rules_only else None
        db, sensor = item.split(":")
        c = np.load(path or args.work / f"{db}-{sensor or 'captured'}.npz")
        key = f"{db} {sensor or 'captured'}"
        data[key], costs[key] = c["rows"], c
        log(f"{item}: measured")
    report(data, costs)


if __name__ == "__main__":
    main()
