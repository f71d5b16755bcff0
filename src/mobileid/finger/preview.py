"""A preview frame of fingertips (or of a contact print), judged quickly: what to change
before capturing.

A phone sends up to two preview frames a second, so the check must stay well under half a
second on a loaded 2-core server. The preview runs the image gates of a capture, stage by
stage as :meth:`~mobileid.finger.pipeline.FingerPipeline.enrol_photo_tips` does (face guard,
fingertip segmentation, ridge period, the contactless ridge floors), adds the exposure of each
fingertip, and turns each refusal into advice a person can act on. It leaves out the last
gate, minutiae extraction (LEADER, 0.5-1.5 s a fingertip): a capture is searched with the full
gate, which may still refuse a capture whose preview passed (too few minutiae).

Resolution matters: a fingertip's ridges are 0.4-0.55 mm apart, so they show only when the
fingertip is at least ~104 px wide in the frame (``check_period``). In a 480 px preview of a
typical phone framing (ISPFD) a fingertip is ~100 px wide and its ridges 3-5 px apart: the
app sends finger previews with a 960 px long side, where the same fingertips are 175-233 px
wide. Measured on the 8 ISPFD photos at 960 px (``bench/bench_capture_preview.py``, in
``make bench``): all 8 pass the preview gates, at ~100 ms of CPU a frame (a face frame: ~18 ms)
and ~310 ms wall clock with the shared 2-core machine's load average at 9; the full gate with
LEADER took 3.5 s wall (at least 630 ms of CPU) on the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mobileid.finger.contactless import (
    TipPrint,
    check_period,
    fingertip_prints,
)
from mobileid.finger.enhance import check_print
from mobileid.finger.errors import FingerprintTooSmall, NotAFingerprint
from mobileid.finger.face_guard import face_scores
from mobileid.finger.orient import upright_pixels
from mobileid.finger.params import ContactlessParams, LoadParams, RidgeParams, contactless_floors
from mobileid.finger.quality import check_fingerprint
from mobileid.finger.types import FingerImage
from mobileid.types import DecodedImage

__all__ = ["ADVICE", "FingerPreview", "TipCheck", "preview_fingertips", "preview_print"]

ADVICE = {
    "face": "that is a face: hold up a fingertip instead",
    "no_finger": "no fingertip in view: hold one fingertip, or four fingers, up inside the guide",
    "blank": "the picture is blank: uncover the lens and point it at the finger",
    "dark": "too dark: switch the torch on or find more light",
    "bright": "too bright: glare on the finger; turn it away from the light",
    "small": "hold the finger closer: the fingertip is too small for its ridges to show",
    "blurred": "hold still and let the camera focus: the ridges are blurred",
    # contact prints (a scanner's preview)
    "no_print": "no print on the sensor: press the fingertip flat on it",
    "no_ridges": "no ridge pattern: press the finger flat on a clean sensor",
    "small_print": "print too small: press more of the fingertip onto the sensor",
}

# Exposure of a fingertip, on the green channel (sharpest on skin) inside its mask. The 8
# ISPFD photos at 960 px: fingertip means 62-140, and 36 for a dim indoor one (which the full
# gate refuses at full resolution too: no ridges); the IMPOSE renders ~136.
DARK_MEAN = 50.0
BRIGHT_SHARE = 0.25  # of the fingertip's pixels at 250 or more: glare washes ridges out
# Exposure of a whole frame, on the 95th percentile of its luma (a fingertip on a black
# ground, as the IMPOSE renders are, has a dark mean but a bright fingertip): the ISPFD
# photos 217-253, the renders ~140; at a tenth of the light (the browser test's dim frames)
# ~25. Where no fingertip is found, a frame under DIM_P95 is also called too dark: at 0.3 of
# the light, skin loses the colour it is found by (ISPFD: 65-76).
FRAME_DARK_P95 = 60.0
DIM_P95 = 110.0


@dataclass(frozen=True)
class TipCheck:
    """One fingertip of a preview frame: where it is and what keeps it from being captured."""

    position: str  # right_index...; "unknown" unless four fingertips tell it
    width_px: int  # the finger's width in the frame
    ridge_period_px: float | None  # None: no ridge period found
    problems: tuple[str, ...]  # keys of ADVICE; empty: it passes the preview gates


@dataclass(frozen=True)
class FingerPreview:
    """Would this frame make a usable capture? ``problems`` are keys of ``ADVICE``."""

    ok: bool
    problems: tuple[str, ...]
    faces_seen: int
    tips: tuple[TipCheck, ...] = ()

    @property
    def advice(self) -> tuple[str, ...]:
        return tuple(ADVICE[p] for p in self.problems)


def _refused(problem: str, faces: int = 0) -> FingerPreview:
    return FingerPreview(False, (problem,), faces)


def _luma(pixels: np.ndarray) -> np.ndarray:
    """Luma of every 4th pixel each way: exposure needs no more, and costs 1/16th."""
    sample = pixels[::4, ::4].astype(np.float32)
    return sample.mean(axis=2) if sample.ndim == 3 else sample


def _luma_p95(pixels: np.ndarray) -> float:
    return float(np.percentile(_luma(pixels), 95))


def _exposure(pixels: np.ndarray, ridges: RidgeParams) -> str | None:
    """What is wrong with a frame that holds nothing to judge (dark, bright, blank), or None."""
    luma = _luma(pixels)
    if float(np.percentile(luma, 95)) < FRAME_DARK_P95:
        return "dark"
    if float(luma.std()) < ridges.blank_std:
        return "bright" if float(luma.mean()) > 250 else "blank"
    return None


def preview_fingertips(
    image: DecodedImage,
    params: ContactlessParams | None = None,
    ridges: RidgeParams | None = None,
    load: LoadParams | None = None,
) -> FingerPreview:
    """Judge a camera frame of one to four fingertips (module doc). ``ok`` when at least one
    fingertip passes, as a capture is searched with its usable fingertips."""
    p, rp, lp = params or ContactlessParams(), ridges or RidgeParams(), load or LoadParams()
    exposure = _exposure(image.pixels, rp)
    if exposure is not None:
        return _refused(exposure)
    faces = len(face_scores(image.pixels))
    if faces:
        return _refused("face", faces)
    try:
        layout, prints = fingertip_prints(image, p, plain_only=True)
    except NotAFingerprint:
        dim = _luma_p95(image.pixels) < DIM_P95
        return FingerPreview(False, ("dark", "no_finger") if dim else ("no_finger",), 0)
    upright = upright_pixels(image.pixels, layout.quarter_turns, layout.tilt)
    tips = tuple(_check_tip(upright, tp, p, rp, lp) for tp in prints)
    ok = any(not t.problems for t in tips)
    failing = [] if ok else [k for t in tips for k in t.problems]
    return FingerPreview(ok, tuple(dict.fromkeys(failing)), 0, tips)


def _check_tip(
    upright: np.ndarray, tp: TipPrint, p: ContactlessParams, rp: RidgeParams, lp: LoadParams
) -> TipCheck:
    left, top, right, bottom = tp.tip.box
    green = upright[top:bottom, left:right, 1][tp.tip.mask].astype(np.float32)
    problems: list[str] = []
    if green.size and float(green.mean()) < DARK_MEAN:
        problems.append("dark")
    elif green.size and float(np.mean(green >= 250)) > BRIGHT_SHARE:
        problems.append("bright")
    try:
        check_period(tp, p)
        check_fingerprint(tp.plain, contactless_floors(rp, p), lp)
    except FingerprintTooSmall:
        problems.append("small")
    except NotAFingerprint:
        problems.append("blurred")
    period = round(tp.period, 1) if tp.period_found else None
    return TipCheck(tp.tip.position, round(tp.tip.finger_width), period, tuple(problems))


def preview_print(
    image: FingerImage, ridges: RidgeParams | None = None, load: LoadParams | None = None
) -> FingerPreview:
    """Judge a contact print at 500 ppi (a scanner's preview) with the contact gates
    (:meth:`~mobileid.finger.pipeline.FingerPipeline.load_image`), advice instead of errors."""
    rp, lp = ridges or RidgeParams(), load or LoadParams()
    faces = len(face_scores(image.pixels))
    if faces:
        return _refused("face", faces)
    try:
        check_print(image, rp, lp)
    except FingerprintTooSmall:
        return _refused("small_print")
    except NotAFingerprint as exc:
        return _refused(_print_problem(exc, image))
    return FingerPreview(True, (), 0)


def _print_problem(exc: NotAFingerprint, image: FingerImage) -> str:
    reason = exc.reasons[0] if exc.reasons else "no_ridges"
    if reason == "saturated":
        return "dark" if float(np.mean(image.pixels == 0)) > 0.5 else "bright"
    return {"blank": "no_print", "face": "face"}.get(reason, "no_ridges")
