"""dlib as the set-up builds it: its face networks on BLAS."""

from __future__ import annotations

import dlib


def test_dlib_is_built_against_blas() -> None:
    """`make setup` builds dlib from source against OpenBLAS; the prebuilt wheel has none."""
    assert dlib.DLIB_USE_BLAS, (
        "dlib was built without BLAS (the prebuilt dlib-bin wheel, or no libopenblas-dev when it "
        "was built): each face embedding takes about 6x as long. Run deploy/dlib-build-deps.sh, "
        "then `.venv/bin/pip install --force-reinstall --no-cache-dir --no-binary dlib dlib`"
    )
