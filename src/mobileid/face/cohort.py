"""Score normalisation against a fixed cohort of faces that are not enrolled.

A gallery face that resembles many people scores high against many strangers; so does a probe
that resembles many people. Each face's *cohort term* ``m`` is the mean of its ``top_k``
highest cosine scores against a fixed cohort of other faces, and a comparison's normalised
score is ``s - probe_weight * m(probe) - gallery_weight * m(gallery)``: a face that resembles
the whole cohort pays for it in every comparison, a face that resembles no one keeps its raw
score. One :class:`FaceScoring` serves the evaluation and the search, so both score alike.
The shipped scoring (:data:`SHIPPED`) normalises the probe side only: every score of a search
shifts alike, so no ranking changes, and the gallery side was measured to concentrate false
candidates on a few faces (README, "Cohort normalisation").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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


SAME_FACE = 0.99999  # a cosine this high is the same image (a cohort face scored with itself)


def cohort_terms(
    vectors: npt.ArrayLike, cohort: npt.ArrayLike, top_k: int, *, leave_out_self: bool = False
) -> FloatArray:
    """Per row of ``vectors`` (unit rows), the mean of its ``top_k`` highest scores against
    ``cohort`` (unit rows, faces of people who are neither enrolled nor searched for). With
    ``leave_out_self``, a cohort face that is the vector's own image is not counted (an
    evaluation that searches for the cohort's own people)."""
    v = np.asarray(vectors, dtype=np.float32)
    c = np.asarray(cohort, dtype=np.float32)
    if c.ndim != 2 or c.shape[0] < top_k:
        got = c.shape[0] if c.ndim == 2 else 0
        raise InvalidArgument(f"cohort: expected at least {top_k} faces, got {got}", field="cohort")
    out = np.empty(v.shape[0], dtype=np.float64)
    for start in range(0, v.shape[0], _CHUNK):
        s = (v[start : start + _CHUNK] @ c.T).astype(np.float64)
        if leave_out_self:
            s[s > SAME_FACE] = -np.inf
        top = -np.partition(-s, top_k - 1, axis=1)[:, :top_k]
        out[start : start + _CHUNK] = top.mean(axis=1)
    return out


SHIPPED = CohortNorm(top_k=10, probe_weight=0.5, gallery_weight=0.0)  # README, "Cohort"
PLAIN = "plain"  # plain cosine: what a calibration without a scoring label was measured on
_FORMAT = "mobileid.face-cohort/1"


@dataclass(frozen=True, eq=False)
class FaceScoring:
    """How one face pipeline's scores are made: plain cosine (``norm`` None), or normalised
    against ``cohort``. ``label`` names it; a calibration table carries the label it was
    measured with, so that a table and a scoring that disagree are never mixed."""

    pipeline_id: str
    norm: CohortNorm | None = None
    cohort: npt.NDArray[np.float32] | None = None  # M×128 unit rows
    source: str = ""  # where the cohort's faces come from

    @cached_property
    def label(self) -> str:
        # cached: hashing the cohort (~0.3 ms) would otherwise be paid by every search
        if self.norm is None or self.cohort is None:
            return PLAIN
        digest = hashlib.sha256(np.ascontiguousarray(self.cohort).tobytes()).hexdigest()[:12]
        return f"{self.norm.label} cohort {digest}"

    def terms(self, vectors: npt.ArrayLike, *, leave_out_self: bool = False) -> FloatArray:
        """Each face's cohort term (zeros for plain cosine)."""
        v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if self.norm is None or self.cohort is None:
            return np.zeros(v.shape[0])
        return cohort_terms(v, self.cohort, self.norm.top_k, leave_out_self=leave_out_self)

    def offsets(
        self, vectors: npt.ArrayLike, *, leave_out_self: bool = False
    ) -> tuple[FloatArray, FloatArray]:
        """What each face's scores lose as the probe, and as the gallery face."""
        t = self.terms(vectors, leave_out_self=leave_out_self)
        a, b = (
            (0.0, 0.0) if self.norm is None else (self.norm.probe_weight, self.norm.gallery_weight)
        )
        return a * t, b * t

    def save(self, path: Path) -> None:
        if self.norm is None or self.cohort is None:
            raise InvalidArgument(
                "cohort: expected a cohort to save, got plain cosine", field="cohort"
            )
        meta = {
            "format": _FORMAT,
            "pipeline_id": self.pipeline_id,
            "top_k": self.norm.top_k,
            "probe_weight": self.norm.probe_weight,
            "gallery_weight": self.norm.gallery_weight,
            "source": self.source,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez_compressed(f, vectors=self.cohort.astype(np.float32), meta=json.dumps(meta))

    @classmethod
    def load(cls, path: Path) -> FaceScoring:
        """Read a cohort file written by :meth:`save`; anything else is refused, naming it."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                vectors = np.asarray(z["vectors"], dtype=np.float32)
            if meta.get("format") != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            norm = CohortNorm(int(meta["top_k"]), meta["probe_weight"], meta["gallery_weight"])
            return cls(str(meta["pipeline_id"]), norm, vectors, str(meta.get("source", "")))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InvalidArgument(
                f"cohort: expected a {_FORMAT} file at {path}, got {exc}", field="cohort"
            ) from None
