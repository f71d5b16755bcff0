"""How probe prints meet the galleries: the calibration of each kind of template they search,
the shortlist search of each probe, and the fusion of the probes' evidence per subject.

Fusion of several probe fingers, per subject:

1. Each probe is searched on its own (screen + geometric check). A subject's score for that
   probe is its best over its templates; the finger calibration turns it into an estimated
   false-match rate ``f_i`` per comparison, as the face side does, from the table of the
   probe print's quality stratum (:mod:`mobileid.finger.strata`). A subject that no
   shortlist of probe ``i`` reached gets ``f_i = 1`` (no evidence).
2. The pieces are fused with :func:`mobileid.service.fusion.fuse_fmrs` (summed ``-log10``
   rates, Fisher's correction for the number of pieces, at most one decade of gain over the
   best piece, never below the calibration's resolution). With the shipped finger calibration
   (2,880 impostor pairs, resolution 3.5e-4) fingerprint candidates can reach the possible
   band, never the strong one (1e-5): that needs a calibration of at least 1e5 impostor pairs.

Phone photos (``contactless=True``): each photo gives one probe per usable fingertip (up to
four, with its position where the photo tells it). Each probe searches the contact templates
(mirrored, under the photo -> contact calibration) and the photo-enrolled ones (under the photo
calibration); a subject's piece for that probe is its lowest estimated rate over both. The
shipped photo -> contact calibration rests on ~3,900 impostor comparisons (conservative upper
bounds, see its ``dataset``): a photo probe can reach the possible band, never the strong one;
the photo -> photo one (~200) reaches neither. A search without both calibrations is refused.

Face and finger evidence of one subject are fused by the same rule in
:mod:`mobileid.service.person`; the use case that audits a search is
:mod:`mobileid.service.fingers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mobileid.errors import PipelineMismatch
from mobileid.finger.pipeline import FingerPipeline, calibration_matcher
from mobileid.finger.types import FingerTemplate
from mobileid.scoring import Calibration, band_for
from mobileid.service.context import Context
from mobileid.service.fusion import fuse_fmrs
from mobileid.service.stages import ProbePrint
from mobileid.types import Band

SHORTLIST = 100  # templates checked per probe; DB1_B: 99.1% of mates are in the top 40 of 79


@dataclass(frozen=True)
class FingerMatch:
    """The best template of a candidate for one probe print."""

    probe: int  # index of the probe, in the order given
    position: str  # the candidate's finger position that matched best
    score: float  # matcher similarity, higher is more alike
    fmr: float  # per comparison, from the calibration of this pair of pipelines
    pipeline_id: str  # of the candidate's template (a contact print or a photo)


@dataclass(frozen=True)
class FingerCandidate:
    """A lead for human review, never a verdict: one subject, evidence fused over probes."""

    subject_id: str
    name: str
    gallery: str
    score: float  # fused evidence Σ -log10 f_i over the probes; higher is more alike
    fmr: float  # fused estimated false-match rate (module doc)
    band: Band
    pipeline_id: str
    source: str
    matches: tuple[FingerMatch, ...]


@dataclass(frozen=True)
class CalibrationUse:
    """One calibration a search used: the templates it scores and the rates it can show."""

    gallery_pipeline_id: str  # templates of this pipeline were searched with it
    matcher: str
    dataset: str
    impostor_count: int
    fmr_resolution: float  # 1/impostor_count: no candidate scored by it claims less
    thresholds: dict[str, float | None]  # single-probe score where a band starts; None: never
    templates: int  # searched with it, over all galleries


@dataclass(frozen=True, eq=False)
class FingerProbes:
    """The probe templates of one search and the calibrations their searches need."""

    templates: list[FingerTemplate]
    prints: list[ProbePrint]
    refused: list[str]  # fingertips of photos that gave no template
    calibrations: list[tuple[str, Calibration]]  # (template pipeline id searched, calibration)
    contactless: bool
    # contact probes: the table of each probe's quality stratum (FingerStrata), in order
    tables: list[Calibration] = field(default_factory=list)


def probe_calibrations(
    ctx: Context, pipe: FingerPipeline, contactless: bool
) -> list[tuple[str, Calibration]]:
    """(template pipeline id, calibration) for every kind of template the probes search."""
    if not contactless:
        return [(pipe.pipeline_id, ctx.finger_calibration)]
    have = ctx.contactless_calibrations
    out = []
    for gp in (pipe.pipeline_id, pipe.contactless_pipeline_id):
        matcher = calibration_matcher(pipe.contactless_pipeline_id, gp)
        if matcher not in have:
            raise PipelineMismatch(
                f"calibration: expected one for {matcher!r}, have {sorted(have)} (contactless "
                "probes are not calibrated for this pipeline: rebuild with `mobileid eval "
                "fingers-contactless`)",
                field="pipeline_id",
            )
        out.append((gp, have[matcher]))
    return out


Best = dict[tuple[str, str], dict[int, FingerMatch]]


def search_galleries(
    ctx: Context,
    pipe: FingerPipeline,
    names: list[str],
    probes: FingerProbes,
    cals: list[tuple[str, Calibration]],
) -> tuple[Best, dict[str, int], dict[str, int]]:
    """Each probe against each kind of template of each gallery. A subject's match for a probe
    is its lowest estimated rate (scores of different calibrations do not compare). A contact
    probe's scores are read from its quality stratum's table.

    Every view of every probe (a photo meets contact prints at several scales) is screened in
    one pass over a gallery's codes per kind of template (``FingerGallery.search_many``)."""
    templates, contactless = probes.templates, probes.contactless
    views = [pipe.photo_views(t) if contactless else {t.pipeline_id: (t,)} for t in templates]
    best: Best = {}
    sizes = dict.fromkeys(names, 0)
    used = {gp: 0 for gp, _ in cals}
    for gp, cal in cals:
        owner = [i for i, v in enumerate(views) for _ in v[gp]]  # the probe of each view
        feats = [pipe.features(t) for v in views for t in v[gp]]
        for g in names:
            found, per_subject = ctx.fingers.search_many(g, feats, SHORTLIST)
            for i, hits in zip(owner, found, strict=True):
                table = probes.tables[i] if probes.tables else cal
                for h in hits:  # a subject's best over its templates and the views is kept
                    m = FingerMatch(i, h.position, round(h.score, 6), table.fmr(h.score), gp)
                    slot = best.setdefault((g, h.subject_id), {})
                    if i not in slot or (m.fmr, -m.score) < (slot[i].fmr, -slot[i].score):
                        slot[i] = m
            n = per_subject.total if templates else 0
            sizes[g] += n
            used[gp] += n
    return best, sizes, used


