"""Score normalisation against a fixed cohort of faces that are not enrolled.

A gallery face that resembles many people scores high against many strangers; so does a probe
that resembles many people. Each face's *cohort term* ``m`` is the mean of its ``top_k``
highest cosine scores against a fixed cohort of other faces, and a comparison's normalised
score is ``s - probe_weight * m(probe) - gallery_weight * m(gallery)``: a face that resembles
the whole cohort pays for it in every comparison, a face that resembles no one keeps its raw
score. One function serves the evaluation and the search, so both score alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument

FloatArray = npt.NDArray[np.float64]
_CHUNK = 1024  # rows of vectors scored against the cohort at a time (bounds memory)


@dataclass(frozen=True)
class CohortNorm:
    """Which normalisation: ``s - probe_weight * m(probe) - gallery_weight * m(gallery)``."""

    top_k: int
    probe_weight: float
    gallery_weight: float

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise InvalidArgument(f"top_k: expected >= 1, got {self.top_k}", field="top_k")
        for name in ("probe_weight", "gallery_weight"):
            w = getattr(self, name)
            if not 0.0 <= w <= 2.0:
                raise InvalidArgument(f"{name}: expected 0..2, got {w!r}", field=name)

    @property
    def label(self) -> str:
        """How a table or a report names this scoring."""
        a, b = self.probe_weight, self.gallery_weight
        return f"cohort-norm top{self.top_k} probe{a:g} gallery{b:g}"

    @classmethod
    def parse(cls, text: str) -> CohortNorm:
        """``K,A,B``: top ``K`` cohort scores, probe weight ``A``, gallery weight ``B``."""
        m = re.fullmatch(r"\s*(\d+)\s*,\s*([0-9.]+)\s*,\s*([0-9.]+)\s*", text)
        if m is None:
            raise InvalidArgument(
                f"cohort_norm: expected K,A,B (e.g. 20,0.5,0.5), got {text!r}",
                field="cohort_norm",
            )
        try:
            k, a, b = int(m[1]), float(m[2]), float(m[3])
        except ValueError:
            raise InvalidArgument(
                f"cohort_norm: expected K,A,B with numbers, got {text!r}", field="cohort_norm"
            ) from None
        return cls(k, a, b)


def cohort_terms(vectors: npt.ArrayLike, cohort: npt.ArrayLike, top_k: int) -> FloatArray:
    """Per row of ``vectors`` (unit rows), the mean of its ``top_k`` highest scores against
    ``cohort`` (unit rows, faces of people who are neither enrolled nor searched for)."""
    v = np.asarray(vectors, dtype=np.float32)
    c = np.asarray(cohort, dtype=np.float32)
    if c.ndim != 2 or c.shape[0] < top_k:
        got = c.shape[0] if c.ndim == 2 else 0
        raise InvalidArgument(f"cohort: expected at least {top_k} faces, got {got}", field="cohort")
    out = np.empty(v.shape[0], dtype=np.float64)
    for start in range(0, v.shape[0], _CHUNK):
        s = (v[start : start + _CHUNK] @ c.T).astype(np.float64)
        top = -np.partition(-s, top_k - 1, axis=1)[:, :top_k]
        out[start : start + _CHUNK] = top.mean(axis=1)
    return out


def normalise(
    raw: npt.ArrayLike, probe_term: npt.ArrayLike, gallery_term: npt.ArrayLike, norm: CohortNorm
) -> FloatArray:
    """The normalised score(s): ``raw - a * probe_term - b * gallery_term`` (broadcasting)."""
    r = np.asarray(raw, dtype=np.float64)
    return (
        r
        - norm.probe_weight * np.asarray(probe_term)
        - norm.gallery_weight * np.asarray(gallery_term)
    )
