"""Use case: identify a person from one face photo (1:N) in one or more galleries."""

from __future__ import annotations

from dataclasses import dataclass

from mobileid import NOTICE
from mobileid.capture.decode import decode_image
from mobileid.errors import InvalidArgument, NotFound
from mobileid.scoring import band_for
from mobileid.service.context import Context
from mobileid.types import Band, Candidate, FaceEmbedding, Quality

MAX_TOP = 100


@dataclass(frozen=True)
class IdentifyResult:
    candidates: tuple[Candidate, ...]  # best first
    pipeline_id: str
    galleries: tuple[str, ...]
    gallery_sizes: dict[str, int]
    thresholds: dict[str, float]  # band name -> the score at which it starts
    fmr_bounds: dict[str, float]  # band name -> its false-match-rate bound per comparison
    # gallery size × FMR bound: how many false candidates a search of a person who is not
    # enrolled is expected to return in each band
    expected_false: dict[str, float]
    faces_seen: int
    face_rule: str
    quality: Quality
    calibration: str
    notice: str = NOTICE


def identify_face(
    ctx: Context, image_bytes: bytes, *, galleries: list[str] | None = None, top: int = 10
) -> IdentifyResult:
    """Decode, embed and search; candidates carry a calibrated FMR and a band."""
    if not 1 <= top <= MAX_TOP:
        raise InvalidArgument(f"top: expected 1..{MAX_TOP}, got {top}", field="top")
    names = galleries or [ctx.settings.default_gallery]
    known = set(ctx.gallery.galleries())
    missing = [g for g in names if g not in known]
    if missing:
        raise NotFound(
            f"gallery: expected one of {sorted(known) or 'the enrolled galleries (none yet)'}, "
            f"got {missing}",
            field="gallery",
        )
    image = decode_image(image_bytes, ctx.settings.limits)
    embedding = ctx.pipeline.process(image)
    return search_embedding(ctx, embedding, names, top)


def search_embedding(
    ctx: Context, embedding: FaceEmbedding, galleries: list[str], top: int
) -> IdentifyResult:
    cal = ctx.calibration
    bands = ctx.settings.bands
    pid = embedding.pipeline_id
    candidates: list[Candidate] = []
    sizes = {}
    for gallery in galleries:
        hits = ctx.gallery.search(gallery, embedding.vector, pid, top)
        sizes[gallery] = ctx.gallery.count(gallery, pid)
        subjects = ctx.gallery.get_many([h.subject_id for h in hits])
        for hit in hits:
            subject = subjects.get(hit.subject_id)
            if subject is None:  # deleted between the search and this lookup
                continue
            fmr = cal.fmr(hit.score)
            candidates.append(
                Candidate(
                    subject_id=hit.subject_id,
                    name=subject.name,
                    gallery=gallery,
                    score=round(hit.score, 6),
                    fmr=fmr,
                    band=band_for(fmr, bands.strong_fmr, bands.possible_fmr),
                    pipeline_id=pid,
                    source=subject.source,
                )
            )
    candidates.sort(key=lambda c: -c.score)
    n = sum(sizes.values())
    bounds = {Band.STRONG.value: bands.strong_fmr, Band.POSSIBLE.value: bands.possible_fmr}
    return IdentifyResult(
        candidates=tuple(candidates[:top]),
        pipeline_id=pid,
        galleries=tuple(galleries),
        gallery_sizes=sizes,
        thresholds={b: cal.threshold(f) for b, f in bounds.items()},
        fmr_bounds=bounds,
        expected_false={b: n * f for b, f in bounds.items()},
        faces_seen=embedding.faces_seen,
        face_rule="largest, then most central",
        quality=embedding.quality,
        calibration=cal.dataset,
    )
