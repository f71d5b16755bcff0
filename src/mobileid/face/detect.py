"""Stage 1: find faces on a downscaled copy and choose the one to identify."""

from __future__ import annotations

import math

import dlib
import numpy as np
from PIL import Image

from mobileid.config import FaceParams
from mobileid.errors import NoFaceFound
from mobileid.face.models import FaceModels
from mobileid.types import Box, DecodedImage, Detections, FaceDetection, RGBArray

CHOICE_RULE = (
    "of the faces at least half as large (in area) as the largest, the one nearest the image centre"
)


def downscale(pixels: RGBArray, max_side: int) -> tuple[RGBArray, float]:
    """A copy no larger than ``max_side`` on its longest side, and the factor it was shrunk by."""
    h, w = pixels.shape[:2]
    factor = max(h, w) / max_side
    if factor <= 1.0:
        return pixels, 1.0
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    if factor > 2.0:
        # Handing a 12 MP array to Pillow costs a 60 ms conversion; dlib resizes the array
        # in place of it (4.5 ms) to twice the target, and Pillow's area-averaging halving of
        # that small copy removes most of the aliasing (12 MP: 99 ms down to ~12 ms).
        pixels = dlib.resize_image(np.ascontiguousarray(pixels), size[1] * 2, size[0] * 2)
        h, w = pixels.shape[:2]
    view = Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels), "raw", "RGB", 0, 1)
    small = view.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small), factor


def hog_pass(small: RGBArray, models: FaceModels, upsample: int, min_score: float) -> list[tuple]:
    """One HOG pass over the detection copy: ``(x0, y0, x1, y1, score)`` per box scoring at
    least ``min_score``, in the copy's pixels. Public so that diagnostics replay the passes
    :func:`detect_faces` chooses between."""
    rects, scores, _ = models.hog.run(small, upsample, min_score)
    return [
        (r.left(), r.top(), r.right(), r.bottom(), float(s))
        for r, s in zip(rects, scores, strict=True)
    ]


def cnn_pass(small: RGBArray, models: FaceModels) -> list[tuple]:
    """The CNN detector's pass over the detection copy, boxes as :func:`hog_pass` gives them."""
    found = models.cnn()(small, 0 if max(small.shape[:2]) >= 320 else 1)
    return [
        (d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), float(d.confidence))
        for d in found
    ]


def choose_face(faces: list[FaceDetection], width: int, height: int) -> FaceDetection:
    """Apply CHOICE_RULE: drop faces much smaller than the largest, then take the most central."""
    largest = max(f.box.width * f.box.height for f in faces)
    big = [f for f in faces if f.box.width * f.box.height >= largest / 2.0]
    cx, cy = width / 2.0, height / 2.0
    return min(big, key=lambda f: math.hypot(f.box.center[0] - cx, f.box.center[1] - cy))


def detect_faces(image: DecodedImage, models: FaceModels, params: FaceParams) -> Detections:
    """Detect faces; boxes are returned in full-resolution coordinates.

    HOG first at no upsampling (fast), then upsampled once for small faces, then, when
    ``params.cnn_fallback`` is set, dlib's CNN detector (slow, but it finds turned and
    partly hidden faces that HOG misses). A pass whose boxes all score under
    ``hog_min_score`` (where HOG's weak false boxes lie) is not trusted: the next pass looks
    first, and the weak boxes are used only when nothing better turns up. When a pass has a
    strong box, all its boxes take part in the choice: the labelled face of a photo can score
    low while a bystander scores high (measured on lfw-dev, where a cut-off applied box by
    box doubled the verification EER). Raises NoFaceFound when every pass finds nothing.
    """
    small, factor = downscale(image.pixels, params.detect_max_side)
    raw: list[tuple] = []
    weak: list[tuple] = []
    detector = "hog"
    if params.detector == "hog":
        for upsample in range(params.hog_upsample + 1):
            found = hog_pass(small, models, upsample, params.hog_weak_floor)
            if any(f[4] >= params.hog_min_score for f in found):
                raw = found
                break
            weak = weak or found
    if not raw and (params.detector == "cnn" or params.cnn_fallback):
        raw, detector = cnn_pass(small, models), "cnn"
    if not raw:
        raw, detector = weak, "hog-weak"
    if not raw:
        raise NoFaceFound(
            f"image: expected a face, found none in a {image.width}x{image.height} image "
            "(face the camera, move closer, and make sure the face is lit and not covered)",
            field="image",
        )
    faces = [
        FaceDetection(
            box=_clip(Box(x0 * factor, y0 * factor, x1 * factor, y1 * factor), image),
            score=s,
            detector=detector,
        )
        for (x0, y0, x1, y1, s) in raw
    ]
    chosen = choose_face(faces, image.width, image.height)
    return Detections(chosen=chosen, faces_seen=len(faces), rule=CHOICE_RULE)


def _clip(box: Box, image: DecodedImage) -> Box:
    return Box(
        max(0.0, box.left),
        max(0.0, box.top),
        min(float(image.width - 1), box.right),
        min(float(image.height - 1), box.bottom),
    )


def to_dlib_rect(box: Box) -> dlib.rectangle:
    return dlib.rectangle(round(box.left), round(box.top), round(box.right), round(box.bottom))
