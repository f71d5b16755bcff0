"""Stage 2: is this a fingerprint, and how much of it is usable?

Ridges are a periodic pattern with a period of 6-14 px at 500 ppi. The image is cut into
blocks; a block counts as ridge when it has contrast, most of its AC spectral energy lies in
that frequency band, and its gradients agree on one orientation (coherence). A face or a wall
has few such blocks; a blank or saturated image has none. The refusal names the reason.

Sensor independence. Sensors differ in grey levels, contrast, noise and capture area; the
ridge structure does not. So the image is first smoothed (``pre_blur``: sensor noise lies
above the ridge band), a block "has contrast" relative to the image's own contrast
(``min_std_share`` of its 90th-percentile block spread, never under ``min_std``), and the
decision counts ridge blocks among the blocks with contrast (``foreground_fraction``) and
their area, not their share of the whole frame, which a small print on a large plate, or a
large plate around a small sensor's print, makes small. Measured (``eval.finger_sensors``
imitations of FVC2002 DB1_B and DB4_B; before: the absolute floors of 6 grey levels, 10% of
the image and 21% of its non-blank part): refusals on DB4_B-capacitive 17 of 80 -> 0, DB4_B
dry 29 -> 0, DB1_B noisy 12 -> 0; faces of face_recognition_samples and LFW stay refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.errors import FingerprintTooSmall, NotAFingerprint
from mobileid.finger.params import LoadParams, RidgeParams
from mobileid.finger.types import FingerImage, GreyArray, RidgeQuality

BoolGrid = npt.NDArray[np.bool_]
FloatGrid = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True, eq=False)
class BlockRidges:
    """Block-wise ridge measurements of one image (rows × cols of ``RidgeParams.block``)."""

    ridge: BoolGrid  # contrast, most AC energy in the ridge band, and one orientation
    filled: BoolGrid  # contrast relative to the image's own
    coherence: FloatGrid
    frequency: FloatGrid  # cycles per pixel at the spectral peak


__all__ = [
    "BlockRidges",
    "assess_ridges",
    "block_spread",
    "check_fingerprint",
    "contrast_blocks",
    "dark_ridges",
    "ridge_block_map",
    "sensor_noise",
]


def block_spread(pixels: npt.NDArray[Any], block: int) -> FloatGrid:
    """Grey-level spread (standard deviation) of each ``block`` × ``block`` tile, rows × cols;
    the right and bottom remainders are left out. Computed in ``pixels``' own precision."""
    rows, cols = pixels.shape[0] // block, pixels.shape[1] // block
    tiles = pixels[: rows * block, : cols * block].reshape(rows, block, cols, block)
    return np.asarray(tiles.std(axis=(1, 3)))


# 3×3 second difference: white noise of spread s leaves a residue of spread 6 s (the kernel's
# norm), ridges 6-14 px apart hardly any (their curvature across 3 px is small).
_SECOND_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def sensor_noise(pixels: npt.NDArray[Any], block: int = 16) -> float:
    """Spread of the sensor's pixel noise, grey levels: the median over ``block`` tiles of the
    second difference's spread, over 6. The median is the plate's and the print's alike, so
    it holds whether the print fills the frame or not (FVC2002 DB1_B: 2.3, DB4_B: 1.7; their
    noisy imitations, noise of spread 14: 11.0 and 14.1, the white plate clipping some)."""
    if pixels.shape[0] < block or pixels.shape[1] < block:
        return 0.0
    residue = ndimage.convolve(pixels.astype(np.float32), _SECOND_DIFFERENCE, mode="reflect")
    return float(np.median(block_spread(residue, block))) / 6.0


def contrast_blocks(
    pixels: npt.NDArray[Any],
    block: int,
    min_std: float,
    share: float = 0.0,
    *,
    net_of_noise: bool = False,
) -> BoolGrid:
    """The tiles of :func:`block_spread` that show something, rows × cols: a spread of at
    least ``min_std`` grey levels and ``share`` of the image's 90th-percentile tile spread
    (contrast relative to the image's own). The blocks without are the empty plate. One mask
    for the polarity check (:func:`dark_ridges`), LEADER's crop and the print's area
    (``finger.extract``) and the plate's grey of the sensor imitations (``eval.finger_sensors``).

    ``net_of_noise``: the spread less the sensor's noise (:func:`sensor_noise`, in quadrature),
    so that noise does not give every block of the frame contrast (FVC2002 DB4_B, 9 prints:
    median area 158 mm² as captured, 285 with noise of spread 14, 164 net of it) while merged
    or broken ridges still count as print (wet 158, dry 153, capacitive 112 of 121).
    """
    std = block_spread(pixels, block)
    if std.size == 0:
        return np.zeros(std.shape, dtype=bool)
    if net_of_noise:
        noise = sensor_noise(pixels, block)
        std = np.sqrt(np.maximum(std * std - noise * noise, 0.0))
    return np.asarray(std >= max(min_std, share * float(np.percentile(std, 90))))


