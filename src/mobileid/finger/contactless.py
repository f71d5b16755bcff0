"""Contactless stage: a phone photo of one to four fingertips → 500 ppi grey prints for LEADER.

Stages: find skin (YCbCr on a small copy), turn the photo so the fingers point up, find each
fingertip, tell its position where the photo allows, then per fingertip: estimate the ridge
period from the spectrum of the tip's centre, rescale so it becomes 9 px (500 ppi), equalise
contrast locally, band-pass the ridges (difference of Gaussians) and invert: in a photo ridges
catch light and are brighter than the valleys, on a contact print they are dark.

Fingertips. On the upright mask, the top profile (first skin row of each column) has one peak
per finger. A peak is a fingertip when it is not cut by the frame's top, stands at least
``TIP_PROMINENCE`` finger widths above the profile half a width to either side, and the finger
runs on below it for ``MIN_FINGER_LENGTH`` widths with its sides no closer than ``MIN_SIDES``.
The finger's width is the run of skin where the rounded tip has become parallel sides. Tips
much narrower than the widest are dropped; the four highest stay. Orientation: the quarter turn
whose tips are most and longest wins (upright first on a tie): a finger pointing sideways has a
flat top profile; pointing down, its tip is where the frame cuts it.

Positions, only for four tips in a row: the middle finger reaches highest and the little finger
lowest. When one end tip is ``LITTLE_DROP`` widths lower than the other, is no wider, and the
finger next-but-one to it is the highest, that end is the little finger. The pads face the
camera, so in an unmirrored photo the little finger on the left means a right hand. A mirrored
(selfie) photo swaps the hands: the reason says which assumption was made. Otherwise every
position is unknown and the reason says why: never a guess. A thumb in the frame is not told
apart from the fingers.

Refusals, per fingertip (:func:`check_period`, then the ridge check on the plainly normalised
print): a fingertip under 104 px wide cannot show ridges 4 px apart; a spectrum peaking at the
edge of the period range the finger's width allows has no ridges; then the contactless ridge
floors (0.10 and 0.15). Measured: the 8 ISPFD sample photos (8 photos prove little) give ridge
fractions 0.15-0.43 for 6 usable ones and 0.0-0.07 for 2 blurred ones; all 16 photos of
face_recognition_samples are refused (no skin, no fingertip, no ridge period, no ridges, and
one at the minutiae count); of 400 random LFW faces (250 px) 3 pass as fingertips (hair, its
strands 4-5 px apart). The band-passed print is what LEADER reads; the ridge check stays on the
plain form because faces reach 0.14-0.19 on the band-passed one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter
from scipy import ndimage, signal  # type: ignore[import-untyped]

from mobileid.finger.errors import FingerprintTooSmall, NotAFingerprint
from mobileid.finger.params import ContactlessParams
from mobileid.finger.types import FingerImage, FingerTemplate, GreyArray
from mobileid.types import DecodedImage, RGBArray

__all__ = [
    "FINGERS",
    "Fingertip",
    "FingertipLayout",
    "TipPrint",
    "check_period",
    "fingertip_print",
    "fingertip_prints",
    "mirror_template",
    "segment_fingertips",
]

FINGERS = ("index", "middle", "ring", "little")
# Contactless constants not yet in ContactlessParams (they change CONTACTLESS_VERSION).
MAX_TIPS = 4
TIP_PROMINENCE = 0.2  # finger widths the tip stands above the profile beside it
MIN_FINGER_LENGTH = 1.5  # finger widths of finger visible below the tip
MIN_SIDES = 0.65  # finger widths the sides may close in over that length (a chin: to ~0.4)
PERIOD_EDGE = 3  # of 39 bins at either end of the period search: a peak there is no period
MIN_TIP_WIDTH = 0.04  # of the work copy's shorter side
SAME_HAND_WIDTH = 0.55  # tips narrower than this share of the widest are not fingers
LITTLE_DROP = 0.25  # finger widths the little fingertip sits below the index fingertip
MIDDLE_SLACK = 0.15  # finger widths the middle fingertip may sit below the highest
BAND_PASS = (1.2, 4.0)  # Gaussian sigmas, px at 500 ppi: passes ridge periods of ~6-20 px

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Fingertip:
    """One fingertip: where it is in the upright photo (full-resolution pixels, see
    :class:`FingertipLayout`), its mask, and its finger and hand where the photo tells them."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    mask: npt.NDArray[np.bool_]  # of the box
    finger_width: float  # px in the photo
    finger: str | None = None  # one of FINGERS
    hand: str | None = None  # "left" or "right"

    @property
    def position(self) -> str:
        """ISO/IEC 19794-2 position name (``right_index``), or ``unknown``."""
        return f"{self.hand}_{self.finger}" if self.finger and self.hand else "unknown"


