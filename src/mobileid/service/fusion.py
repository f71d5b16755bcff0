"""The one rule that fuses independent pieces of evidence about one subject.

A piece is an estimated false-match rate ``f_i`` per comparison, read from a calibration
measured on development data (a face score, one probe finger's best score). The rule is used
for several probe fingers of one search (:mod:`mobileid.service.finger_search`) and for face and
finger evidence together (:mod:`mobileid.service.person`):

1. Evidence adds in log space, like log-likelihood ratios: ``E = Σ -log10 f_i`` (each term is
   log10 of how much rarer an impostor is than a mate at that score, the mate's tail being ~1).
   A piece with no match contributes ``f = 1``: no evidence, and not evidence against.
2. ``E`` is turned back into a rate with Fisher's formula: the chance that an impostor
   reaches ``E`` or more with ``k`` independent pieces is ``p · Σ_{j<k} (ln 1/p)^j / j!`` with
   ``p = 10^-E``: more than ``p``, because ``k`` chances were taken.
3. Two floors keep weak evidence weak: fusion improves the best single piece by at most one
   decade (``MAX_GAIN_DECADES``), and never claims a rate below ``floor``, the finest
   resolution (``1/impostor_count``) among the calibrations involved.

What the floors guarantee: pieces that are each in the none band (FMR > 1e-3) reach at most
the possible band together, and strong (1e-5) needs one piece at 1e-4 or better on its own.
The pieces are assumed independent: face and fingers are; two prints of the same finger are
not, so a search takes one best match per probe and per subject.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mobileid.errors import InvalidArgument

__all__ = ["FUSION_RULE", "MAX_GAIN_DECADES", "fuse_fmrs"]

MAX_GAIN_DECADES = 1.0
FUSION_RULE = "fisher-sum-log10-fmr/1 (gain <= 1 decade over the best piece; resolution floor)"


def fuse_fmrs(fmrs: Sequence[float], floor: float) -> tuple[float, float]:
    """(fused FMR, evidence ``Σ -log10 f_i``) of independent pieces of evidence (module doc).

    ``floor`` is the finest rate the calibrations involved can show. One piece is returned
    as it is (above ``floor``).
    """
    if not fmrs:
        raise InvalidArgument("fmrs: expected at least one rate, got none", field="fmrs")
    rates = [min(max(float(f), 1e-300), 1.0) for f in fmrs]
    evidence = sum(-math.log10(f) for f in rates)
    x = evidence * math.log(10.0)  # ln(1/p)
    term, tail = 1.0, 1.0
    for j in range(1, len(rates)):
        term *= x / j
        tail += term
    fisher = math.prod(rates) * tail  # exactly the piece itself when there is one
    gain_floor = min(rates) / 10.0**MAX_GAIN_DECADES
    return min(1.0, max(fisher, gain_floor, floor)), evidence
