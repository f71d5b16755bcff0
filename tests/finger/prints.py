"""Print images for finger tests: DB4_B prints as another sensor would give them, arrays as PNG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mobileid.eval.finger_sensors import imitate_bytes
from tests.conftest import shared_path


def db4_imitation(name: str, sensor: str) -> bytes:
    """DB4_B's print ``name`` (e.g. "109_4.tif") as ``sensor`` would give it."""
    data = shared_path("fingerprints", "FVC2002", "DB4_B", name).read_bytes()
    return imitate_bytes(data, sensor)


def png_of(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