@dataclass(frozen=True, eq=False)
class FingertipLayout:
    """The fingertips of one photo, left to right once the photo is turned fingers-up."""

    tips: tuple[Fingertip, ...]
    quarter_turns: int  # counter-clockwise turns (``numpy.rot90``) that made the fingers point up
    positions: str  # how the positions were told, or why they could not be


@dataclass(frozen=True, eq=False)
class TipPrint:
    """One fingertip as 500 ppi prints: ``image`` for extraction, ``plain`` for the ridge check."""

    image: FingerImage  # normalised, band-passed, inverted
    plain: FingerImage  # normalised and inverted only: the ridge floors were measured on it
    tip: Fingertip
    period: float  # ridge period in the photo, px
    period_range: tuple[float, float]  # where it was searched (from the finger's width), px
    period_found: bool  # False: the spectrum peaked at the range's edge, no ridges there


@dataclass(frozen=True)
class _Tip:
    x: int  # column of the tip, work copy
    y: int  # row of the tip
    width: float
    length: float  # rows of finger below the tip
    band: tuple[int, int]  # columns this finger may use


def skin_mask(rgb: RGBArray, p: ContactlessParams) -> tuple[BoolArray, float]:
    """Skin of a small copy (longest side ``work_side``) and the copy's scale."""
    h, w = rgb.shape[:2]
    scale = p.work_side / max(h, w)
    small = np.asarray(
        Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))))
    ).astype(np.float32)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    cr = 128 + 0.5 * r - 0.4187 * g - 0.0813 * b
    cb = 128 - 0.1687 * r - 0.3313 * g + 0.5 * b
    # Skin is redder than it is blue; how much depends on the light, so the cut between skin
    # and background is Otsu's on Cr - Cb, never below ``min_skin_redness``.
    redness = cr - cb
    skin = ndimage.binary_opening(redness > max(_otsu(redness), p.min_skin_redness), iterations=2)
    labels, n = ndimage.label(skin)
    if n == 0:
        raise _no_finger("no skin-coloured region")
    sizes = ndimage.sum(skin, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= p.min_finger_share * skin.size) + 1
    if keep.size == 0:
        raise _no_finger(f"the largest skin region covers {sizes.max() / skin.size:.1%}")
    return ndimage.binary_fill_holes(np.isin(labels, keep)), scale


def segment_fingertips(rgb: RGBArray, params: ContactlessParams | None = None) -> FingertipLayout:
    """Up to four fingertips of a photo; ``NotAFingerprint`` when there is none."""
    p = params or ContactlessParams()
    skin, scale = skin_mask(rgb, p)
    best: tuple[float, int, list[_Tip]] = (0.0, 0, [])
    for turns in (0, 1, 3, 2):  # upright first: it wins ties
        tips = _pick(_tip_candidates(np.rot90(skin, turns), p))
        score = sum(min(t.length, 3 * t.width) for t in tips)
        if score > best[0]:
            best = (score, turns, tips)
    _, turns, tips = best
    if not tips:
        raise _no_finger(
            f"no fingertip (a rounded end of a skin region inside the frame, with "
            f"{MIN_FINGER_LENGTH:g} finger widths of finger below it)"
        )
    upright = np.rot90(skin, turns)
    found = [_fingertip(upright, t, scale, p) for t in sorted(tips, key=lambda t: t.x)]
    named, why = _positions(found)
    return FingertipLayout(tuple(named), turns, why)


