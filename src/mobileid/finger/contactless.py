"""Contactless stage: each fingertip of a photo (:mod:`mobileid.finger.fingertips`) → a 500 ppi
grey print in contact-print geometry for LEADER.

Per fingertip: estimate the ridge period from the spectrum of the tip's centre; unroll the
finger's curvature (:func:`unroll`: a finger is close to a cylinder seen from the side, so
ridges crowd together towards its edges, the more so as the finger is rolled; each row is
resampled to equal arc length on the cylinder its silhouette implies); rescale so the period
becomes ``target_period`` (the median period of FVC2002 DB1_B prints at 500 ppi); equalise
contrast locally; band-pass the ridges (difference of Gaussians); set the polarity (in a colour
photo ridges catch light and are brighter than the valleys, on a contact print they are dark)
and the handedness (``ContactlessParams.handedness``: a camera sees the pad, a contact print is
its mirror image; greyscale fingertips are taken as already flipped, as contactless scanners
deliver them and as the IMPOSE renders are).

Measured on the 18 IMPOSE renders (2 fingers, roll -46° to +54°, target period 8.2) searched
among the 80 DB1_B prints and both rolled prints: mate first for 17 of 18 with unrolling and
15 of 18 without; taken as camera-handed (mirrored against contact) only 5 of 18 ranked first,
so the renders are contact-handed; bright or dark ridges made no consistent difference. With
DB4_B's 80 prints added as distractors (``make eval``): 15 of 18, 7 of 9 at |roll| <= 25°.
The two misses at small roll (one finger at -18° and +14°, mate 3rd and 4th) were a scale
error, not a pose one: that finger's rolled print has a period of 6.9 px, its normalised
renders were 19% too large, and forcing their scale lifted the mate scores from 0.31-0.33 to
0.73-0.82.
The period estimate cannot settle a person's scale (see :mod:`mobileid.finger.views`), so the
comparison with contact prints tries several scales: 18 of 18 first.

Refusals, per fingertip (:func:`check_period`, then the ridge check on the plainly normalised
print): a fingertip under 104 px wide cannot show ridges 4 px apart; a spectrum peaking at the
edge of the period range the finger's width allows has no ridges (a colour fingertip: the
typical range, then anatomy's, :func:`~mobileid.finger.tip_period.find_period`); then the
contactless ridge floors (0.10 and 0.15). Measured: the 8 ISPFD sample photos (8 photos
prove little) give ridge fractions 0.15-0.43 for 6 usable ones and 0.0-0.07 for 2 blurred
ones; the 6 usable ones show 31-39 ridge periods across the finger, the 18 renders 21-54.
Squeezed across the finger to 85% (a side view shows the finger's depth), 2 of the 6 usable
photos fell to 27 and were refused by the typical range alone; with anatomy's, 6 of 6 pass
(at 70%: 3 -> 4, at 50%: 2 -> 4; the 2 blurred ones stay refused at every width). Without
the face guard, which refuses them all first: 1 of the 16 face_recognition photos and 8 of
400 LFW faces (250 px, seed 0) pass the gates as fingertips (hair, its strands 4-5 px apart),
before and after the anatomical range; those LFW faces enlarged 3x (wide enough for it): 19
before, 20 after.
The band-passed print is what LEADER reads; the ridge check stays on the plain form because
faces reach 0.14-0.19 on the band-passed one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.errors import FingerprintTooSmall, NotAFingerprint
from mobileid.finger.fingertips import Fingertip, FingertipLayout, segment_fingertips
from mobileid.finger.orient import upright_pixels
from mobileid.finger.params import ContactlessParams
from mobileid.finger.tip_period import find_period, ridge_period
from mobileid.finger.types import FingerImage, GreyArray
from mobileid.finger.views import mirror_template
from mobileid.types import DecodedImage, RGBArray

__all__ = [
    "TipPrint",
    "check_period",
    "fingertip_print",
    "fingertip_prints",
    "mirror_template",
    "ridge_period",
    "unroll",
]

# Constants not yet in ContactlessParams (they change CONTACTLESS_VERSION).
BAND_PASS = (1.2, 4.0)  # Gaussian sigmas, px at 500 ppi: passes ridge periods of ~6-20 px

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class TipPrint:
    """One fingertip as 500 ppi prints: ``image`` for extraction, ``plain`` for the ridge check."""

    image: FingerImage  # normalised, band-passed, inverted
    plain: FingerImage  # normalised and inverted only: the ridge floors were measured on it
    tip: Fingertip
    period: float  # ridge period in the photo, px
    period_range: tuple[float, float]  # where it was searched (from the finger's width), px
    period_found: bool  # False: the spectrum peaked at the range's edge, no ridges there


def fingertip_prints(
    image: DecodedImage, params: ContactlessParams | None = None, *, plain_only: bool = False
) -> tuple[FingertipLayout, tuple[TipPrint, ...]]:
    """Every fingertip of a phone photo as contact-like 500 ppi prints, and where they are.
    ``plain_only``: skip the band-passed print (``image`` is then the plain one), for a check
    of the ridge gates that extracts nothing (a preview frame)."""
    p = params or ContactlessParams()
    layout = segment_fingertips(image.pixels, p)
    upright = upright_pixels(image.pixels, layout.quarter_turns, layout.tilt)
    sha = image.sha256 or hashlib.sha256(image.pixels.tobytes()).hexdigest()
    prints = tuple(
        _tip_print(upright, t, p, layout.greyscale, sha, image.format, plain_only)
        for t in layout.tips
    )
    return layout, prints


def fingertip_print(
    image: DecodedImage, params: ContactlessParams | None = None
) -> tuple[FingerImage, Fingertip, float]:
    """The one fingertip of a photo: its print, place and ridge period (several: refused)."""
    _, prints = fingertip_prints(image, params)
    if len(prints) != 1:
        raise NotAFingerprint(
            f"image: expected a photo of one fingertip, got {len(prints)} fingertips",
            reasons=("several_fingers",),
            field="image",
        )
    return prints[0].image, prints[0].tip, prints[0].period


def _tip_print(
    upright: RGBArray,
    tip: Fingertip,
    p: ContactlessParams,
    greyscale: bool,
    sha: str,
    fmt: str,
    plain_only: bool = False,
) -> TipPrint:
    left, top, right, bottom = tip.box
    grey = upright[top:bottom, left:right, 1].astype(np.float32)  # green: sharpest on skin
    period, found, (lo, hi) = find_period(grey, tip.finger_width, p, greyscale)
    shape = tip.mask
    if p.unroll:
        grey, shape = unroll(grey, tip.mask, p.unroll_max_angle)
    factor = p.target_period / period
    size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    pil = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    g = np.asarray(pil, dtype=np.float32)
    mask = np.asarray(Image.fromarray(shape).resize(size)) > 0
    mask = ndimage.binary_erosion(mask, iterations=8)
    plain = np.asarray(pil.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32)
    bright = _ridges_bright(p, greyscale)
    flip = _contact_handed(p, greyscale)

    def image_of(pixels: GreyArray) -> FingerImage:
        out = pixels[:, ::-1].copy() if flip else pixels
        return FingerImage(out, 500.0, 500.0 / factor, "ridge period", sha, fmt)

    plain_print = image_of(_normalise(plain, mask, p.norm_sigma, p.min_contrast, bright))
    if plain_only:
        band_print = plain_print
    else:
        band = ndimage.gaussian_filter(g, BAND_PASS[0]) - ndimage.gaussian_filter(g, BAND_PASS[1])
        # The band-passed image has no mean left; its contrast floor scales with its own spread.
        floor = 0.3 * float(np.median(np.abs(band[mask]))) if mask.any() else p.min_contrast
        band_print = image_of(_normalise(band, mask, p.norm_sigma, max(floor, 1e-3), bright))
    return TipPrint(
        image=band_print,
        plain=plain_print,
        tip=tip,
        period=period,
        period_range=(lo, hi),
        period_found=found,
    )


def _ridges_bright(p: ContactlessParams, greyscale: bool) -> bool:
    if p.polarity == "auto":
        return not greyscale or p.grey_ridges_bright
    return p.polarity == "bright"


def _contact_handed(p: ContactlessParams, greyscale: bool) -> bool:
    """Whether the image is already a contact print's mirror image (see ``handedness``)."""
    if p.handedness == "auto":
        return greyscale
    return p.handedness == "contact"


