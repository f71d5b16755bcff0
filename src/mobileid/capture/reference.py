"""A reference photo from a decoded capture: small enough to keep, large enough to compare.

Enrolment keeps one per face capture for the person reviewing candidates. The long side is
at most 480 px (a phone screen shows two side by side); JPEG at quality 85 keeps a face's
detail in 7-37 kB (measured: lfw-dev's 250 px photos 7-10 kB, 1137 px and 2204 px sample
photos 37 and 17 kB at 480 px). Metadata (EXIF, GPS) is not carried over: the pixels are
re-encoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from mobileid.types import DecodedImage

MAX_SIDE = 480
JPEG_QUALITY = 85


@dataclass(frozen=True)
class ReferenceImage:
    """A JPEG of one capture, bound to it by the capture's ``image_sha256``."""

    image_sha256: str
    jpeg: bytes
    width: int
    height: int


def reference_image(image: DecodedImage, max_side: int = MAX_SIDE) -> ReferenceImage:
    """The capture, upright, downscaled (never enlarged) to ``max_side`` and JPEG-encoded."""
    picture = Image.fromarray(image.pixels, mode="RGB")
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return ReferenceImage(image.sha256, out.getvalue(), picture.width, picture.height)
