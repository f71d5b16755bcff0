"""Find the fingertips of a photo: where each one is, and its finger and hand when told.

The finger region: in a colour photo, skin (YCbCr on a small copy); in a greyscale image (an
already segmented fingertip on a plain background, a render, an infrared capture) the object
that stands out from the plain background by luminance (:func:`finger_mask`).

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
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage, signal  # type: ignore[import-untyped]

from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.params import ContactlessParams
from mobileid.types import RGBArray

__all__ = [
    "FINGERS",
    "Fingertip",
    "FingertipLayout",
    "finger_mask",
    "segment_fingertips",
]

FINGERS = ("index", "middle", "ring", "little")
# Segmentation constants not in ContactlessParams (they change CONTACTLESS_VERSION).
MAX_TIPS = 4
TIP_PROMINENCE = 0.2  # finger widths the tip stands above the profile beside it
MIN_FINGER_LENGTH = 1.5  # finger widths of finger visible below the tip
# An already segmented greyscale fingertip may be cut just below the last joint's crease:
# the IMPOSE renders show 1.26-1.8 widths.
MIN_SEGMENTED_LENGTH = 1.0
MIN_SIDES = 0.65  # finger widths the sides may close in over that length (a chin: to ~0.4)
MIN_TIP_WIDTH = 0.04  # of the work copy's shorter side
SAME_HAND_WIDTH = 0.55  # tips narrower than this share of the widest are not fingers
LITTLE_DROP = 0.25  # finger widths the little fingertip sits below the index fingertip
MIDDLE_SLACK = 0.15  # finger widths the middle fingertip may sit below the highest

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
    greyscale: bool = False  # no colour: the finger was found as an object, not as skin


@dataclass(frozen=True)
class _Tip:
    x: int  # column of the tip, work copy
    y: int  # row of the tip
    width: float
    length: float  # rows of finger below the tip
    band: tuple[int, int]  # columns this finger may use


def finger_mask(rgb: RGBArray, p: ContactlessParams) -> tuple[BoolArray, float, bool]:
    """The finger region of a small copy (longest side ``work_side``), the copy's scale, and
    whether the image is greyscale: skin in a colour photo, the object on a plain background
    in a greyscale one."""
    h, w = rgb.shape[:2]
    scale = p.work_side / max(h, w)
    small = np.asarray(
        Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))))
    ).astype(np.float32)
    grey = _is_greyscale(small, p)
    if grey:
        region, what = _object_region(small.mean(axis=2), p), "region standing out from the frame"
    else:
        region, what = _skin_region(small, p), "skin-coloured region"
    labels, n = ndimage.label(region)
    if n == 0:
        raise _no_finger(f"no {what}")
    sizes = ndimage.sum(region, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= p.min_finger_share * region.size) + 1
    if keep.size == 0:
        raise _no_finger(f"the largest {what} covers {sizes.max() / region.size:.1%}")
    return ndimage.binary_fill_holes(np.isin(labels, keep)), scale, grey


def _is_greyscale(small: npt.NDArray[np.float32], p: ContactlessParams) -> bool:
    spread = np.abs(small - small.mean(axis=2, keepdims=True)).max(axis=2)
    return float(spread.mean()) <= p.max_grey_chroma


def _skin_region(small: npt.NDArray[np.float32], p: ContactlessParams) -> BoolArray:
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    cr = 128 + 0.5 * r - 0.4187 * g - 0.0813 * b
    cb = 128 - 0.1687 * r - 0.3313 * g + 0.5 * b
    # Skin is redder than it is blue; how much depends on the light, so the cut between skin
    # and background is Otsu's on Cr - Cb, never below ``min_skin_redness``.
    redness = cr - cb
    region: BoolArray = ndimage.binary_opening(
        redness > max(_otsu(redness), p.min_skin_redness), iterations=2
    )
    return region


def _object_region(luma: npt.NDArray[np.float32], p: ContactlessParams) -> BoolArray:
    """Without colour, a finger is told only by standing out from a plain background: Otsu's
    cut on luminance, the object being the side that holds less of the frame's border. The two
    sides' means must differ by ``min_object_contrast``: a plain wall's noise does not."""
    cut = _otsu(luma)
    above = luma > cut
    border = np.concatenate([above[0], above[-1], above[:, 0], above[:, -1]])
    obj = ~above if border.mean() > 0.5 else above
    if not obj.any() or obj.all():
        return np.zeros_like(obj)
    if abs(float(luma[obj].mean()) - float(luma[~obj].mean())) < p.min_object_contrast:
        return np.zeros_like(obj)
    region: BoolArray = ndimage.binary_opening(obj, iterations=2)
    return region


def segment_fingertips(rgb: RGBArray, params: ContactlessParams | None = None) -> FingertipLayout:
    """Up to four fingertips of a photo; ``NotAFingerprint`` when there is none."""
    p = params or ContactlessParams()
    skin, scale, grey = finger_mask(rgb, p)
    min_length = MIN_SEGMENTED_LENGTH if grey else MIN_FINGER_LENGTH
    best: tuple[float, int, list[_Tip]] = (0.0, 0, [])
    for turns in (0, 1, 3, 2):  # upright first: it wins ties
        tips = _pick(_tip_candidates(np.rot90(skin, turns), min_length))
        score = sum(min(t.length, 3 * t.width) for t in tips)
        if score > best[0]:
            best = (score, turns, tips)
    _, turns, tips = best
    if not tips and grey:
        turns, tips = _segmented_tip(skin, min_length)
    if not tips:
        raise _no_finger(
            f"no fingertip (a rounded end of a skin region inside the frame, with "
            f"{min_length:g} finger widths of finger below it)"
        )
    upright = np.rot90(skin, turns)
    found = [_fingertip(upright, t, scale, p) for t in sorted(tips, key=lambda t: t.x)]
    named, why = _positions(found)
    return FingertipLayout(tuple(named), turns, why, grey)


def _segmented_tip(m: BoolArray, min_length: float) -> tuple[int, list[_Tip]]:
    """An already segmented fingertip whose end is too broad or flat for the tip profile test
    (IMPOSE renders seen at small roll): the largest object, turned so that it is taller than
    wide and its narrower end points up, is one fingertip, its end at the top."""
    labels, n = ndimage.label(m)
    if n == 0:
        return 0, []
    sizes = ndimage.sum(m, labels, index=np.arange(1, n + 1))
    obj = labels == int(np.argmax(sizes)) + 1
    for turns in (0, 1, 3, 2):
        o = np.rot90(obj, turns)
        rows = np.flatnonzero(o.any(axis=1))
        widths = o[rows].sum(axis=1).astype(np.float64)
        k = max(1, rows.size // 6)
        if rows[0] <= 1 or widths[:k].mean() >= widths[-k:].mean():
            continue  # cut by the frame's top, or its top end is the broad one
        width = float(np.median(widths[rows.size // 3 :]))
        if rows.size < min_length * width:
            continue
        x = int(np.rint(np.mean(np.flatnonzero(o[rows[0] : rows[0] + k].any(axis=0)))))
        return turns, [_Tip(x, int(rows[0]), width, float(rows.size), (0, o.shape[1]))]
    return 0, []


def _tip_candidates(m: BoolArray, min_length: float) -> list[_Tip]:
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
        if width < MIN_TIP_WIDTH * min(h, w) or length < min_length * width:
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
