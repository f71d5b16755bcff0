"""Loading dlib's face models, explicitly and once.

The weights come from the ``face_recognition_models`` package; nothing is downloaded. We use
the 5-point landmark model (its licence allows any use), never the 68-point one (trained on
iBUG 300-W, which forbids commercial use).
"""

from __future__ import annotations

import site
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import dlib
import face_recognition_models
from threadpoolctl import ThreadpoolController

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


def dlib_blas_libraries() -> list[str]:
    """Paths of the loaded BLAS libraries that come from outside Python's package folders: the
    system OpenBLAS that dlib was built against (numpy and FAISS bring their own copies)."""
    packages = (*site.getsitepackages(), site.getusersitepackages())
    return [
        lib.filepath
        for lib in ThreadpoolController().lib_controllers
        if lib.user_api == "blas" and not str(lib.filepath).startswith(packages)
    ]


def one_dlib_blas_thread() -> None:
    """Put dlib's BLAS on one thread for the rest of the process.

    Measured on 2 cores: the ResNet embedding of a 150 px chip takes 33 ms on one thread
    and 30 ms on two, but the two OpenBLAS threads keep spinning after each pass and slowed
    the FAISS search that follows from 1.3 to 23 ms. A busy service uses both cores through
    its worker processes, not through BLAS threads.
    """
    wanted = set(dlib_blas_libraries())
    for lib in ThreadpoolController().lib_controllers:
        if lib.filepath in wanted:
            lib.set_num_threads(1)


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
            one_dlib_blas_thread()
        return _models