def _tip_candidates(m: BoolArray, p: ContactlessParams) -> list[_Tip]:
    h, w = m.shape
    top = np.where(m.any(axis=0), m.argmax(axis=0), h).astype(np.float64)
    top = ndimage.median_filter(top, size=5, mode="nearest")
    dip = max(3.0, 0.03 * h)
    peaks = _merge_level_peaks(top, signal.find_peaks(-top, prominence=dip)[0], dip)
    out = []
    for k, x in enumerate(peaks):
        lo = 0 if k == 0 else int(peaks[k - 1] + np.argmax(top[peaks[k - 1] : x]))
        hi = w if k == len(peaks) - 1 else int(x + 1 + np.argmax(top[x + 1 : peaks[k + 1]]))
        y = int(top[x])
        if y <= 1:  # the frame cuts this "tip": it is where the finger leaves the picture
            continue
        runs = _run_widths(m[y:, lo:hi], int(x) - lo)
        width, length = _width_and_length(runs)
        if width < MIN_TIP_WIDTH * min(h, w) or length < MIN_FINGER_LENGTH * width:
            continue
        side = max(1, round(0.6 * width))
        beside = (top[max(lo, x - side)], top[min(hi - 1, x + side)])
        if min(beside) - y < TIP_PROMINENCE * width:
            continue
        out.append(_Tip(int(x), y, width, length, (lo, hi)))
    return out


def _merge_level_peaks(
    top: npt.NDArray[np.float64], peaks: npt.NDArray[np.intp], dip: float
) -> list[int]:
    """Peaks with less than ``dip`` between them are one (a flat fingertip yields two equal
    peaks, each of which ``find_peaks`` deems prominent); the merged peak is their middle."""
    merged: list[list[int]] = []
    for x in peaks.tolist():
        if merged and top[merged[-1][-1] : x + 1].max() - max(top[merged[-1][-1]], top[x]) < dip:
            merged[-1].append(x)
        else:
            merged.append([x])
    return [min(g, key=lambda x: (top[x], abs(x - (g[0] + g[-1]) / 2))) for g in merged]


def _run_widths(m: BoolArray, x: int) -> npt.NDArray[np.float64]:
    """Per row, the length of the run of skin through column ``x`` (0 where ``x`` is not skin)."""
    widths = np.zeros(m.shape[0])
    for i, row in enumerate(m):
        if not row[x]:
            continue
        left = np.flatnonzero(~row[:x])
        right = np.flatnonzero(~row[x:])
        start = int(left[-1]) + 1 if left.size else 0
        stop = x + int(right[0]) if right.size else row.size
        widths[i] = stop - start
    return widths


