"""How often a strong candidate's look-alike note fires, and whether it names who matters.

A face search lists, beside each strong candidate, the other gallery subjects its own faces
reach the strong band against (``service/lookalikes.py``). This measures that note on the
searches of ``eval faces identify --splits 10 --seed S --cohort-norm 10,0.5,0 --distractors
singletons`` (each split's table measured on its development people, identity bootstrap, 100
resamples; the shipped cohort scoring; one image a gallery subject, as in that protocol), the
note made as the service makes it: the best candidate's gallery face, scored as a probe
against the other gallery subjects, at the split's strong-band threshold. A one-image
person's search leaves their own enrolled image out of the note as it does of the search (in
the field, a stranger is not enrolled). Per kind of search
whose best candidate reaches the strong band:

- mated, the mate first: how often the note is shown (an officer then rules out a subject
  that was not the person: the note's cost);
- mated, another subject first: how often its note names the true mate (the error the note
  is there to catch);
- non-mated (the person is not enrolled): how often a note is shown.

    .venv/bin/python bench/face_lookalike_notes.py ../shared/data/faces/lfw-dev --seed 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from face_strong_strangers import split_searches
from mobileid.config import Settings
from mobileid.eval.faces import embed_root

KINDS = ("mated, mate first", "mated, another first", "non-mated")


def measure(root: Path, splits: int, seed: int) -> dict[str, list[int]]:
    """Per kind: [strong searches, with a note, whose note names the true mate]."""
    data = embed_root(root, Settings.from_env())
    counts = {kind: [0, 0, 0] for kind in KINDS}
    for k, split in enumerate(split_searches(data, splits, seed)):
        sim, t, mate, own = split.sim, split.threshold, split.mate, split.own
        # the note: each gallery face scored as a probe against the other gallery faces
        alike = split.test.search_scores(split.gallery, split.gallery) >= t
        np.fill_diagonal(alike, False)
        for r in range(len(split.probes)):
            c = int(np.argmax(sim[r]))
            if sim[r, c] < t:
                continue
            kind = KINDS[2] if mate[r] < 0 else KINDS[0] if c == mate[r] else KINDS[1]
            shown = alike[c].copy()
            if own[r] >= 0:  # the searching image itself is enrolled: not a look-alike of c
                shown[own[r]] = False
            counts[kind][0] += 1
            counts[kind][1] += int(shown.any())
            counts[kind][2] += int(mate[r] >= 0 and c != mate[r] and alike[c, mate[r]])
        print(f"split {k + 1}/{splits}: {counts}", file=sys.stderr, flush=True)
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--splits", type=int, default=10)
    args = ap.parse_args()
    counts = measure(args.root, args.splits, args.seed)
    print(f"{'strong best candidate':<24} {'searches':>8} {'note shown':>11} {'names mate':>11}")
    for kind, (n, noted, named) in counts.items():
        share = f"{noted} ({noted / n:.1%})" if n else "none"
        names = f"{named}" if kind == KINDS[1] else "-"
        print(f"{kind:<24} {n:>8} {share:>11} {names:>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