def unroll(
    grey: npt.NDArray[np.float32], mask: BoolArray, max_angle: float
) -> tuple[npt.NDArray[np.float32], BoolArray]:
    """Resample each row of a fingertip to equal arc length on the cylinder its silhouette
    implies (centre and radius from the row's extent in ``mask``), up to ``max_angle`` radians
    either side of the line of sight; beyond it the skin is too oblique to show ridges.

    A contact print is the skin pressed flat; a camera sees it foreshortened by ``cos`` of the
    angle between skin and line of sight, so ridges crowd towards the finger's edges, and a
    rolled finger shows most of its pattern in that crowded part. The centre of each row is
    left as it was (its scale is the ridge period's).

    Measured on the 18 IMPOSE renders against DB1_B and both rolled prints (mean genuine
    score at |roll| <= 25° / beyond, mate first): this symmetric cylinder up to 1.2 rad gives
    0.658 / 0.541, 18 of 18; up to 1.0 rad 0.645 / 0.455 (a -46° render ranked 47th); up to
    1.4 rad 0.641 / 0.501. A rendered pad does not reach both limbs of a rolled finger: its
    ridges crowd on the limb's side only, and the other edge of the mask is where the texture
    ends. A cylinder whose axis is off the mask's centre (the view angle of each edge set by a
    roll hypothesis, -60° to +60°, the one kept that makes the unrolled ridge period most even
    across the finger) finds the roll's sign on every render but did not help: 0.646 / 0.543
    with hypotheses to ±60° (highest render impostor 0.540, against 0.535), 0.646 / 0.541 and
    16 of 18 first to ±30°. Not kept.
    """
    h, w = mask.shape
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return grey, mask
    first = mask[rows].argmax(axis=1)
    last = w - 1 - mask[rows, ::-1].argmax(axis=1)
    centre = (first + last) / 2.0
    radius = np.maximum((last - first) / 2.0, 1.0)
    half = radius * max_angle
    out_w = int(2 * math.ceil(half.max()) + 1)
    s = np.arange(out_w, dtype=np.float64) - out_w // 2  # arc length from the centre, px
    arc = s[None, :] / radius[:, None]
    src_x = centre[:, None] + radius[:, None] * np.sin(np.clip(arc, -max_angle, max_angle))
    inside = np.abs(arc) <= max_angle
    src_y = np.broadcast_to(rows[:, None].astype(np.float64), src_x.shape)
    flat = ndimage.map_coordinates(grey, [src_y, src_x], order=1, mode="nearest")
    out = np.zeros((h, out_w), np.float32)
    out_mask = np.zeros((h, out_w), bool)
    out[rows] = np.where(inside, flat, 0.0)
    out_mask[rows] = (
        inside
        & mask[rows][
            np.arange(rows.size)[:, None], np.clip(np.rint(src_x).astype(np.int64), 0, w - 1)
        ]
    )
    return out, out_mask


