"""Property tests of the image decoder: for any bytes, and for real encodings cut, overwritten
or spliced anywhere, ``decode_image`` returns an upright 8-bit RGB picture within the limits or
raises an ``InputError`` naming the field; nothing else escapes (bounded here, longer under
``make fuzz``)."""

from __future__ import annotations

import functools
import io

import numpy as np
import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.errors import InputError
from tests.capture.corpus import FACE_SEED
from tests.conftest import shared_path
from tests.damage import damaged

pytestmark = pytest.mark.property

LIMITS = CaptureLimits()
FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "GIF", "BMP", "PPM")


@functools.cache
def encodings() -> dict[str, bytes]:
    """A 64×64 crop of a real face photo in every format the decoder reads."""
    pillow_heif.register_heif_opener()
    with Image.open(shared_path(*FACE_SEED)) as img:
        face = img.convert("RGB").crop((93, 93, 157, 157))
    out = {}
    for fmt in FORMATS:
        buffer = io.BytesIO()
        face.save(buffer, fmt, exif=_exif(6)) if fmt == "JPEG" else face.save(buffer, fmt)
        out[fmt] = buffer.getvalue()
    return out


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@st.composite
def damaged_image(draw: st.DrawFn) -> bytes:
    """A real encoding of a face photo, then up to three edits (see ``tests/damage.py``)."""
    return draw(damaged(encodings()[draw(st.sampled_from(FORMATS))]))


def _check(data: bytes) -> None:
    try:
        decoded = decode_image(data, LIMITS, field="probe")
    except InputError as exc:
        assert exc.field == "probe" and str(exc).startswith("probe: expected ")
        return
    h, w, channels = decoded.pixels.shape
    assert channels == 3 and decoded.pixels.dtype == np.uint8
    assert LIMITS.min_dimension <= min(h, w) and max(h, w) <= LIMITS.max_dimension
    assert 1 <= decoded.exif_orientation <= 8


# Pillow warns (and carries on) about some broken metadata; the suite makes warnings errors.
WARNINGS = pytest.mark.filterwarnings(
    "ignore:Tag data larger than file:UserWarning",
    "ignore:Possibly corrupt EXIF:UserWarning",
    "ignore:Corrupt EXIF data:UserWarning",
    "ignore:Metadata Warning:UserWarning",
)


@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_raise_an_input_error(data: bytes) -> None:
    """Arbitrary bytes never escape as anything but an InputError naming the field."""
    _check(data)


@WARNINGS
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(damaged_image())
def test_damaged_real_images_decode_or_raise_an_input_error(data: bytes) -> None:
    """A real JPEG/PNG/WebP/TIFF/HEIC/GIF/BMP/PPM cut, overwritten or spliced anywhere
    decodes to a picture within the limits or raises an InputError naming the field."""
    _check(data)
