"""Prints judged and read relative to their own contrast (dry, wet, faint, other sensors).

Sensors and skin change a print's grey levels and contrast; LEADER learnt from clean optical
captures and the ridge check (:mod:`mobileid.finger.quality`) measures contrast against the
image's own 90th percentile, which a wet print's dark merged blobs or a grey plate drag away
from the ridges. Two uses of one local normalisation (:func:`normalise_print`): the local
mean (``sigma_background``) removed, sensor noise above the ridge band smoothed
(``sigma_noise``), and every pixel divided by the local spread, never less than a
``min_contrast_share`` of the print's own 90th-percentile spread, so a faint print is
stretched and a flat plate stays flat.

- :func:`check_print`: a print the ridge check refuses for want of ridges is checked again
  once normalised. Merged or faint ridges then pass, and the print goes on to extraction,
  where too few minutiae is a quality refusal (``low_quality_fingerprint``: too poor to use),
  not "not a fingerprint". A blank or saturated image, a wall (no ridge block before or
  after) and a face (the face guard runs first) are still refused as not a fingerprint.
  Measured on the FVC2002 DB4_B ``wet`` imitation (``eval.finger_sensors``): refusals 17 of
  80 -> 0, FTE 21.3% -> 6.3% (prints with fewer than 5 minutiae), EER 31.1% -> 21.8%.
- :func:`enhance_print`: when LEADER finds fewer than ``ExtractParams.enhance_below``
  minutiae on the print as captured, it reads the normalised print too, cut to the print's
  area (:func:`print_region`), and the reading with more minutiae is kept. On the DB4_B
  ``dry`` imitation: FTE 2.5% -> 1.25%, EER (all impostors) 20.1% -> 19.5%; prints with
  8 or more minutiae are read as before. Filtering along the ridge orientation at the print's
  ridge period (Gabor, 16 orientations) was measured and dropped: LEADER found minutiae in
  the filter's own pattern (DB1_B EER 0.36% -> 1.07%, DB4_B dry 20% -> 34%). A print that
  gives too few minutiae to enrol both ways is read once more rebuilt along its own ridges
  (:mod:`mobileid.finger.contextual`), a fallback that leaves every other template as it was.
- :func:`sharpen_valleys`: a print whose ridge orientation is unclear (a wet print's merged
  ridges) is read first with its thin valleys and ridges deepened by morphological top-hats
  (``ExtractParams.tophat_certainty_below``; figures there and in the README). Unlike
  the filters above it draws nothing along or across the ridges: it only deepens the bright
  and dark lines narrower than its element, where they are.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.errors import InputError, InvalidArgument
from mobileid.finger.errors import FingerprintTooSmall, NotAFingerprint
from mobileid.finger.params import EnhanceParams, LoadParams, RidgeParams
from mobileid.finger.quality import check_fingerprint, ridge_block_map
from mobileid.finger.types import FingerImage, GreyArray, RidgeQuality

__all__ = [
    "check_print",
    "enhance_print",
    "normalise_print",
    "print_region",
    "sharpen_valleys",
    "z_normalised",
]

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def z_normalised(px: GreyArray, p: EnhanceParams) -> tuple[F32, Mask]:
    """Band-passed grey levels over the local spread, and where the spread reaches the floor."""
    g = px.astype(np.float32)
    hp = g - ndimage.gaussian_filter(g, p.sigma_background)
    if p.sigma_noise > 0:
        hp = ndimage.gaussian_filter(hp, p.sigma_noise)
    sd = np.sqrt(ndimage.gaussian_filter(hp * hp, p.sigma_contrast))
    floor = max(p.min_contrast, p.min_contrast_share * float(np.percentile(sd, 90)))
    return (hp / np.maximum(sd, floor)).astype(np.float32), sd >= floor


def normalise_print(px: GreyArray, params: EnhanceParams | None = None) -> GreyArray:
    """``px`` with every ridge at the same contrast around mid-grey (polarity kept)."""
    p = params or EnhanceParams()
    z, _ = z_normalised(px, p)
    return np.clip(np.rint(128 + p.gain * z), 0, 255).astype(np.uint8)


def print_region(px: GreyArray, ridges: RidgeParams) -> Mask:
    """The print's area: its ridge blocks, closed and with holes filled (a dry patch inside
    the print is part of it), grown by one block; empty when there is no ridge block."""
    grid = ridge_block_map(px, ridges).ridge
    full = np.zeros(px.shape, dtype=bool)
    if not grid.any():
        return full
    grid = ndimage.binary_closing(grid, np.ones((3, 3)), border_value=0) | grid
    grid = ndimage.binary_dilation(ndimage.binary_fill_holes(grid), np.ones((3, 3)))
    up = np.kron(grid, np.ones((ridges.block, ridges.block))).astype(bool)
    full[: up.shape[0], : up.shape[1]] = up
    return full


def enhance_print(
    px: GreyArray, params: EnhanceParams | None = None, ridges: RidgeParams | None = None
) -> GreyArray:
    """``px`` (dark ridges, 500 ppi) normalised inside the print's area, the plate white."""
    p = params or EnhanceParams()
    z, contrast = z_normalised(px, p)
    # Gaps without contrast inside the print (dry patches) stay part of it.
    near = ndimage.binary_closing(contrast, np.ones((p.close, p.close)), border_value=1)
    mask = print_region(px, ridges or RidgeParams()) & near
    out = np.clip(128 + p.gain * z, 0, 255)
    # A soft edge: a hard step from grey ridges to the white plate reads as ridge endings.
    soft = ndimage.gaussian_filter(mask.astype(np.float32), p.edge)
    return np.clip(np.rint(soft * out + (1 - soft) * 255.0), 0, 255).astype(np.uint8)


def sharpen_valleys(px: GreyArray, size: int) -> GreyArray:
    """``px`` plus its white top-hat, less its black top-hat, over a ``size`` × ``size``
    element with its corners cut: valleys (and ridges) narrower than the element come out
    deeper, broader structure and the plate stay as they are. A wet print's valleys, 1.5-3.5
    px between widened ridges on DB4_B, are the bright lines this restores."""
    if size < 3 or size % 2 == 0:
        raise InvalidArgument(
            f"tophat_size: expected an odd number of pixels >= 3, got {size}", field="tophat_size"
        )
    g = px.astype(np.float32)
    element = np.ones((size, size), dtype=bool)
    element[0, 0] = element[0, -1] = element[-1, 0] = element[-1, -1] = False
    bright = g - ndimage.grey_opening(g, footprint=element)  # thin valleys
    dark = ndimage.grey_closing(g, footprint=element) - g  # thin ridges
    return np.clip(np.rint(g + bright - dark), 0, 255).astype(np.uint8)


def check_print(
    image: FingerImage,
    ridges: RidgeParams,
    load: LoadParams,
    params: EnhanceParams | None = None,
    *,
    field: str = "image",
) -> RidgeQuality:
    """:func:`~mobileid.finger.quality.check_fingerprint`, and for a print refused for want
    of ridges (too few, or too small an area of them) the same check on its normalised
    copy; the first refusal stands when that fails too."""
    try:
        return check_fingerprint(image, ridges, load, field=field)
    except (NotAFingerprint, FingerprintTooSmall) as exc:
        if isinstance(exc, NotAFingerprint) and exc.reasons != ("no_ridges",):
            raise
        flat = replace(image, pixels=normalise_print(image.pixels, params))
        try:
            return check_fingerprint(flat, ridges, load, field=field)
        except InputError:
            raise exc from None
