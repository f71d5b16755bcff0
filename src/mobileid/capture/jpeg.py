"""A fast path for baseline JPEG photos (most phone captures), through libjpeg-turbo.

Pillow decodes into its own 4-byte pixel layout and then copies into a 3-byte array: 210 ms
for a 12 MP photo on our 2-core machines, against 50 ms for ``simplejpeg`` decoding straight
into the array (the pixels are identical). Anything unusual (CMYK, a missing end marker that
may mean truncation, an error) returns None and takes Pillow's path, which raises the precise
error.
"""

from __future__ import annotations

import numpy as np
import simplejpeg
from PIL import ExifTags, Image

from mobileid.types import RGBArray


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` (1-8) upright, as viewers show them."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return pixels if op is None else op(pixels)


def fast_jpeg(data: bytes, header: Image.Image) -> tuple[RGBArray, int] | None:
    """(upright RGB pixels, EXIF orientation), or None to use Pillow instead."""
    if header.mode not in ("RGB", "L") or not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return None
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB")
        orientation = header.getexif().get(ExifTags.Base.Orientation, 1)
    except (ValueError, OSError, SyntaxError):
        return None
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return np.ascontiguousarray(upright(pixels, orientation)), orientation