def ridge_block_map(pixels: GreyArray, params: RidgeParams | None = None) -> BlockRidges:
    """Per ``block``: whether it is a ridge block, whether it has contrast, and its
    coherence and dominant frequency (the measurements behind :func:`assess_ridges`)."""
    p = params or RidgeParams()
    b = p.block
    h, w = pixels.shape
    rows, cols = h // b, w // b
    img = pixels[: rows * b, : cols * b].astype(np.float32)
    if p.pre_blur > 0 and rows and cols:
        img = ndimage.gaussian_filter(img, p.pre_blur)
    blocks = img.reshape(rows, b, cols, b).transpose(0, 2, 1, 3).reshape(-1, b, b)
    std = blocks.std(axis=(1, 2))
    floor = max(p.min_std, p.min_std_share * float(np.percentile(std, 90))) if std.size else 0.0
    centred = blocks - blocks.mean(axis=(1, 2), keepdims=True)
    window = np.outer(np.hanning(b), np.hanning(b)).astype(np.float32)
    power = np.abs(np.fft.fft2(centred * window)) ** 2
    f = np.fft.fftfreq(b)
    radius = np.hypot(f[:, None], f[None, :])
    band = (radius >= p.min_freq) & (radius <= p.max_freq)
    ac = power.sum(axis=(1, 2)) + 1e-9
    band_share = power[:, band].sum(axis=1) / ac
    peak = power.reshape(power.shape[0], -1).argmax(axis=1)
    grads = np.gradient(blocks, axis=(1, 2))
    gy, gx = grads[0], grads[1]
    gxx, gyy, gxy = (gx * gx).sum((1, 2)), (gy * gy).sum((1, 2)), (gx * gy).sum((1, 2))
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / (gxx + gyy + 1e-9)
    filled = std >= floor
    ridge = filled & (band_share >= p.min_band_energy) & (coherence >= p.min_coherence)
    return BlockRidges(
        ridge.reshape(rows, cols),
        filled.reshape(rows, cols),
        coherence.reshape(rows, cols),
        radius.ravel()[peak].reshape(rows, cols),
    )


def assess_ridges(pixels: GreyArray, params: RidgeParams | None = None) -> RidgeQuality:
    """Measure the ridge blocks of a 500 ppi grey image (no decision, see ``check_fingerprint``)."""
    m = ridge_block_map(pixels, params)
    ridge = m.ridge
    if ridge.size == 0:
        return RidgeQuality(0, 0, 0.0, 0.0, 0.0, 0.0)
    n, filled = int(ridge.sum()), int(m.filled.sum())
    return RidgeQuality(
        ridge_blocks=n,
        total_blocks=int(ridge.size),
        ridge_fraction=n / ridge.size,
        foreground_fraction=n / filled if filled else 0.0,
        mean_coherence=float(m.coherence[ridge].mean()) if n else 0.0,
        mean_frequency=float(m.frequency[ridge].mean()) if n else 0.0,
    )


def check_fingerprint(
    image: FingerImage,
    params: RidgeParams | None = None,
    load: LoadParams | None = None,
    *,
    field: str = "image",
) -> RidgeQuality:
    """Refuse blank, saturated and ridge-less images; return the ridge measurements otherwise."""
    p, lp = params or RidgeParams(), load or LoadParams()
    px = image.pixels
    spread = float(px.std())
    if spread < p.blank_std:
        raise NotAFingerprint(
            f"{field}: expected a fingerprint, got a blank image (grey-level spread {spread:.1f}, "
            f"a print has at least {p.blank_std:g})",
            reasons=("blank",),
            field=field,
        )
    # One extreme, not both: a binarised print (FVC2002 DB1_B 101_1 is one) is all 0 and 255.
    black, white = float(np.mean(px == 0)), float(np.mean(px == 255))
    if max(black, white) > p.saturated_share:
        which = "black" if black > white else "white"
        raise NotAFingerprint(
            f"{field}: expected a fingerprint, got a saturated image ({max(black, white):.0%} of "
            f"pixels pure {which}, at most {p.saturated_share:.0%} allowed)",
            reasons=("saturated",),
            field=field,
        )
    q = assess_ridges(px, p)
    if q.ridge_fraction < p.min_ridge_fraction or q.foreground_fraction < p.min_foreground_fraction:
        raise NotAFingerprint(
            f"{field}: expected a fingerprint ridge pattern over at least "
            f"{p.min_ridge_fraction:.0%} of the image and {p.min_foreground_fraction:.0%} of its "
            f"non-blank part, got {q.ridge_fraction:.0%} and {q.foreground_fraction:.0%} "
            f"({q.ridge_blocks} of {q.total_blocks} blocks); a photo of a face, an object or a "
            "wall, or a print too faint to use",
            reasons=("no_ridges",),
            field=field,
        )
    area = q.ridge_blocks * p.block * p.block
    if area < lp.min_ridge_area_px:
        raise FingerprintTooSmall(
            f"{field}: expected at least {lp.min_ridge_area_px} px² of ridges at 500 ppi, "
            f"got {area} px²",
            field=field,
        )
    return q


def dark_ridges(image: FingerImage, params: RidgeParams | None = None) -> FingerImage:
    """``image`` with dark ridges on a light ground, as LEADER was trained: a print whose
    plate (the blocks without contrast, at least ``min_plate_share`` of them) is darker than
    its print (inverted scans, some sensors) is inverted. A print filling its frame shows no
    plate and is left as it is."""
    p = params or RidgeParams()
    b, px = p.block, image.pixels
    rows, cols = px.shape[0] // b, px.shape[1] // b
    if rows == 0 or cols == 0:
        return image
    blocks = px[: rows * b, : cols * b].reshape(rows, b, cols, b).astype(np.float32)
    mean = blocks.mean(axis=(1, 3))
    plate = ~contrast_blocks(px.astype(np.float32), b, p.min_std, p.min_std_share)
    if plate.mean() < p.min_plate_share or plate.all():
        return image
    if float(mean[plate].mean()) >= float(mean[~plate].mean()):
        return image
    return replace(image, pixels=(255 - px).astype(np.uint8))
