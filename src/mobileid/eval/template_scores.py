"""How a gallery subject with several face images is enrolled and scored in the template
evaluation (:mod:`mobileid.eval.templates`): its best image, or the unit mean of its vectors,
and the table of template scores measured on development people."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mobileid.eval.faces import EmbeddedSet
from mobileid.eval.tail import TailModel, bootstrap_tail
from mobileid.face.cohort import CohortNorm, cohort_terms
from mobileid.scoring import Calibration, build_calibration

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Enrolment:
    """A tested half enrolled with up to N images per subject: each subject's image indices,
    the probes, and each probe's mate column (-1 for a person not enrolled)."""

    images: list[npt.NDArray[np.int64]]
    probes: npt.NDArray[np.int64]
    mate: npt.NDArray[np.int64]
    names: list[str] = field(default_factory=list)


def enrol_up_to(data: EmbeddedSet, per_subject: int) -> Enrolment:
    """Subjects with 2+ images enrol their first ``min(per_subject, images - 1)``; the rest of
    their images are mated probes; single-image people are non-mated probes."""
    images: list[npt.NDArray[np.int64]] = []
    names: list[str] = []
    column = np.full(len(data.names), -1, dtype=np.int64)
    enrolled = np.zeros(data.identity.size, dtype=bool)
    for person in range(len(data.names)):
        own = np.flatnonzero(data.identity == person)  # in path order, as open_set_split
        if own.size < 2:
            continue
        column[person] = len(images)
        images.append(own[: min(per_subject, own.size - 1)])
        names.append(data.names[person])
        enrolled[images[-1]] = True
    probes = np.flatnonzero(~enrolled)
    return Enrolment(images, probes, column[data.identity[probes]], names)


@dataclass(frozen=True, eq=False)
class Reading:
    """One way of scoring a split's searches: the probes × subjects matrix, and the impostor
    comparisons behind it (one per image or per template)."""

    sim: FloatArray
    impostors: FloatArray  # every probe against every comparison of another subject
    comparisons: int  # comparisons per search


def image_scores(data: EmbeddedSet, enrol: Enrolment, first_only: bool) -> Reading:
    cols = [g[:1] if first_only else g for g in enrol.images]
    flat = np.concatenate(cols)
    owner = np.repeat(np.arange(len(cols)), [c.size for c in cols])
    s = data.search_scores(enrol.probes, flat)
    sim = np.full((enrol.probes.size, len(cols)), -np.inf)
    np.maximum.at(sim.T, owner, s.T)  # a subject's best image counts
    impostor = (owner[None, :] != enrol.mate[:, None]) & np.isfinite(s)
    return Reading(sim, s[impostor], int(flat.size))


def _unit_means(data: EmbeddedSet, enrol: Enrolment) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Each subject's unit mean of its enrolled vectors that enrolled, and whether it has one
    (a subject none of whose images enrolled is never found)."""
    tmpl = np.zeros((len(enrol.images), data.vectors.shape[1]), dtype=np.float64)
    ok = np.zeros(len(enrol.images), dtype=bool)
    for c, g in enumerate(enrol.images):
        good = g[data.ok[g]]
        if good.size:
            v = data.vectors[good].astype(np.float64).sum(axis=0)
            tmpl[c], ok[c] = v / np.linalg.norm(v), True
    return tmpl, ok


def _against_templates(
    data: EmbeddedSet,
    probes: npt.NDArray[np.int64],
    tmpl: FloatArray,
    norm: CohortNorm,
    cohort: npt.NDArray[np.float32],
) -> FloatArray:
    """Probes × templates, scored with the same normalisation as an image."""
    sim = data.vectors[probes].astype(np.float64) @ tmpl.T
    if data.offsets is not None:
        sim -= data.offsets[0][probes][:, None]
    if norm.gallery_weight:
        sim -= norm.gallery_weight * cohort_terms(tmpl, cohort, norm.top_k)[None, :]
    return sim


def template_scores(
    data: EmbeddedSet, enrol: Enrolment, norm: CohortNorm, cohort: npt.NDArray[np.float32]
) -> Reading:
    """Against each subject's template (:func:`_unit_means`)."""
    tmpl, ok = _unit_means(data, enrol)
    p = enrol.probes
    sim = _against_templates(data, p, tmpl, norm, cohort)
    sim[~data.ok[p], :] = -np.inf
    sim[:, ~ok] = -np.inf
    impostor = (np.arange(len(enrol.images))[None, :] != enrol.mate[:, None]) & np.isfinite(sim)
    return Reading(sim, sim[impostor], len(enrol.images))


def template_table(
    calib: EmbeddedSet,
    per_subject: int,
    norm: CohortNorm,
    cohort: npt.NDArray[np.float32],
    resamples: int | None,
    tail: TailModel | None = None,
) -> Calibration:
    """A table of template scores: the development people's templates (as they would be
    enrolled) against every enrolled image of the other development people, with the
    identity-bootstrap bound over both ends (and the GPD ``tail`` bound if given)."""
    enrol = enrol_up_to(calib, per_subject)
    tmpl, ok = _unit_means(calib, enrol)
    probes = np.flatnonzero(calib.ok)
    owner = calib.identity[[g[0] for g in enrol.images]]
    sim = _against_templates(calib, probes, tmpl, norm, cohort)
    keep = (calib.identity[probes][:, None] != owner[None, :]) & ok[None, :]
    rows, cols = np.nonzero(keep)
    label = "development identities of the split: templates against images"
    if resamples is None:
        return build_calibration(sim[keep], 0, matcher=calib.pipeline_id, dataset=label)
    return bootstrap_tail(
        sim[keep],
        calib.identity[probes][rows],
        owner[cols],
        0,
        matcher=calib.pipeline_id,
        dataset=label,
        resamples=resamples,
        tail=tail,
    )
