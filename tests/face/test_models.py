"""dlib as the set-up builds it: its face networks on BLAS, and that BLAS on one thread once
the models are loaded, with the same embeddings as on two."""

from __future__ import annotations

import dlib
import faiss  # noqa: F401 - loads FAISS's own OpenBLAS, which is not dlib's
import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from mobileid.capture.decode import load_image_file
from mobileid.config import CaptureLimits
from mobileid.face.models import dlib_blas_libraries
from mobileid.face.pipeline import FacePipeline
from mobileid.finger.threads import numpy_blas_libraries


def _threads() -> dict[str, int]:
    return {
        i["filepath"]: int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"
    }


def test_dlib_is_built_against_blas() -> None:
    """`make setup` builds dlib from source against OpenBLAS; the prebuilt wheel has none."""
    assert dlib.DLIB_USE_BLAS, (
        "dlib was built without BLAS (the prebuilt dlib-bin wheel, or no libopenblas-dev when it "
        "was built): each face embedding takes about 6x as long. Run deploy/dlib-build-deps.sh, "
        "then `.venv/bin/pip install --force-reinstall --no-cache-dir --no-binary dlib dlib`"
    )


def test_loaded_models_put_dlibs_blas_on_one_thread_with_the_same_embeddings(
    face_pipeline: FacePipeline, lfw_dev
) -> None:
    """After loading, dlib's BLAS (the system OpenBLAS, not numpy's or FAISS's copy) runs on
    one thread, and a real face embeds to the same vector as on two threads."""
    ours = dlib_blas_libraries()
    assert ours, "no BLAS library loaded for dlib"
    assert not set(ours) & set(numpy_blas_libraries())
    threads = _threads()
    assert set(threads) - set(ours), "FAISS's BLAS should be loaded beside dlib's"
    assert all(threads[p] == 1 for p in ours)

    image = load_image_file(lfw_dev / "Colin_Powell" / "Colin_Powell_0001.jpg", CaptureLimits())
    one = face_pipeline.process(image).vector
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        assert all(_threads()[p] == 2 for p in ours)
        two = face_pipeline.process(image).vector
    assert all(_threads()[p] == 1 for p in ours)
    assert float(np.max(np.abs(one - two))) < 1e-5
    assert float(one @ two) > 0.99999
