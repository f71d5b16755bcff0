"""Refuse a face offered as a fingertip photo or a print, before ridges are looked for.

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
import numpy.typing as npt

from mobileid.face.detect import downscale
from mobileid.finger.errors import NotAFingerprint
from mobileid.types import DecodedImage

__all__ = ["FACE_SCORE", "face_scores", "refuse_face_pixels", "refuse_faces"]

FACE_SCORE = 0.0  # HOG score; fingertip photos stayed below -0.46
WORK_SIDE = 640  # px, longest side of the copy searched


@functools.cache
def _detector() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


def refuse_faces(image: DecodedImage, *, field: str = "image") -> None:
    """Raise ``NotAFingerprint`` (reason ``face``) when ``image`` shows a face."""
    refuse_face_pixels(image.pixels, field=field, expected="a photo of fingertips")


def refuse_face_pixels(
    pixels: npt.NDArray[np.uint8], *, field: str = "image", expected: str = "a fingerprint"
) -> None:
    """:func:`refuse_faces` on RGB or grey pixels (a contact print is grey). Measured on grey
    500 ppi copies: all 108 faces of face_recognition_samples and every 12th lfw-dev identity
    score >= 0; FVC2002 DB1_B, DB4_B and their ``eval.finger_sensors`` imitations at most -0.12."""
    scores = face_scores(pixels)
    if scores:
        raise NotAFingerprint(
            f"{field}: expected {expected}, got a photo with a face in it (face "
            f"detector score {max(scores):.2f}); search a face with `identify face`",
            reasons=("face",),
            field=field,
        )


def face_scores(pixels: npt.NDArray[np.uint8]) -> list[float]:
    """The HOG scores of the faces in RGB or grey ``pixels`` (at least ``FACE_SCORE``)."""
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    small, _ = downscale(rgb, WORK_SIDE)
    _, scores, _ = _detector().run(np.ascontiguousarray(small), 0, FACE_SCORE)
    return [float(s) for s in scores]
