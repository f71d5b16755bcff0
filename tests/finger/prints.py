"""Print images for finger tests: DB4_B prints as another sensor would give them, arrays as PNG,
phone photos turned."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from mobileid.eval.finger_sensors import imitate_bytes
from tests.conftest import shared_path


def db4_imitation(name: str, sensor: str) -> bytes:
    """DB4_B's print ``name`` (e.g. "109_4.tif") as ``sensor`` would give it."""
    data = shared_path("fingerprints", "FVC2002", "DB4_B", name).read_bytes()
    return imitate_bytes(data, sensor)


def faded_to_white(name: str) -> bytes:
    """DB4_B's print ``name`` with its ridges thinned and broken in patches that fade to
    white on its grey plate (the dry imitation before it faded to the plate's own grey):
    brighter than its plate, it is read inverted, and LEADER finds few minutiae on it."""
    from scipy import ndimage  # type: ignore[import-untyped]

    from mobileid.eval.finger_sensors import _patches, _rng

    data = shared_path("fingerprints", "FVC2002", "DB4_B", name).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.uint8)
    g = pixels.astype(np.float32)
    thin = ndimage.grey_dilation(g, size=(3, 3))
    out = thin + _patches(g.shape, _rng(pixels), 0.3) * (255.0 - thin) * 0.85
    return png_of(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def png_of(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def turned_photo(path: Path, degrees: float) -> npt.NDArray[np.uint8]:
    """A phone photo (a quarter of its size) turned and cropped to the largest rectangle of its
    shape inside the turned frame: no corner of the new frame is anything but the photo."""
    image = Image.open(path).convert("RGB")
    image = image.resize((image.width // 4, image.height // 4))
    w, h = image.size
    t = math.radians(degrees)
    c, s = abs(math.cos(t)), abs(math.sin(t))
    k = min(w / (w * c + h * s), h / (w * s + h * c))
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
    left, top = round(w * (1 - k) / 2), round(h * (1 - k) / 2)
    return np.asarray(turned.crop((left, top, w - left, h - top)))
