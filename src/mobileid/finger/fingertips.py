"""Find the fingertips of a photo: where each one is, and its finger and hand when told.

The finger region: in a colour photo, skin (YCbCr on a small copy); in a greyscale image (an
already segmented fingertip on a plain background, a render, an infrared capture) the object
that stands out from the plain background by luminance
(:func:`mobileid.finger.finger_region.finger_mask`).

Fingertips. On the upright mask, the top profile (first skin row of each column) has one peak
per finger (:mod:`mobileid.finger.tip_profile`). A peak is a fingertip when it is not cut by
the frame's top, stands at least ``tip_profile.TIP_PROMINENCE`` finger widths above the
profile half a width to either side, and the finger runs on below it for this module's
``MIN_FINGER_LENGTH`` widths with its sides no closer than ``tip_profile.MIN_SIDES``.
The finger's width is the run of skin where the rounded tip has become parallel sides. Tips
much narrower than the widest are dropped; the four highest stay. Orientation: the quarter turn
whose tips are most and longest wins (upright first on a tie): a finger pointing sideways has a
flat top profile; pointing down, its tip is where the frame cuts it. Between quarter turns
(:mod:`mobileid.finger.orient`): a greyscale image is first turned so that its objects' long
axis is upright or level; a colour one is looked at also a third of a quarter turn either way
and half a quarter turn, and the turn whose tips are most and longest wins, unless its fingers
already stand upright unturned and are not much narrower than a finger found at another turn
(``SAME_HAND_WIDTH``); then the fingers' midlines say how far they still lean, and a lean of
``orient.TILT_MIN`` or more (``FINE_TILT_MIN`` in a colour photo turned anyway) is turned away
(``FingertipLayout.tilt``) and the tips found again, upright.

Already segmented greyscale fingertips whose ends are too broad or flat for the tip profile
(renders at small roll) are taken one per object, up to four: the end that is rounded, not
the straight one where the finger was cut (or the narrower when both are alike), is the tip.

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
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.finger_region import finger_mask, no_finger
from mobileid.finger.orient import TILT_MIN, coarse_tilts, midline_tilt, rotate_mask
from mobileid.finger.params import ContactlessParams
from mobileid.finger.tip_profile import _object_tip, _Tip, _tip_candidates
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
MIN_FINGER_LENGTH = 1.5  # finger widths of finger visible below the tip
# An already segmented greyscale fingertip may be cut just below the last joint's crease:
# the IMPOSE renders show 1.26-1.8 widths.
MIN_SEGMENTED_LENGTH = 1.0
SAME_HAND_WIDTH = 0.55  # tips narrower than this share of the widest are not fingers
LITTLE_DROP = 0.25  # finger widths the little fingertip sits below the index fingertip
MIDDLE_SLACK = 0.15  # finger widths the middle fingertip may sit below the highest
FINE_TILT_MIN = 3.0  # degrees of lean undone once a photo is turned anyway (< orient.TILT_MIN)

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
    # Degrees counter-clockwise turned after the quarter turns (a finger held at an angle,
    # see orient.py); 0: none. Boxes are in the photo turned by both (orient.upright_pixels).
    tilt: float = 0.0


def segment_fingertips(rgb: RGBArray, params: ContactlessParams | None = None) -> FingertipLayout:
    """Up to four fingertips of a photo; ``NotAFingerprint`` when there is none."""
    p = params or ContactlessParams()
    skin, scale, grey = finger_mask(rgb, p)
    min_length = MIN_SEGMENTED_LENGTH if grey else MIN_FINGER_LENGTH
    tilt, mask, turns, tips = _coarse(skin, grey, min_length)
    if not tips:
        raise no_finger(
            f"no fingertip (a rounded end of a skin region inside the frame, with "
            f"{min_length:g} finger widths of finger below it)"
        )
    upright = np.rot90(mask, turns)
    # Once a colour photo is resampled for a coarse turn, a small lean costs nothing more to
    # undo (greyscale renders keep TILT_MIN: their midlines lean 2-10° as rendered).
    lean = _lean(upright, tips, FINE_TILT_MIN if tilt and not grey else TILT_MIN)
    # Found again on the mask turned as the photo will be: one turn, quarters included. A
    # fingertip turned fully upright may meet the turned frame's corner: then half the lean.
    for part in (lean, 0.5 * lean) if lean else ():
        again, valid = rotate_mask(skin, 90 * turns + tilt + part)
        _, _, tips_again = _find(again, valid, min_length, grey, (0,))
        if tips_again:
            upright, tips, tilt = again, tips_again, tilt + part
            break
    found = [_fingertip(upright, t, scale, p) for t in sorted(tips, key=lambda t: t.x)]
    named, why = _positions(found)
    return FingertipLayout(tuple(named), turns, why, grey, tilt)


def _coarse(
    skin: BoolArray, grey: bool, min_length: float
) -> tuple[float, BoolArray, int, list[_Tip]]:
    """The coarse turn (degrees, before quarter turns), the mask turned by it, and the quarter
    turn and tips found on it. Fingers found unturned that stand upright (each with a midline
    leaning under ``TILT_MIN``) are kept, unless another turn finds a finger so much wider
    that they are not fingers (``SAME_HAND_WIDTH``: an outdoor photo's skin-coloured
    background). Otherwise the turn whose tips are most and longest wins (the first on a tie):
    a finger held diagonally also yields a "tip" unturned, where the frame cuts it."""
    found = []  # (score, quarter turns, tips, tilt, mask) of each turn that finds tips
    for tilt in coarse_tilts(skin, grey):
        mask, valid = rotate_mask(skin, tilt)
        found.append((*_find(mask, valid, min_length, grey, (0, 1, 3, 2)), tilt, mask))
    found = [f for f in found if f[2]]
    if not found:
        return 0.0, skin, 0, []
    widest = max(t.width for f in found for t in f[2])
    _, turns, tips, tilt, mask = found[0]
    fingers = max(t.width for t in tips) >= SAME_HAND_WIDTH * widest
    if tilt == 0.0 and fingers and _stands_upright(np.rot90(mask, turns), tips):
        return tilt, mask, turns, tips
    _, turns, tips, tilt, mask = max(found, key=lambda f: f[0])  # the first of equals
    return tilt, mask, turns, tips


def _stands_upright(upright: BoolArray, tips: list[_Tip]) -> bool:
    return all(a is not None and abs(a) < TILT_MIN for a in _leans(upright, tips))


def _lean(upright: BoolArray, tips: list[_Tip], least: float) -> float:
    """Degrees to turn the upright mask so that its fingers point straight up: the median of
    the fingers' midlines (a hand's fingers splay), 0 under ``least``."""
    lean = float(np.median([a for a in _leans(upright, tips) if a is not None] or [0.0]))
    return lean if abs(lean) >= least else 0.0


def _leans(upright: BoolArray, tips: list[_Tip]) -> list[float | None]:
    return [midline_tilt(upright, t.x, t.y, t.width, t.length) for t in tips]


def _find(
    mask: BoolArray, valid: BoolArray, min_length: float, grey: bool, turnings: tuple[int, ...]
) -> tuple[float, int, list[_Tip]]:
    """The quarter turn whose tips are most and longest (the first of ``turnings`` wins ties),
    its score and its tips; greyscale objects whose ends are too flat for the tip profile are one
    fingertip each (:func:`_segmented_tip`) when that finds more."""
    best: tuple[float, int, list[_Tip]] = (0.0, turnings[0], [])
    for turns in turnings:
        tips = _pick(_tip_candidates(np.rot90(mask, turns), np.rot90(valid, turns), min_length))
        score = sum(min(t.length, 3 * t.width) for t in tips)
        if score > best[0]:
            best = (score, turns, tips)
    if grey:  # segmented objects: each may be a fingertip with a flat end
        objects = _segmented_tip(mask, valid, min_length, turnings)
        if len(objects[1]) > len(best[2]):
            return (best[0], *objects)
    return best


def _segmented_tip(
    m: BoolArray, valid: BoolArray, min_length: float, turnings: tuple[int, ...]
) -> tuple[int, list[_Tip]]:
    """Already segmented fingertips whose ends are too broad or flat for the tip profile test
    (IMPOSE renders seen at small roll): each of the (up to four) largest objects, at the
    first quarter turn that makes the most of them taller than wide with their rounded end
    up, is one fingertip, its end at the top."""
    labels, n = ndimage.label(m)
    if n == 0:
        return 0, []
    sizes = ndimage.sum(m, labels, index=np.arange(1, n + 1))
    big = np.argsort(-sizes)[:MAX_TIPS]
    objects = [labels == k + 1 for k in big if sizes[k] >= SAME_HAND_WIDTH * sizes.max()]
    best: tuple[int, list[_Tip]] = (0, [])
    for turns in turnings:
        inside = np.rot90(valid, turns)
        tips = [_object_tip(np.rot90(o, turns), inside, min_length) for o in objects]
        found = [t for t in tips if t is not None]
        if len(found) > len(best[1]):
            best = (turns, found)
    return best


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
    own = _own_label(labels, t.x - left)
    tip = ndimage.binary_fill_holes(labels == own) if own else labels > 0
    cols = np.flatnonzero(tip.any(axis=0))
    left, right, tip = left + int(cols[0]), left + int(cols[-1]) + 1, tip[:, cols[0] : cols[-1] + 1]
    box = tuple(round(v / scale) for v in (left, t.y, right, bottom))
    mask = Image.fromarray(tip.astype(np.uint8) * 255).resize((box[2] - box[0], box[3] - box[1]))
    return Fingertip((box[0], box[1], box[2], box[3]), np.asarray(mask) > 127, t.width / scale)


def _own_label(labels: npt.NDArray[np.int32], x: int) -> int:
    """The label of the fingertip at column ``x`` of the box's top rows: the one under ``x``,
    else the nearest one in the first rows (a finger that leans puts its top off ``x``, and
    a neighbouring finger may reach into the box). 0: none."""
    rows, cols = np.nonzero(labels[: max(1, labels.shape[0] // 10)])
    if labels[0, x] or cols.size == 0:
        return int(labels[0, x])
    k = int(np.argmin(np.abs(cols - x) + rows))
    return int(labels[rows[k], cols[k]])


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
