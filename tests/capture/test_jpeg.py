"""The libjpeg-turbo fast path gives exactly Pillow's pixels, or steps aside."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from mobileid.capture.jpeg import fast_jpeg, upright


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation):
    """Each EXIF orientation is turned upright exactly as Pillow's exif_transpose does."""
    a = (np.arange(5 * 7 * 3) % 251).astype(np.uint8).reshape(5, 7, 3)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    assert np.array_equal(np.asarray(ImageOps.exif_transpose(im)), upright(a, orientation))


def test_fast_path_pixels_equal_pillows(lfw_dev):
    """A real photo, EXIF-rotated, decodes to Pillow's upright pixels, bit for bit."""
    src = Image.open(lfw_dev / "Colin_Powell" / "Colin_Powell_0001.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=90, exif=exif)
    data = buf.getvalue()
    got = fast_jpeg(data, Image.open(io.BytesIO(data)))
    assert got is not None
    pixels, orientation = got
    ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert orientation == 6 and np.array_equal(pixels, ref)


def test_truncated_or_cmyk_jpeg_steps_aside(lfw_dev):
    """Data without the end marker, or CMYK, is left to Pillow (which reports it precisely)."""
    data = (lfw_dev / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    assert fast_jpeg(data[: len(data) // 2], Image.open(io.BytesIO(data))) is None
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("CMYK").save(buf, "JPEG")
    cmyk = buf.getvalue()
    assert fast_jpeg(cmyk, Image.open(io.BytesIO(cmyk))) is None
