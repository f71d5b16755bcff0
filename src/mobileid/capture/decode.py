"""Decode uploaded image bytes into an upright 8-bit RGB array, refusing hostile input early.

Stages: check the byte count; read the header only, the content (never the file name) picking
the format; check dimensions and pixel count against :class:`~mobileid.config.CaptureLimits`
before any pixel is decoded; refuse animations; decode; apply the EXIF orientation; normalise
the colour to H×W×3 ``uint8`` RGB. Every failure is an input error of :mod:`mobileid.errors`.

Formats are opened through Pillow's plugin registry, not ``Image.open``: that runs Pillow's
decompression-bomb check from a process-wide threshold (``Image.MAX_IMAGE_PIXELS``) and warns or
raises before our limits can answer. Turning it off changes global state, and catching the
warning needs ``warnings.catch_warnings``, which is not thread-safe. The plugin factories read
the same header without either, so ``CaptureLimits`` alone decides, saying which limit and by
how much. The few plugins that run Pillow's check inside (GIF frames, MPO, TIFF tiles) reach it
only far over our default ``max_pixels``; a bomb error from them becomes ``ImageTooLarge``.

Truncated data is refused because ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` keeps its default,
``False``; nothing in mobileid sets it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageOps

from mobileid.capture.files import read_regular
from mobileid.capture.jpeg import fast_jpeg
from mobileid.config import CaptureLimits
from mobileid.errors import (
    AnimatedImage,
    CorruptImage,
    ImageTooLarge,
    ImageTooSmall,
    InputError,
    InvalidArgument,
    UnsupportedImage,
)
from mobileid.types import DecodedImage, RGBArray

__all__ = ["decode_image", "load_image_file"]

# Pillow format ids we read, tried in this order against the first bytes. "JPEG" also yields
# "MPO" (a JPEG with extra pictures); "PPM" covers PBM/PGM/PPM.
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "BMP", "TIFF", "PPM", "GIF")
_EXPECTED = "a JPEG, PNG, WebP, HEIC/HEIF, BMP, TIFF, PGM/PPM or single-frame GIF image"

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

# Mid grey, not white or black: a face cut out onto transparency (ID-photo and sticker exports)
# would otherwise get a maximal-contrast step at its silhouette, which the face detector and the
# sharpness/contrast quality gates read as real structure. 128 halves the worst step and sits
# near the mean grey level of ordinary photos, so brightness statistics move least.
_ALPHA_BACKGROUND = (128, 128, 128, 255)

_NOT_IMAGES = (
    (b"%PDF", "a PDF document"),
    (b"%!PS", "a PostScript document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
)

_Accept = Callable[[bytes], bool | str] | None


def decode_image(data: bytes, limits: CaptureLimits, *, field: str = "image") -> DecodedImage:
    """Decode encoded image ``data`` into an upright RGB :class:`DecodedImage`.

    ``field`` names the input in error messages (``"image"``, ``"probe"``...). Raises
    ``UnsupportedImage``, ``CorruptImage``, ``ImageTooLarge``, ``ImageTooSmall`` or
    ``AnimatedImage``; all are ``ValueError``.
    """
    _check_bytes(data, limits, field)
    img = _open_header(data, field)
    fmt, source_mode = img.format or "unknown", img.mode
    _check_dimensions(img.width, img.height, limits, field)
    _check_still(img, fmt, field)
    fast = fast_jpeg(data, img) if fmt == "JPEG" else None
    if fast is not None:
        pixels, orientation = fast
    else:
        orientation = _load_upright(img, fmt, field)
        pixels = _to_rgb_checked(img, fmt, field)
    return DecodedImage(
        pixels=pixels,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        source_mode=source_mode,
        exif_orientation=orientation,
    )


def load_image_file(
    path: str | os.PathLike[str], limits: CaptureLimits, *, field: str = "image"
) -> DecodedImage:
    """Read and decode the image file at ``path``; its size is checked before it is read.

    A missing or unreadable path raises ``InvalidArgument`` naming the path; otherwise as
    :func:`decode_image`. The file's name and extension play no part in the format.
    """
    return decode_image(read_regular(path, limits.max_file_bytes, field=field), limits, field=field)


def _check_bytes(data: bytes, limits: CaptureLimits, field: str) -> None:
    if isinstance(data, str):
        raise InvalidArgument(
            f"{field}: expected image bytes, got a str; read the file in binary mode",
            field=field,
        )
    if not data:
        raise UnsupportedImage(f"{field}: expected image bytes, got an empty file", field=field)
    _check_byte_count(len(data), limits, field)


def _check_byte_count(size: int, limits: CaptureLimits, field: str) -> None:
    if size > limits.max_file_bytes:
        raise ImageTooLarge(
            f"{field}: expected at most {limits.max_file_bytes:,} bytes, got {size:,} bytes",
            field=field,
        )


@functools.cache
def _register_plugins() -> None:
    """Load Pillow's plugins and pillow_heif's HEIF opener once, on first use."""
    import pillow_heif

    Image.init()
    pillow_heif.register_heif_opener()


def _accepts(accept: _Accept, prefix: bytes) -> bool:
    if accept is None:
        return True
    try:
        # A str answer is Pillow's "nearly, but not quite this format" note.
        return accept(prefix) is True
    except Exception:  # a plugin's magic check choking on a short prefix means "not mine"
        return False


def _open_header(data: bytes, field: str) -> Image.Image:
    """Identify the format from the content and read the header only, no pixels."""
    _register_plugins()
    prefix = data[:16]
    for fmt in _FORMATS:
        factory, accept = Image.OPEN[fmt]
        if not _accepts(accept, prefix):
            continue
        try:
            return factory(io.BytesIO(data), "")
        except Exception as exc:  # Pillow signals a bad header with many exception types
            raise _pillow_failure(exc, fmt, field) from exc
    raise UnsupportedImage(f"{field}: expected {_EXPECTED}, got {_describe(data)}", field=field)


def _describe(data: bytes) -> str:
    """Say in words what non-image bytes look like, for the error message."""
    head = data[:1024]
    for magic, what in _NOT_IMAGES:
        if head.startswith(magic):
            return what
    for fmt, (_, accept) in list(Image.OPEN.items()):
        if accept is not None and fmt not in _FORMATS and _accepts(accept, head[:16]):
            return f"{fmt} data, a format not accepted here"
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace")
        return f"an ISO media file of brand {brand!r} (a video or a non-HEIC image)"
    if _looks_like_text(head):
        lowered = head.lstrip().lower()
        if lowered.startswith((b"<!doctype html", b"<html")):
            return "an HTML page"
        return "an SVG drawing" if b"<svg" in lowered else "text"
    return "unrecognised bytes"


def _looks_like_text(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    readable = sum(ch != "\ufffd" and (ch.isprintable() or ch in "\t\n\r\f") for ch in text)
    return readable >= 0.95 * len(text)


def _check_dimensions(width: int, height: int, limits: CaptureLimits, field: str) -> None:
    got = f"{width}x{height}"
    if max(width, height) > limits.max_dimension:
        raise ImageTooLarge(
            f"{field}: expected at most {limits.max_dimension:,} pixels on the longest side, "
            f"got {got}",
            field=field,
        )
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"{field}: expected at most {limits.max_pixels:,} pixels, "
            f"got {got} = {width * height:,} pixels",
            field=field,
        )
    if min(width, height) < limits.min_dimension:
        raise ImageTooSmall(
            f"{field}: expected at least {limits.min_dimension} pixels on each side, got {got}",
            field=field,
        )


def _check_still(img: Image.Image, fmt: str, field: str) -> None:
    # An MPO is a JPEG whose extra pictures are a gain map, preview or depth map (iPhone and
    # Samsung cameras write them); its first picture is the photo, so it is a still.
    if fmt == "MPO":
        return
    try:
        frames = int(getattr(img, "n_frames", 1))  # from the header, or frame headers only
    except Exception as exc:
        raise _pillow_failure(exc, fmt, field) from exc
    if frames > 1:
        raise AnimatedImage(
            f"{field}: expected a single still image, got {fmt} data with {frames} frames "
            "(an animation or several pages)",
            field=field,
        )


def _load_upright(img: Image.Image, fmt: str, field: str) -> int:
    """Decode the pixels, turn them upright in place; return the original EXIF orientation."""
    try:
        img.load()
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        # pillow_heif has libheif rotate the pixels and resets the EXIF tag to 1, keeping the
        # tag it found here; exif_transpose below is then a no-op.
        orientation = img.info.get("original_orientation") or orientation
        ImageOps.exif_transpose(img, in_place=True)
    except Exception as exc:
        raise _pillow_failure(exc, fmt, field) from exc
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def _pillow_failure(exc: Exception, fmt: str, field: str) -> InputError:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return ImageTooLarge(
            f"{field}: expected an image within the pixel limits, "
            f"got {fmt} data Pillow refuses as a possible decompression bomb ({exc})",
            field=field,
        )
    return CorruptImage(
        f"{field}: expected complete {fmt} data, got broken or truncated data ({_reason(exc)})",
        field=field,
    )


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _to_rgb_checked(img: Image.Image, fmt: str, field: str) -> RGBArray:
    try:
        return _to_rgb(img)
    except (ValueError, OSError) as exc:  # a mode Pillow cannot convert, e.g. TIFF "LAB"
        raise UnsupportedImage(
            f"{field}: expected {fmt} data in a colour mode convertible to RGB, "
            f"got mode {img.mode!r} ({_reason(exc)})",
            field=field,
        ) from exc


def _to_rgb(img: Image.Image) -> RGBArray:
    if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        grey = _grey_to_8bit(img)
        return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _ALPHA_BACKGROUND)
        img = Image.alpha_composite(background, rgba).convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, P, CMYK, YCbCr...: Pillow's conversions are exact here
    return np.array(img, dtype=np.uint8)  # a fresh, writeable, C-contiguous copy


def _grey_to_8bit(img: Image.Image) -> npt.NDArray[np.uint8]:
    """Scale wide greyscale to 0..255 without clipping (Pillow's convert("L") clips at 255).

    16-bit samples map by v / 257, rounded: the exact inverse of the usual 8→16-bit
    expansion (v * 257), so 65535 → 255 and 32768 → 128. Pillow hands 16-bit PGM over as 32-bit
    "I"; "I" data inside 0..65535 is therefore read as 16-bit too. Other "I" and all "F" data has
    no agreed white level, so its actual min..max is stretched over 0..255.
    """
    values = np.asarray(img)
    if img.mode == "F":
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    elif values.min() >= 0 and values.max() <= 65535:
        return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    low = float(values.min())
    span = float(values.max()) - low
    scaled = (values.astype(np.float32) - low) * np.float32(255.0 / (span or 1.0))
    return np.rint(scaled).astype(np.uint8)
