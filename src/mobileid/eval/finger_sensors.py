"""Prints as other sensors would give them, made from the prints we have.

The development data holds one real sensor (FVC2002 DB1_B, optical) and one synthetic set; the
pipeline must also enrol prints from capacitive, thermal and small-area sensors, dry and wet
fingers. Each imitation below changes what such a sensor changes, deterministically (seeded by
the image), so ``mobileid eval fingers --sensor NAME`` measures failure to enrol and accuracy
on it with the FVC protocol. They are imitations: they say whether the gates and the
extractor depend on one sensor's grey levels, area or ridge contrast, not what a real sensor
of that kind would score.

=============  ==============================================================================
name           what changes
=============  ==============================================================================
faint          ridge contrast x0.3 on a light background (light touch, capacitive sensors)
dark           gain x0.45: background mid-grey, ridges near black (high-gain optical)
inverted       polarity: light ridges on a dark background (some sensors, negative scans)
noisy          Gaussian noise, sigma 14 grey levels
dry            ridges thinned and broken in patches, toward the plate's grey (dry skin)
wet            ridges thickened and merged, blurred (wet skin)
small          centre 200 x 200 px (10 x 10 mm: small-area sensors)
crop300        centre 300 x 300 px (15 x 15 mm), grey levels unchanged: a capture area alone
capacitive     the kept-back failures' kind: 300 x 300 crop around the print, contrast x0.35 on
               a grey background, slight blur and noise
=============  ==============================================================================
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument

__all__ = ["SENSORS", "centre_crop_origin", "imitate", "imitate_bytes"]

Grey = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


def _rng(pixels: Grey) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(pixels.tobytes()).digest()[:8]))


def _contrast(g: F32, gain: float, background: float) -> F32:
    """Shrink the distance of every pixel from white by ``gain``, then move white to
    ``background``: a fainter print on a greyer plate."""
    return background - gain * (255.0 - g) * background / 255.0


def _faint(g: F32, rng: np.random.Generator) -> F32:
    return _contrast(g, 0.3, 255.0)


def _dark(g: F32, rng: np.random.Generator) -> F32:
    return 0.45 * g + 8.0


def _inverted(g: F32, rng: np.random.Generator) -> F32:
    return 255.0 - g


def _noisy(g: F32, rng: np.random.Generator) -> F32:
    return g + rng.normal(0.0, 14.0, g.shape).astype(np.float32)


def _patches(shape: tuple[int, ...], rng: np.random.Generator, share: float) -> F32:
    """A smooth random field, 1 over about ``share`` of the image (blob size ~20 px)."""
    from scipy import ndimage  # type: ignore[import-untyped]  # lazily: the CLI lists SENSORS

    field = ndimage.gaussian_filter(rng.normal(0.0, 1.0, shape), 8.0)
    cut = np.quantile(field, 1.0 - share)
    return np.clip((field - cut) / (field.std() * 0.3 + 1e-9), 0.0, 1.0).astype(np.float32)


def _plate_level(g: F32, block: int = 16) -> float:
    """The grey level of the empty plate: the median of the blocks without contrast (as
    ``finger.quality.dark_ridges`` finds them). A print that fills its frame shows no plate:
    then the level of its valleys, which do not touch the plate either (99th percentile)."""
    from mobileid.finger.quality import contrast_blocks  # lazily: scipy, as below

    rows, cols = g.shape[0] // block, g.shape[1] // block
    blocks = g[: rows * block, : cols * block].reshape(rows, block, cols, block)
    plate = ~contrast_blocks(g, block, 2.0, 0.2)
    if plate.size == 0 or plate.mean() < 0.08:
        return float(np.percentile(g, 99))
    return float(np.median(blocks.transpose(0, 2, 1, 3)[plate]))


def _dry(g: F32, rng: np.random.Generator) -> F32:
    """Dry skin touches the plate poorly: the ridges' edges and patches of ridge lose
    contact and show what the sensor shows where nothing touches it, the empty plate's own
    grey (white on DB1_B, mid-grey on DB4_B), never brighter: a print brighter than its
    plate would read as inverted."""
    from scipy import ndimage

    plate = _plate_level(g)
    # dark ridges lose a pixel each side, to no brighter than the plate
    thin = np.minimum(ndimage.grey_dilation(g, size=(3, 3)), np.maximum(g, plate))
    gaps = _patches(g.shape, rng, 0.3)
    return thin + gaps * np.maximum(plate - thin, 0.0) * 0.85


def _wet(g: F32, rng: np.random.Generator) -> F32:
    from scipy import ndimage

    fat = ndimage.grey_erosion(g, size=(3, 3))  # dark ridges spread into the valleys
    return ndimage.gaussian_filter(fat, 1.2) * 0.9


def centre_crop_origin(g: F32, side: int) -> tuple[int, int]:
    """(top, left) of the ``side`` square around the centre of the print's dark mass, kept
    inside the image (0 where the image is smaller)."""
    from scipy import ndimage

    h, w = g.shape
    weight = np.clip(255.0 - ndimage.gaussian_filter(g, 8.0), 0.0, None)
    total = float(weight.sum()) or 1.0
    cy = float((weight.sum(axis=1) * np.arange(h)).sum() / total)
    cx = float((weight.sum(axis=0) * np.arange(w)).sum() / total)
    top = int(np.clip(round(cy - side / 2), 0, max(0, h - side)))
    left = int(np.clip(round(cx - side / 2), 0, max(0, w - side)))
    return top, left


def _centre_crop(g: F32, side: int) -> F32:
    """A ``side`` square around the centre of the print's dark mass (the whole image when
    smaller)."""
    top, left = centre_crop_origin(g, side)
    return g[top : top + side, left : left + side]


def _small(g: F32, rng: np.random.Generator) -> F32:
    return _centre_crop(g, 200)


def _crop300(g: F32, rng: np.random.Generator) -> F32:
    return _centre_crop(g, 300)


def _capacitive(g: F32, rng: np.random.Generator) -> F32:
    c = _contrast(_centre_crop(g, 300), 0.35, 215.0)
    from scipy import ndimage

    c = ndimage.gaussian_filter(c, 0.8)
    return c + rng.normal(0.0, 4.0, c.shape).astype(np.float32)


SENSORS: dict[str, Callable[[F32, np.random.Generator], F32]] = {
    "faint": _faint,
    "dark": _dark,
    "inverted": _inverted,
    "noisy": _noisy,
    "dry": _dry,
    "wet": _wet,
    "small": _small,
    "crop300": _crop300,
    "capacitive": _capacitive,
}


def imitate(pixels: Grey, sensor: str) -> Grey:
    """``pixels`` (a 500 ppi grey print) as the sensor named ``sensor`` would give it."""
    if sensor not in SENSORS:
        raise InvalidArgument(
            f"sensor: expected one of {', '.join(SENSORS)}, got {sensor!r}", field="sensor"
        )
    out = SENSORS[sensor](pixels.astype(np.float32), _rng(pixels))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def imitate_bytes(data: bytes, sensor: str) -> bytes:
    """An encoded print → the imitation as PNG bytes (lossless, no resolution tag: 500 ppi)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(imitate(pixels, sensor)).save(buf, format="PNG")
    return buf.getvalue()
