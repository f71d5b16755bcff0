"""Stage 4: the 128-d dlib ResNet embedding of an aligned chip, unit length."""

from __future__ import annotations

import numpy as np

from mobileid.config import FaceParams
from mobileid.face.models import FaceModels
from mobileid.types import AlignedFace, Vector


def embed_face(aligned: AlignedFace, models: FaceModels, params: FaceParams) -> Vector:
    """With ``flip_average`` the chip and its mirror image are embedded and averaged.

    The mirror is the same face to a person; averaging removes some of the network's
    left/right bias. The result is scaled to unit length so that the inner product of two
    embeddings is their cosine similarity (the score).
    """
    chips = [aligned.chip]
    if params.flip_average:
        chips.append(np.ascontiguousarray(aligned.chip[:, ::-1]))
    vectors = np.array([np.array(models.resnet.compute_face_descriptor(c)) for c in chips])
    mean = vectors.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)
