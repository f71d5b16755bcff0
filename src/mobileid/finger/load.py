"""Stage 1: decode a contact print and bring it to 500 ppi.

Reads what :func:`mobileid.capture.decode.decode_image` reads (its limits and hostile-input
checks apply) plus WSQ, the FBI's wavelet format for 500 ppi prints: the ``wsq`` package's
Pillow plugin reads the header here, and its C decoder runs in a child process
(:mod:`mobileid.finger.wsq_child`), because damaged files crash it. The resolution comes from
the caller, else from the file (TIFF/PNG/JPEG/BMP resolution tags, WSQ's NISTCOM ``PPI``
field); many files state a placeholder (1, 72 or 96 ppi), which is ignored and 500 ppi
assumed, as the returned image records.
"""

from __future__ import annotations

import hashlib
import io
import math
import re

import numpy as np
from PIL import Image

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.errors import ImageTooLarge, InvalidArgument
from mobileid.finger.errors import BadResolution, CorruptFingerprintImage, FingerprintTooSmall
from mobileid.finger.params import LoadParams
from mobileid.finger.types import FingerImage, GreyArray
from mobileid.finger.wsq_child import decode_wsq_pixels

__all__ = ["load_fingerprint"]

_WSQ_MAGIC = b"\xff\xa0"
_WSQ_PPI = re.compile(rb"PPI[ \t]+(-?\d+)")


def load_fingerprint(
    data: bytes,
    *,
    ppi: float | None = None,
    limits: CaptureLimits | None = None,
    params: LoadParams | None = None,
    field: str = "image",
) -> FingerImage:
    """Decode ``data`` (encoded image bytes) to 8-bit grey at 500 ppi.

    ``ppi`` is the capture resolution when the caller knows it (it wins over the file). Raises
    ``BadResolution`` for a ppi outside ``[min_ppi, max_ppi]``, ``CorruptFingerprintImage`` for
    broken WSQ, ``FingerprintTooSmall`` for a crop under ``min_side_px`` at 500 ppi, and the
    errors of ``decode_image`` for other unusable files.
    """
    p = params or LoadParams()
    lim = limits or CaptureLimits()
    if ppi is not None:
        _check_ppi(float(ppi), p, "ppi")
    if isinstance(data, bytes | bytearray) and bytes(data[:2]) == _WSQ_MAGIC:
        grey, file_ppi, fmt = _decode_wsq(bytes(data), lim, field), _wsq_ppi(data), "WSQ"
    else:
        decoded = decode_image(bytes(data), lim, field=field)
        grey = _luma(decoded.pixels)
        file_ppi, fmt = _header_ppi(bytes(data)), decoded.format
    if ppi is not None:
        source_ppi, how = float(ppi), "caller"
    elif file_ppi is not None and file_ppi >= p.placeholder_ppi_below:
        _check_ppi(file_ppi, p, f"{field} resolution tag")
        source_ppi, how = file_ppi, "file"
    else:
        source_ppi, how = p.working_ppi, "assumed"
    pixels = _rescale(grey, source_ppi / p.working_ppi)
    _check_size(pixels, p, field)
    return FingerImage(
        pixels=pixels,
        ppi=p.working_ppi,
        source_ppi=source_ppi,
        ppi_source=how,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
    )


def _check_ppi(value: float, p: LoadParams, field: str) -> None:
    if not (math.isfinite(value) and p.min_ppi <= value <= p.max_ppi):
        raise BadResolution(
            f"{field}: expected a fingerprint resolution of {p.min_ppi:g} to {p.max_ppi:g} ppi, "
            f"got {value:g}",
            field="ppi",
        )


def _decode_wsq(data: bytes, lim: CaptureLimits, field: str) -> GreyArray:
    import wsq  # type: ignore[import-untyped]  # noqa: F401  (registers the WSQ plugin)

    factory, _ = Image.OPEN["WSQ"]
    try:
        img = factory(io.BytesIO(data), "")
    except Exception as exc:  # the plugin signals a bad header with IOError, IndexError...
        raise CorruptFingerprintImage(
            f"{field}: expected WSQ data with a frame header, got broken data ({exc or exc!r})",
            field=field,
        ) from exc
    w, h = img.size
    if w * h > lim.max_pixels or max(w, h) > lim.max_dimension:
        raise ImageTooLarge(
            f"{field}: expected at most {lim.max_pixels:,} pixels and {lim.max_dimension:,} per "
            f"side, got WSQ data of {w}x{h}",
            field=field,
        )
    if w <= 0 or h <= 0:
        raise CorruptFingerprintImage(
            f"{field}: expected a WSQ frame of positive size, got {w}x{h}", field=field
        )
    pixels = decode_wsq_pixels(data, w, h, field)
    return np.frombuffer(pixels, dtype=np.uint8).reshape(h, w).copy()


def _wsq_ppi(data: bytes) -> float | None:
    found = _WSQ_PPI.search(data[:4096])
    if found is None:
        return None
    value = int(found.group(1))
    return float(value) if value > 0 else None  # NISTCOM writes -1 for "unknown"


def _header_ppi(data: bytes) -> float | None:
    """The resolution a decodable file states, in ppi (header only; already size-checked)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            dpi = img.info.get("dpi")
            if dpi is None and img.info.get("jfif_unit") == 1:
                dpi = img.info.get("jfif_density")
    except Exception:  # decode_image already accepted these bytes; no tag means none stated
        return None
    if not isinstance(dpi, tuple) or not dpi:
        return None
    try:
        value = float(dpi[0])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _luma(rgb: np.ndarray) -> GreyArray:
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(rgb.astype(np.float32) @ weights), 0, 255).astype(np.uint8)


def _rescale(grey: GreyArray, factor: float) -> GreyArray:
    """Resize by ``1/factor`` (``factor`` = source ppi / 500); bicubic with antialiasing."""
    if abs(factor - 1.0) < 0.01:
        return grey
    h, w = grey.shape
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    img = Image.fromarray(grey).resize(size, Image.Resampling.BICUBIC, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8).copy()


def _check_size(pixels: GreyArray, p: LoadParams, field: str) -> None:
    h, w = pixels.shape
    if min(h, w) < p.min_side_px:
        raise FingerprintTooSmall(
            f"{field}: expected at least {p.min_side_px} px on each side at 500 ppi "
            f"(about {p.min_side_px / 500 * 25.4:.0f} mm), got {w}x{h}",
            field=field,
        )
    if max(h, w) > p.max_side_px:
        raise InvalidArgument(
            f"{field}: expected at most {p.max_side_px} px per side at 500 ppi (a fingertip or "
            f"a slap), got {w}x{h}; is the ppi right?",
            field="ppi",
        )
