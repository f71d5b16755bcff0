"""At enrolment: faces just enrolled that reach the strong band against another subject.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mobileid.scoring import band_for
from mobileid.service.context import Context
from mobileid.service.embedding import EmbedOutcome
from mobileid.service.identify import probe_reading
from mobileid.types import Band, Subject

NEAREST = 5  # hits looked at per face: the subject's own faces come first


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
    bands = ctx.settings.bands
    best: dict[tuple[str, str], tuple[float, float, Subject, str]] = {}
    for subject, outcomes in enrolled:
        for outcome in outcomes:
            if outcome.vector is None:
                continue
            _, cal, offset = probe_reading(ctx, outcome.vector, outcome.quality)
            for hit in ctx.gallery.search(gallery, outcome.vector, pid, NEAREST):
                score = hit.score - offset
                fmr = cal.fmr(score)
                strong = band_for(fmr, bands.strong_fmr, bands.possible_fmr) == Band.STRONG
                if hit.subject_id == subject.subject_id or not strong:
                    continue
                pair = (subject.subject_id, hit.subject_id)
                key = (min(pair), max(pair))
                if key not in best or score > best[key][0]:
                    best[key] = (score, fmr, subject, hit.subject_id)
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
