"""Refuse a face offered as a fingertip photo, before ridges are looked for.

Skin segmentation and the ridge check (:mod:`mobileid.finger.contactless`) refuse most faces,
but a face is skin-coloured and hair or stubble can pass for ridges: 3 of 400 random lfw-dev
faces reached extraction. dlib's HOG face detector (built into dlib, no model file) on a
640 px copy, without upsampling, settles it, measured on this repository's data:

- 399 of 400 random lfw-dev faces score >= 0 (the lowest -0.38);
- the 8 ISPFD fingertip photos score < -0.46, most of them find no box at all;
- ~30 ms per photo once decoded.

A photo whose best box scores ``FACE_SCORE`` or more is refused with reason ``face``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from mobileid.face.detect import downscale
from mobileid.finger.errors import NotAFingerprint
from mobileid.types import DecodedImage

__all__ = ["FACE_SCORE", "refuse_faces"]

FACE_SCORE = 0.0  # HOG score; fingertip photos stayed below -0.46
WORK_SIDE = 640  # px, longest side of the copy searched


@functools.cache
def _detector() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


def refuse_faces(image: DecodedImage, *, field: str = "image") -> None:
    """Raise ``NotAFingerprint`` (reason ``face``) when ``image`` shows a face."""
    small, _ = downscale(image.pixels, WORK_SIDE)
    _, scores, _ = _detector().run(np.ascontiguousarray(small), 0, FACE_SCORE)
    if len(scores):
        raise NotAFingerprint(
            f"{field}: expected a photo of fingertips, got a photo with a face in it (face "
            f"detector score {max(scores):.2f}); search a face with `identify face`",
            reasons=("face",),
            field=field,
        )