def check_period(
    tp: TipPrint, params: ContactlessParams | None = None, field: str = "image"
) -> None:
    """Refuse a fingertip too small in the photo for its ridges to be resolved, or whose
    spectrum has no ridge peak in the range its width allows."""
    p = params or ContactlessParams()
    width = tp.tip.finger_width
    if width * p.max_period_of_width < p.min_period:
        raise FingerprintTooSmall(
            f"{field}: expected a fingertip at least {p.min_period / p.max_period_of_width:.0f} "
            f"px wide in the photo (its ridges must be {p.min_period:g} px apart or more), got "
            f"{width:.0f} px: hold the camera closer",
            field=field,
        )
    if not tp.period_found:
        lo, hi = tp.period_range
        raise NotAFingerprint(
            f"{field}: expected a ridge period of {lo:.0f}-{hi:.0f} px ({width / hi:.0f} to "
            f"{width / lo:.0f} ridges across the {width:.0f} px finger), got a spectrum peaking "
            "at the edge of that range: "
            "skin without ridges (a face, a blurred finger) or another texture",
            reasons=("no_ridge_period",),
            field=field,
        )


def _normalise(
    g: npt.NDArray[np.float32], mask: BoolArray, sigma: float, min_contrast: float, bright: bool
) -> GreyArray:
    """Local zero mean, unit spread, ridges dark (inverted when ``bright``), white outside
    ``mask``."""
    mean = ndimage.gaussian_filter(g, sigma)
    # The floor keeps flat, out-of-focus skin flat instead of amplifying its sensor noise.
    var = ndimage.gaussian_filter((g - mean) ** 2, sigma)
    z = (mean - g if bright else g - mean) / np.sqrt(np.maximum(var, min_contrast**2))
    return np.where(mask, np.clip(128 + 50 * z, 0, 255), 255.0).astype(np.uint8)
