"""Stage 2: five landmarks on the full-resolution image, and the aligned 150 px chip."""

from __future__ import annotations

import dlib
import numpy as np

from mobileid.config import FaceParams
from mobileid.face.detect import to_dlib_rect
from mobileid.face.models import FaceModels
from mobileid.types import AlignedFace, DecodedImage, FaceDetection, Landmarks


def align_face(
    image: DecodedImage, detection: FaceDetection, models: FaceModels, params: FaceParams
) -> AlignedFace:
    """Landmarks and crop come from the full-resolution pixels, not the detection copy."""
    shape = models.shape5(image.pixels, to_dlib_rect(detection.box))
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    chip = dlib.get_face_chip(
        image.pixels, shape, size=params.chip_size, padding=params.chip_padding
    )
    return AlignedFace(chip=np.ascontiguousarray(chip), landmarks=Landmarks(points=points))
