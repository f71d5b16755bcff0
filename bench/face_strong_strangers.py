"""Which searches for strangers reach the strong band at the larger gallery, and who with.

The non-mated searches of ``eval faces identify --splits 10 --seed S --cohort-norm 10,0.5,0
--distractors singletons`` (each split's table measured on its development people, identity
bootstrap, 100 resamples; the shipped cohort scoring), re-run so that each false strong
candidate is named: one line a search whose best candidate reaches the split's strong-band
threshold, then the pairs of people involved with how many searches each pair made. Two
one-image people who look alike both search and are both enrolled, so one such pair can count
twice a split. Whether a pair is two people or one person filed under two names is for a human
to judge from the photos (``--sheet`` draws them side by side): the protocol counts every pair
of names as strangers.

    .venv/bin/python bench/face_strong_strangers.py ../shared/data/faces/lfw-dev --seed 1
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mobileid.config import Settings
from mobileid.eval.cohort_eval import cohort_prepare
from mobileid.eval.faces import EmbeddedSet, calibrate, embed_root
from mobileid.eval.open_set import distractor_split
from mobileid.eval.splits import identity_splits, subset
from mobileid.face.cohort import SHIPPED

STRONG_FMR = 1e-5  # the service's strong band (config.BandParams)


@dataclass(frozen=True)
class SplitSearch:
    """One split's open-set searches at the larger gallery (``distractor_split`` of its
    tested half ``test``, whose rows are ``test_i`` of the embedded set): probes × gallery
    scores, a one-image person's own enrolled image left out, and the strong threshold of
    the table measured on the split's development people."""

    test_i: npt.NDArray[np.int64]
    test: EmbeddedSet
    threshold: float
    gallery: npt.NDArray[np.int64]
    probes: npt.NDArray[np.int64]
    mate: npt.NDArray[np.int64]
    own: npt.NDArray[np.int64]
    sim: npt.NDArray[np.float64]


def split_searches(data: EmbeddedSet, splits: int, seed: int) -> Iterator[SplitSearch]:
    """Each identity-disjoint split's searches, scored with the shipped cohort scoring."""
    prepare = cohort_prepare(SHIPPED, "real")
    for in_dev in identity_splits(data.identity, splits, seed):
        dev_i, test_i = np.flatnonzero(in_dev), np.flatnonzero(~in_dev)
        dev, test = prepare(subset(data, dev_i), subset(data, test_i))
        t = calibrate(dev, "development identities of the split", resamples=100).threshold(
            STRONG_FMR
        )
        gallery, probes, mate, own = distractor_split(test.identity)
        sim = test.search_scores(probes, gallery)
        rows = np.flatnonzero(own >= 0)
        sim[rows, own[rows]] = -np.inf  # a one-image person's search leaves their image out
        yield SplitSearch(test_i, test, t, gallery, probes, mate, own, sim)


def strong_strangers(root: Path, splits: int, seed: int) -> tuple[list[tuple], int]:
    """(split, probe path, candidate path, score, threshold) per search, and the searches."""
    data = embed_root(root, Settings.from_env())
    found, searches = [], 0
    for k, split in enumerate(split_searches(data, splits, seed)):
        strangers = np.flatnonzero(split.mate < 0)
        searches += strangers.size
        for r in strangers:
            c = int(np.argmax(split.sim[r]))
            if split.sim[r, c] >= split.threshold:
                probe = data.paths[split.test_i[split.probes[r]]]
                cand = data.paths[split.test_i[split.gallery[c]]]
                found.append((k, probe, cand, float(split.sim[r, c]), split.threshold))
        print(f"split {k + 1}/{splits}: {len(found)} so far", file=sys.stderr, flush=True)
    return found, searches


def sheet(pairs: list[tuple[str, str]], out: Path) -> None:
    """The two photos of each pair side by side, one pair a row."""
    from PIL import Image, ImageDraw

    cell = 200
    img = Image.new("RGB", (2 * cell, len(pairs) * (cell + 14)), "white")
    draw = ImageDraw.Draw(img)
    for i, (a, b) in enumerate(pairs):
        y = i * (cell + 14)
        draw.text((2, y), f"{Path(a).stem}  /  {Path(b).stem}", fill="black")
        for j, p in enumerate((a, b)):
            img.paste(Image.open(p).convert("RGB").resize((cell, cell)), (j * cell, y + 14))
    img.save(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--sheet", type=Path, metavar="PNG", help="draw each pair's photos here")
    args = ap.parse_args()
    found, searches = strong_strangers(args.root, args.splits, args.seed)
    for k, probe, cand, score, t in found:
        print(f"split {k}  {Path(probe).stem} -> {Path(cand).stem}  {score:.4f} (>= {t:.4f})")
    pairs = Counter(tuple(sorted((p, c))) for _, p, c, _, _ in found)
    print(f"\n{len(found)} of {searches} non-mated searches reach the strong band")
    print(f"{'searches':>8}  pair")
    for (a, b), n in pairs.most_common():
        print(f"{n:8d}  {Path(a).parent.name} / {Path(b).parent.name}")
    if args.sheet:
        sheet([p for p, _ in pairs.most_common()], args.sheet)
        print(f"sheet: {args.sheet}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