def _width_and_length(runs: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Width: where the rounded tip has become parallel sides (depth >= 0.8 × run); length:
    rows from the tip until the run falls below ``MIN_SIDES`` of that width (a face turned
    upside down has a chin for a tip, but its sides close in at the mouth and eyes)."""
    depth = np.arange(runs.size)
    flat = np.flatnonzero((depth >= 0.8 * runs) & (runs > 0))
    if flat.size == 0:
        return 0.0, 0.0
    start = int(flat[0])
    width = float(np.median(runs[start : start + max(2, round(0.4 * runs[start]))]))
    ends = np.flatnonzero(runs[start:] < MIN_SIDES * width)
    return width, float(start + (ends[0] if ends.size else runs.size - start))


def _pick(tips: list[_Tip]) -> list[_Tip]:
    """The fingers of one hand: not much narrower than the widest, the four highest."""
    if not tips:
        return []
    widest = max(t.width for t in tips)
    kept = [t for t in tips if t.width >= SAME_HAND_WIDTH * widest]
    return sorted(kept, key=lambda t: t.y)[:MAX_TIPS]


def _fingertip(m: BoolArray, t: _Tip, scale: float, p: ContactlessParams) -> Fingertip:
    left = max(t.band[0], round(t.x - 0.8 * t.width))
    right = min(t.band[1], round(t.x + 0.8 * t.width) + 1)
    bottom = min(m.shape[0], t.y + round(p.tip_length * t.width))
    labels, _ = ndimage.label(m[t.y : bottom, left:right])
    own = labels[0, t.x - left]
    tip = ndimage.binary_fill_holes(labels == own) if own else labels > 0
    cols = np.flatnonzero(tip.any(axis=0))
    left, right, tip = left + int(cols[0]), left + int(cols[-1]) + 1, tip[:, cols[0] : cols[-1] + 1]
    box = tuple(round(v / scale) for v in (left, t.y, right, bottom))
    mask = Image.fromarray(tip.astype(np.uint8) * 255).resize((box[2] - box[0], box[3] - box[1]))
    return Fingertip((box[0], box[1], box[2], box[3]), np.asarray(mask) > 127, t.width / scale)


def _positions(tips: list[Fingertip]) -> tuple[list[Fingertip], str]:
    if len(tips) != len(FINGERS):
        return tips, f"{len(tips)} fingertip(s) found: positions are told for four in a row only"
    tops = [t.box[1] for t in tips]
    widths = [t.finger_width for t in tips]
    unit = float(np.mean(widths))
    drop = (tops[0] - tops[-1]) / unit  # > 0: the left end is lower
    if abs(drop) < LITTLE_DROP:
        return tips, (
            f"the end fingertips are level (within {abs(drop):.2f} finger widths, less than "
            f"{LITTLE_DROP}): the little finger cannot be told"
        )
    order = ["little", "ring", "middle", "index"] if drop > 0 else list(FINGERS)
    little, index = (0, 3) if drop > 0 else (3, 0)
    middle = order.index("middle")
    if tops[middle] - min(tops) > MIDDLE_SLACK * unit:
        return tips, "the fingertip next but one to the lower end is not the highest: no middle"
    if widths[little] > widths[index]:
        return tips, "the lower end finger is wider than the other end: no little finger"
    hand = "right" if drop > 0 else "left"
    side = "left" if drop > 0 else "right"
    why = (
        f"tip heights: the {side} end fingertip is {abs(drop):.2f} finger widths lower (little "
        f"finger) and the middle one is highest; pads facing the camera in an unmirrored photo "
        f"make this a {hand} hand"
    )
    return [replace(t, finger=f, hand=hand) for t, f in zip(tips, order, strict=True)], why


def _otsu(values: npt.NDArray[np.float32]) -> float:
    hist, edges = np.histogram(values, bins=128)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def _no_finger(why: str) -> NotAFingerprint:
    return NotAFingerprint(
        f"image: expected a photo of one to four fingertips filling part of the frame, got {why}",
        reasons=("no_finger",),
        field="image",
    )


def ridge_period(grey: npt.NDArray[np.float32], lo: float, hi: float) -> tuple[float, bool]:
    """Dominant ridge period (px, in ``[lo, hi]``) of the centre of ``grey``, and whether it is
    a peak inside the range: at either edge, the spectrum only rises beyond it (skin without
    ridges, fabric, a face), and the period is no ridge period."""
    h, w = grey.shape
    side = min(h, w) // 2
    c = grey[h // 2 - side // 2 : h // 2 + side // 2, w // 2 - side // 2 : w // 2 + side // 2]
    c = c - ndimage.gaussian_filter(c, side / 16)
    win = np.outer(np.hanning(c.shape[0]), np.hanning(c.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(c * win))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(c.shape[0]))
    fx = np.fft.fftshift(np.fft.fftfreq(c.shape[1]))
    radius = np.hypot(fy[:, None], fx[None, :])
    band = (radius >= 1.0 / hi) & (radius <= 1.0 / lo)
    bins = np.linspace(1.0 / hi, 1.0 / lo, 40)
    which = np.digitize(radius[band], bins)
    energy = np.bincount(which, weights=power[band], minlength=bins.size + 1)[1 : bins.size]
    centres = (bins[:-1] + bins[1:]) / 2
    k = int(np.argmax(energy * centres))  # 1/f-weighted peak
    return float(1.0 / centres[k]), PERIOD_EDGE <= k < centres.size - PERIOD_EDGE


def fingertip_prints(
    image: DecodedImage, params: ContactlessParams | None = None
) -> tuple[FingertipLayout, tuple[TipPrint, ...]]:
    """Every fingertip of a phone photo as contact-like 500 ppi prints, and where they are."""
    p = params or ContactlessParams()
    layout = segment_fingertips(image.pixels, p)
    upright = np.rot90(image.pixels, layout.quarter_turns)
    sha = image.sha256 or hashlib.sha256(image.pixels.tobytes()).hexdigest()
    prints = tuple(_tip_print(upright, t, p, sha, image.format) for t in layout.tips)
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
    upright: RGBArray, tip: Fingertip, p: ContactlessParams, sha: str, fmt: str
) -> TipPrint:
    left, top, right, bottom = tip.box
    grey = upright[top:bottom, left:right, 1].astype(np.float32)  # green: sharpest on skin
    lo = max(p.min_period, tip.finger_width * p.min_period_of_width)
    hi = min(p.max_period, tip.finger_width * p.max_period_of_width)
    hi = max(hi, lo + 1.0)
    period, found = ridge_period(grey, lo, hi)
    factor = p.target_period / period
    size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    pil = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    g = np.asarray(pil, dtype=np.float32)
    mask = np.asarray(Image.fromarray(tip.mask).resize(size)) > 0
    mask = ndimage.binary_erosion(mask, iterations=8)
    plain = np.asarray(pil.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32)
    band = ndimage.gaussian_filter(g, BAND_PASS[0]) - ndimage.gaussian_filter(g, BAND_PASS[1])
    # The band-passed image has no mean left; its contrast floor scales with its own spread.
    floor = 0.3 * float(np.median(np.abs(band[mask]))) if mask.any() else p.min_contrast

    def image_of(pixels: GreyArray) -> FingerImage:
        out = pixels[:, ::-1].copy() if p.mirror else pixels
        return FingerImage(out, 500.0, 500.0 / factor, "ridge period", sha, fmt)

    return TipPrint(
        image=image_of(_normalise(band, mask, p.norm_sigma, max(floor, 1e-3))),
        plain=image_of(_normalise(plain, mask, p.norm_sigma, p.min_contrast)),
        tip=tip,
        period=period,
        period_range=(lo, hi),
        period_found=found,
    )


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
            f"{field}: expected a ridge period of {lo:.0f}-{hi:.0f} px (1/48 to 1/26 of the "
            f"{width:.0f} px finger width), got a spectrum peaking at the edge of that range: "
            "skin without ridges (a face, a blurred finger) or another texture",
            reasons=("no_ridge_period",),
            field=field,
        )


def _normalise(
    g: npt.NDArray[np.float32], mask: BoolArray, sigma: float, min_contrast: float
) -> GreyArray:
    """Local zero mean, unit spread, inverted (ridges dark), white outside ``mask``."""
    mean = ndimage.gaussian_filter(g, sigma)
    # The floor keeps flat, out-of-focus skin flat instead of amplifying its sensor noise.
    var = ndimage.gaussian_filter((g - mean) ** 2, sigma)
    z = (mean - g) / np.sqrt(np.maximum(var, min_contrast**2))
    return np.where(mask, np.clip(128 + 50 * z, 0, 255), 255.0).astype(np.uint8)


def mirror_template(template: FingerTemplate, pipeline_id: str) -> FingerTemplate:
    """``template`` flipped left-right, labelled ``pipeline_id``.

    A photo sees the pad from the front; a contact print (ink, or a live scan that follows the
    ink convention) is its mirror image. ISO angles are counter-clockwise from ``x``: a flip
    about the vertical axis turns ``a`` into ``π - a``.
    """
    m = np.array(template.minutiae, dtype=np.float32, copy=True)
    m[:, 0] = template.width - 1 - m[:, 0]
    m[:, 2] = (math.pi - m[:, 2] + math.pi) % (2 * math.pi) - math.pi
    return FingerTemplate(
        m, template.width, template.height, template.ppi, template.quality, pipeline_id
    )
