"""Faces that reach the strong band against another subject of their gallery: at enrolment,
the faces just enrolled; at search time, a strong candidate's own faces.

A false strong candidate in a live search most often comes from a pair of gallery subjects:
one person enrolled twice under two names (in LFW, one photo is filed as Andrew_Caldecott and
as Andrew_Gilligan), or two people who look alike (README "Accuracy"). Either way it is best
seen when the second one is enrolled, by the person enrolling, not by an officer in the field.
So each face an enrolment adds is compared, as a search would compare it, with the other
subjects of its gallery (the cohort-normalised score, read with the table of the capture's
quality stratum), and every pair of subjects reaching the strong band is reported for a
person to review: merge them if they are one person, or know that they will draw each other's
searches. Nothing is changed automatically. The comparison is part of the enrolment (the
gallery management the caller was already allowed, audited as the enrolment), not a search of
a person: it writes no search entry, and its answer goes only to whoever enrolled.

A search repeats the check for each candidate it returns in the strong band
(:func:`with_lookalikes`): the officer about to act on that candidate is shown the other
subjects the candidate's face reaches the strong band against, to rule out before acting (a
pair enrolled before this check, or a second name nobody merged). The gallery faces' capture
quality is not stored, so their scores are read with the pooled table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mobileid.scoring import band_for
from mobileid.service.context import Context
from mobileid.service.embedding import EmbedOutcome
from mobileid.service.identify import IdentifyResult, probe_reading
from mobileid.types import Band, Candidate, Quality, Resemblance, SearchHit, Subject, Vector

NEAREST = 5  # hits looked at per face: the subject's own faces come first
# a strong candidate's faces checked at search time (one gallery search each): bounds the
# cost for a subject enrolled with many photos
FACES_CHECKED = 8


@dataclass(frozen=True)
class Lookalike:
    """Two subjects of one gallery whose faces reach the strong band against each other."""

    subject_id: str  # the subject this enrolment added to
    name: str
    other_subject_id: str  # the subject already enrolled (or enrolled in the same run)
    other_name: str
    score: float  # the best of the new faces against the other subject's faces
    fmr: float


def strong_lookalikes(
    ctx: Context, gallery: str, enrolled: Sequence[tuple[Subject, Sequence[EmbedOutcome]]]
) -> list[Lookalike]:
    """Each pair of subjects once (the best score of the pair), best first: for every face of
    ``enrolled`` (subjects with the outcomes just added to them), the other subjects of
    ``gallery`` it reaches the strong band against."""
    pid = ctx.pipeline.pipeline_id
    best: dict[tuple[str, str], tuple[float, float, Subject, str]] = {}
    for subject, outcomes in enrolled:
        for outcome in outcomes:
            if outcome.vector is None:
                continue
            near = _strong_others(ctx, gallery, pid, outcome.vector, outcome.quality)
            for other, score, fmr in near:
                if other == subject.subject_id:
                    continue
                pair = (subject.subject_id, other)
                key = (min(pair), max(pair))
                if key not in best or score > best[key][0]:
                    best[key] = (score, fmr, subject, other)
    others = ctx.gallery.get_many([other for _, _, _, other in best.values()])
    out = [
        Lookalike(
            subject.subject_id,
            subject.name,
            other,
            others[other].name if other in others else "(deleted)",
            round(score, 6),
            fmr,
        )
        for score, fmr, subject, other in best.values()
    ]
    return sorted(out, key=lambda x: -x.score)


def _strong_others(
    ctx: Context, gallery: str, pipeline_id: str, vector: Vector, quality: Quality | None
) -> list[tuple[str, float, float]]:
    """(subject id, score, FMR) of each of the ``NEAREST`` subjects of ``gallery`` that
    ``vector`` reaches the strong band against, scored and read as a search scores its probe
    (its own subject among them, for the caller to leave out)."""
    hits = ctx.gallery.search(gallery, vector, pipeline_id, NEAREST)
    return _strong(ctx, vector, quality, hits)


def _strong(
    ctx: Context, vector: Vector, quality: Quality | None, hits: Sequence[SearchHit]
) -> list[tuple[str, float, float]]:
    """Those of ``hits`` (a search with ``vector``) that reach the strong band."""
    bands = ctx.settings.bands
    _, cal, offset = probe_reading(ctx, vector, quality)
    out = []
    for hit in hits:
        score = hit.score - offset
        fmr = cal.fmr(score)
        if band_for(fmr, bands.strong_fmr, bands.possible_fmr) == Band.STRONG:
            out.append((hit.subject_id, score, fmr))
    return out


def candidate_lookalikes(ctx: Context, candidate: Candidate) -> tuple[Resemblance, ...]:
    """The other subjects of the candidate's gallery that any of its first ``FACES_CHECKED``
    faces reaches the strong band against, best first (each with its best score). The faces
    are searched together, in one request to the vector index."""
    best: dict[str, tuple[float, float]] = {}
    gallery, own, pid = candidate.gallery, candidate.subject_id, candidate.pipeline_id
    faces = ctx.gallery.subject_vectors(gallery, own, pid)[:FACES_CHECKED]
    searched = ctx.gallery.search_many(gallery, faces, pid, NEAREST) if len(faces) else []
    for vector, hits in zip(faces, searched, strict=True):
        for other, score, fmr in _strong(ctx, vector, None, hits):
            if other != own and (other not in best or score > best[other][0]):
                best[other] = (score, fmr)
    names = ctx.gallery.get_many(list(best))
    found = [
        Resemblance(other, names[other].name, round(score, 6), fmr)
        for other, (score, fmr) in best.items()
        if other in names  # deleted meanwhile
    ]
    return tuple(sorted(found, key=lambda r: -r.score))


def with_lookalikes(ctx: Context, result: IdentifyResult) -> IdentifyResult:
    """``result`` with each strong-band candidate's look-alikes (:func:`candidate_lookalikes`)."""
    candidates = tuple(
        replace(c, lookalikes=candidate_lookalikes(ctx, c)) if c.band == Band.STRONG else c
        for c in result.candidates
    )
    return replace(result, candidates=candidates)
