"""Loading dlib's face models, explicitly and once.

The weights come from the ``face_recognition_models`` package; nothing is downloaded. We use
the 5-point landmark model (its licence allows any use), never the 68-point one (trained on
iBUG 300-W, which forbids commercial use).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import dlib
import face_recognition_models

_lock = threading.Lock()
_cnn: Any = None


@dataclass(frozen=True)
class FaceModels:
    hog: Any  # dlib.fhog_object_detector
    shape5: Any  # dlib.shape_predictor
    resnet: Any  # dlib.face_recognition_model_v1
    dlib_version: str
    models_version: str

    def cnn(self) -> Any:
        """dlib's MMOD CNN detector, loaded on first use (it is only a fallback)."""
        global _cnn
        with _lock:
            if _cnn is None:
                _cnn = dlib.cnn_face_detection_model_v1(
                    face_recognition_models.cnn_face_detector_model_location()
                )
            return _cnn


_models: FaceModels | None = None


def load_face_models() -> FaceModels:
    """Load the detector, the 5-point landmark model and the ResNet embedder (once per process)."""
    global _models
    with _lock:
        if _models is None:
            _models = FaceModels(
                hog=dlib.get_frontal_face_detector(),
                shape5=dlib.shape_predictor(
                    face_recognition_models.pose_predictor_five_point_model_location()
                ),
                resnet=dlib.face_recognition_model_v1(
                    face_recognition_models.face_recognition_model_location()
                ),
                dlib_version=str(dlib.__version__),
                models_version=metadata.version("face_recognition_models"),
            )
        return _models
