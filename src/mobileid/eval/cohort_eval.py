"""Cohort normalisation measured on identity-disjoint splits (``eval faces identify
--cohort-norm``).

The cohort is drawn from each split's development identities only, never from the people
searched for. Three kinds of cohort, all of the same size (one face per cohort image that enrolled):

- ``real``: the development faces themselves;
- ``blend``: each the renormalised sum of two development faces of two different people, so
  that no cohort face is anyone's face;
- ``gaussian``: drawn from a normal distribution fitted on the development identities (the
  mean and covariance of their mean faces, plus the within-identity covariance), renormalised:
  face-like in its first two moments, nobody's face.

The cohort people are never the calibration people: a cohort that held the faces of the
calibration's impostor pairs would raise exactly the terms of the look-alike pairs that make the
tail, and the table would promise too much on strangers (measured: strong-band FPIR 0.85%
against 0.16% predicted). So the development people with a single image make the cohort, and
the others the calibration (:func:`cohort_people`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.eval.faces import EmbeddedSet
from mobileid.eval.splits import Prepare, subset
from mobileid.face.cohort import SHIPPED, CohortNorm, FaceScoring, cohort_terms

SOURCES = ("real", "blend", "gaussian")
SEED = 20260


def build_cohort(dev: EmbeddedSet, source: str, seed: int = SEED) -> npt.NDArray[np.float32]:
    """The cohort made from ``dev``'s faces that enrolled (module docstring)."""
    v, ids = dev.vectors[dev.ok], dev.identity[dev.ok]
    n = v.shape[0]
    rng = np.random.default_rng(seed)
    if source == "real":
        return v.copy()
    if source == "blend":
        a = rng.integers(0, n, 4 * n)
        b = rng.integers(0, n, 4 * n)
        keep = np.flatnonzero(ids[a] != ids[b])[:n]
        return _unit(v[a[keep]] + v[b[keep]])
    if source == "gaussian":
        people = np.unique(ids)
        means = np.stack([v[ids == p].mean(axis=0) for p in people])
        within = v - means[np.searchsorted(people, ids)]
        cov = np.cov(means, rowvar=False) + within.T @ within / max(1, n - people.size)
        return _unit(rng.multivariate_normal(means.mean(axis=0), cov, size=n))
    raise InvalidArgument(
        f"cohort_source: expected one of {list(SOURCES)}, got {source!r}", field="cohort_source"
    )


def with_offsets(
    data: EmbeddedSet, norm: CohortNorm, cohort: npt.NDArray[np.float32]
) -> EmbeddedSet:
    """``data`` scored with this normalisation against ``cohort``."""
    term = cohort_terms(data.vectors, cohort, norm.top_k)
    return replace(data, offsets=(norm.probe_weight * term, norm.gallery_weight * term))


def cohort_people(identity: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which images belong to cohort people: the people with a single image. A person with one
    photo cannot be searched for with another one, so the searches and the calibration's
    look-alike pairs come from the people with several, and the two never meet."""
    return np.bincount(identity)[identity] == 1


def cohort_prepare(norm: CohortNorm, source: str) -> Prepare:
    """A split's preparation: the development people with a single image make the cohort,
    the others the calibration; both the calibration people and the tested people are
    normalised against that cohort."""

    def prepare(dev: EmbeddedSet, test: EmbeddedSet) -> tuple[EmbeddedSet, EmbeddedSet]:
        in_cohort = cohort_people(dev.identity)
        cohort = build_cohort(subset(dev, np.flatnonzero(in_cohort)), source)
        calib = subset(dev, np.flatnonzero(~in_cohort))
        return with_offsets(calib, norm, cohort), with_offsets(test, norm, cohort)

    return prepare


def _unit(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def shipped_cohort(
    data: EmbeddedSet, dataset: str, norm: CohortNorm = SHIPPED
) -> tuple[FaceScoring, EmbeddedSet]:
    """The scoring ``eval faces calibrate`` ships: the faces of ``data``'s people with a single
    image make the cohort; the others, scored against it, are what the tables are measured
    on (cohort and calibration people never meet: module docstring)."""
    in_cohort = cohort_people(data.identity)
    people = subset(data, np.flatnonzero(in_cohort))
    source = (
        f"{dataset}: the faces of its {len(people.names)} people with a single image "
        f"({int(people.ok.sum())} enrolled); its other people calibrate"
    )
    scoring = FaceScoring(data.pipeline_id, norm, build_cohort(people, "real"), source)
    calib = subset(data, np.flatnonzero(~in_cohort))
    return scoring, replace(calib, offsets=scoring.offsets(calib.vectors))


def option_prepare(spec: str | None, source: str, splits: int) -> Prepare | None:
    """What ``eval faces identify --cohort-norm SPEC --cohort-source SOURCE`` asks for (None
    without SPEC); refused without splits, which the cohort is drawn from."""
    if not spec:
        return None
    if not splits:
        raise InvalidArgument(
            "cohort_norm: expected --splits K as well (the cohort comes from each split's "
            "development people), got no --splits",
            field="cohort_norm",
        )
    return cohort_prepare(CohortNorm.parse(spec), source)