def fused_candidates(
    ctx: Context, best: Best, probes: int, pid: str, floors: dict[str, float]
) -> list[FingerCandidate]:
    """Fused per subject; the floor is the finest resolution among the calibrations that
    scored the subject's matches (``floors``: template pipeline id → resolution)."""
    bands = ctx.settings.bands
    subjects = ctx.gallery.get_many([sid for _, sid in best])
    out = []
    for (g, sid), matches in best.items():
        subject = subjects.get(sid)
        if subject is None:  # deleted between the search and this lookup
            continue
        rates = [matches[i].fmr if i in matches else 1.0 for i in range(probes)]
        fmr, evidence = fuse_fmrs(rates, min(floors[m.pipeline_id] for m in matches.values()))
        out.append(
            FingerCandidate(
                subject_id=sid,
                name=subject.name,
                gallery=g,
                score=round(evidence, 4),
                fmr=fmr,
                band=band_for(fmr, bands.strong_fmr, bands.possible_fmr),
                pipeline_id=pid,
                source=subject.source,
                matches=tuple(matches[i] for i in sorted(matches)),
            )
        )
    out.sort(key=lambda c: (c.fmr, -c.score))
    return out


def calibration_use(
    gp: str, cal: Calibration, templates: int, bounds: dict[str, float]
) -> CalibrationUse:
    return CalibrationUse(
        gallery_pipeline_id=gp,
        matcher=cal.matcher,
        dataset=cal.dataset,
        impostor_count=cal.impostor_count,
        fmr_resolution=cal.resolution,
        thresholds={b: cal.threshold_or(f, None) for b, f in bounds.items()},
        templates=templates,
    )
