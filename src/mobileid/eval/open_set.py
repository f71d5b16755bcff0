"""Who is enrolled and who searches in the open-set protocol, on one folder-per-identity set.

:func:`open_set_split` is the protocol every face figure uses. :func:`distractor_split`
enlarges its gallery with the set's one-image people (``eval faces identify --splits K
--distractors singletons``): the people searched for are the same, among more strangers, which
is how a gallery of a deployment's size is approached with the people at hand. A one-image
person enrolled that way can no longer be a stranger to the whole gallery, so the non-mated
searches become leave-one-out: each one-image person searches the gallery less their own
image (NON_MATED).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
NON_MATED = (
    "the one-image people, enrolled as distractors, each searching the gallery less their "
    "own image (leave-one-out: a gallery one smaller than the mated searches see)"
)


def open_set_split(identity: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Gallery = first image of each identity with >= 2 images; the rest of those are mated
    probes; all images of single-image identities are non-mated probes. Returns (gallery
    image indices, probe image indices, mate column per probe or -1)."""
    gallery, probes, mate, _ = _split(identity, enrol_singletons=False)
    return gallery, probes, mate


def distractor_split(identity: IntArray) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """As :func:`open_set_split`, with every single-image identity enrolled too (in image
    order with the others). Its image is also a non-mated probe, whose own gallery column is
    returned in the fourth array (-1 for the mated probes) for the search to leave out."""
    return _split(identity, enrol_singletons=True)


def _split(
    identity: IntArray, *, enrol_singletons: bool
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    counts = np.bincount(identity)
    first: dict[int, int] = {}
    for i, ident in enumerate(identity):
        first.setdefault(int(ident), i)
    floor = 1 if enrol_singletons else 2
    gallery = np.array([first[k] for k in sorted(first) if counts[k] >= floor], dtype=np.int64)
    column = {int(identity[g]): c for c, g in enumerate(gallery)}
    single = counts[identity] == 1
    in_gallery = np.zeros(identity.size, dtype=bool)
    in_gallery[gallery] = True
    # a one-image person's image searches whether or not it is enrolled
    probes = np.flatnonzero(~in_gallery | single).astype(np.int64)
    mate = np.array(
        [-1 if single[p] else column.get(int(identity[p]), -1) for p in probes], dtype=np.int64
    )
    own = np.array(
        [column[int(identity[p])] if single[p] and in_gallery[p] else -1 for p in probes],
        dtype=np.int64,
    )
    return gallery, probes, mate, own
