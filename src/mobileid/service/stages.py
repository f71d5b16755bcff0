"""The CPU-bound stages of a search (decode, detect, align, embed; finger extraction), run
here or handed to another runner.

dlib holds the GIL while it detects and embeds, so a server that runs these stages in threads
does not gain throughput from more clients. The HTTP service therefore installs a
:class:`StageRunner` backed by worker processes in each thread of its pool
(:func:`use_runner`); the use cases call :func:`face_embedding` and :func:`finger_extraction`,
which run the very same functions (:func:`embed_face_bytes`, :func:`extract_prints`) in this
process when no runner is installed (the command line) and through the runner otherwise.
Everything else (access checks, the gallery search, the audit entry) stays in the calling
process, so the answer and its one audit entry do not depend on where the stages ran.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.errors import InvalidArgument
from mobileid.face.pipeline import FacePipeline
from mobileid.finger.pipeline import FingerPipeline
from mobileid.finger.types import FingerTemplate
from mobileid.types import FaceEmbedding

if TYPE_CHECKING:
    from mobileid.service.context import Context

MAX_PROBES = 10  # prints (or fingertips over all photos) in one search


@dataclass(frozen=True)
class ProbePrint:
    minutiae_count: int
    quality: float
    image: int = 0  # which IMAGE it came from
    position: str = "unknown"  # right_index...; a photo tells it for four fingertips in a row
    finger: str | None = None  # index, middle, ring, little: where a photo tells it
    hand: str | None = None  # left, right: where a photo tells it
    positions: str = ""  # for a photo: how its positions were told, or why they could not be
    # the quality stratum whose finger calibration table read this probe's scores ("all": one
    # pooled table, as for photos)
    calibration_stratum: str = "all"


# (probe templates, what each is, refusals of single fingertips of a photo)
Extracted = tuple[list[FingerTemplate], list[ProbePrint], list[str]]


class StageRunner(Protocol):
    """Runs the CPU-bound stages somewhere else; raises what the stages raise."""

    def face(self, data: bytes, field: str) -> FaceEmbedding: ...

    def fingers(
        self, images: Sequence[bytes], contactless: bool, ppi: float | None, field: str
    ) -> Extracted: ...


_local = threading.local()


def use_runner(runner: StageRunner | None) -> None:
    """Route this thread's stages through ``runner`` (None: run them in this thread).

    Per thread, not per context: several servers (and the tests) may share one context, each
    with its own pool of threads and workers."""
    _local.runner = runner


def _runner() -> StageRunner | None:
    runner: StageRunner | None = getattr(_local, "runner", None)
    return runner


def embed_face_bytes(
    pipeline: FacePipeline, limits: CaptureLimits, data: bytes, field: str
) -> FaceEmbedding:
    """Decode a face photo and embed its chosen face (NoFaceFound, LowQualityCapture...)."""
    return pipeline.process(decode_image(data, limits, field=field))


def face_embedding(ctx: Context, data: bytes, *, field: str = "image") -> FaceEmbedding:
    """The embedding of a face photo, from this thread's runner or computed here."""
    runner = _runner()
    if runner is not None:
        return runner.face(data, field)
    return embed_face_bytes(ctx.pipeline, ctx.settings.limits, data, field)


def extract_prints(
    pipe: FingerPipeline,
    images: Sequence[bytes],
    contactless: bool,
    ppi: float | None,
    field: str,
) -> Extracted:
    """Templates of contact prints (one each) or of phone photos (every usable fingertip;
    a photo with none refuses the search)."""
    if not contactless:
        templates = [
            pipe.enrol_bytes(d, ppi=ppi, field=f"{field}[{i}]") for i, d in enumerate(images)
        ]
        prints = [ProbePrint(t.count, round(t.quality, 2), i) for i, t in enumerate(templates)]
        return templates, prints, []
    out: Extracted = ([], [], [])
    for i, data in enumerate(images):
        photo = pipe.enrol_photo_tips(data, field=f"{field}[{i}]")
        for k, tip in enumerate(photo.tips):
            t, where = tip.template, tip.tip
            if t is None:
                code = tip.error.code if tip.error else "unusable"
                out[2].append(f"{field}[{i}] fingertip {k + 1} ({where.position}): {code}")
                continue
            out[0].append(t)
            out[1].append(
                ProbePrint(
                    t.count, round(t.quality, 2), i, where.position, where.finger, where.hand,
                    photo.positions,
                )
            )  # fmt: skip
    if len(out[0]) > MAX_PROBES:
        raise InvalidArgument(
            f"{field}: expected at most {MAX_PROBES} fingertips over all photos, got {len(out[0])}",
            field=field,
        )
    return out


def finger_extraction(
    ctx: Context, images: Sequence[bytes], contactless: bool, ppi: float | None, field: str
) -> Extracted:
    """Probe templates, from this thread's runner or extracted here."""
    runner = _runner()
    if runner is not None:
        return runner.fingers(images, contactless, ppi, field)
    return extract_prints(ctx.finger_pipeline, images, contactless, ppi, field)
