"""The face pipeline, stage by stage: detect → align → quality → embed.

Decoding happens before (``mobileid.capture``); searching after (``mobileid.gallery``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mobileid.config import FaceParams
from mobileid.errors import LowQualityCapture
from mobileid.face.align import align_face
from mobileid.face.detect import detect_faces
from mobileid.face.embed import embed_face
from mobileid.face.models import FaceModels, load_face_models
from mobileid.face.quality import assess_quality
from mobileid.types import DecodedImage, FaceEmbedding


def face_pipeline_id(models: FaceModels, params: FaceParams) -> str:
    """A readable id of everything that shapes the embedding space.

    Embeddings with different ids must never be compared. The detector is not part of the
    id: it only chooses where to look; landmarks, crop and embedder decide the vector.
    """
    flip = "+flipavg" if params.flip_average else ""
    return (
        f"face/dlib-{models.dlib_version}/sp5+resnet-v1@frm-{models.models_version}"
        f"/chip{params.chip_size}p{params.chip_padding:g}{flip}"
    )


@dataclass(frozen=True)
class FacePipeline:
    models: FaceModels
    params: FaceParams

    @property
    def pipeline_id(self) -> str:
        return face_pipeline_id(self.models, self.params)

    def process(self, image: DecodedImage, *, check_quality: bool = True) -> FaceEmbedding:
        """One embedding for the chosen face; raises NoFaceFound or LowQualityCapture."""
        detections = detect_faces(image, self.models, self.params)
        aligned = align_face(image, detections.chosen, self.models, self.params)
        quality = assess_quality(aligned, self.params)
        if check_quality and not quality.acceptable:
            raise LowQualityCapture(
                "image: expected a usable face capture, got one that is not: "
                + "; ".join(quality.problems),
                reasons=quality.problems,
                field="image",
            )
        return FaceEmbedding(
            vector=embed_face(aligned, self.models, self.params),
            pipeline_id=self.pipeline_id,
            detection=detections.chosen,
            faces_seen=detections.faces_seen,
            quality=quality,
        )


def load_face_pipeline(params: FaceParams | None = None) -> FacePipeline:
    """Load the models (once per process) and return the pipeline."""
    return FacePipeline(models=load_face_models(), params=params or FaceParams())
