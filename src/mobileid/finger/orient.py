"""Turning a photo's fingers upright at any angle, not only in quarter turns.

:mod:`mobileid.finger.fingertips` finds fingertips on a mask turned by quarter turns; a finger
held at an angle between them is brought the rest of the way here, so that every fingertip
reaches the unrolling (whose cylinder runs along the image's columns) pointing straight up.

- The coarse angle (:func:`coarse_tilts`), greyscale images: the principal axis of the
  object(s) on the plain background (:func:`object_axis`), turned to the nearest quarter. A
  colour photo's skin mask often holds skin-coloured background (walls, wood) whose axis is
  not the finger's: its fingertips are looked for at several turns and the best kept.
- The fine angle, every image: the midline of each fingertip's finger below its tip
  (:func:`midline_tilt`), the median over the fingertips of a hand.

Rotations of the small mask are nearest-neighbour and carry a ``valid`` mask of where the
original frame is, so that a finger cut by the frame is not taken for a tip once the frame's
edge has turned. The full-resolution photo is turned once (:func:`upright_pixels`), by the sum
of the quarter turns and the tilt, filled with the colour of its border.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.types import RGBArray

__all__ = [
    "MIN_AXIS_COHERENCE",
    "TILT_MIN",
    "coarse_tilts",
    "midline_tilt",
    "object_axis",
    "rotate_mask",
    "row_run",
    "to_quarter",
    "upright_pixels",
]

BoolArray = npt.NDArray[np.bool_]

# Degrees: a finger leaning less than this is left as it is. The unrolling's cylinder then
# leans by at most cos(12°) = 0.98 of a period, and the IMPOSE renders (leaning 2-10° as
# rendered) keep the templates they were measured with.
TILT_MIN = 12.0
# Of the objects' second moments: 0 for a disc, 1 for a line. An IMPOSE fingertip at small
# roll reaches 0.41-0.46 (cut short below its last joint); below 0.3 no axis is trusted.
MIN_AXIS_COHERENCE = 0.3
AXIS_SHARE = 0.25  # objects smaller than this share of the largest do not vote on the axis


def row_run(line: BoolArray, x: int) -> tuple[int, int]:
    """The run of True through ``line[x]`` (which must be True): its start and its end,
    exclusive."""
    left = np.flatnonzero(~line[:x])
    right = np.flatnonzero(~line[x:])
    start = int(left[-1]) + 1 if left.size else 0
    return start, x + int(right[0]) if right.size else line.size


def object_axis(mask: BoolArray) -> float | None:
    """The objects' common long axis, degrees counter-clockwise from the image's x axis
    (rows pointing down), in (-90, 90]; ``None`` when the objects are too round to tell.
    Each object of at least ``AXIS_SHARE`` of the largest votes with its area times its
    elongation, on doubled angles (an axis has no direction)."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    sizes = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
    vote, total = np.zeros(2), 0.0
    for k in np.flatnonzero(sizes >= AXIS_SHARE * sizes.max()):
        rows, cols = np.nonzero(labels == k + 1)
        x, y = cols - cols.mean(), rows.mean() - rows  # y up
        sxx, syy, sxy = float((x * x).mean()), float((y * y).mean()), float((x * y).mean())
        low, high = np.linalg.eigvalsh(np.array([[sxx, sxy], [sxy, syy]]))
        weight = rows.size * (1.0 - low / max(high, 1e-9))
        doubled = math.atan2(2 * sxy, sxx - syy)
        vote += weight * np.array([math.cos(doubled), math.sin(doubled)])
        total += rows.size
    if np.hypot(*vote) < MIN_AXIS_COHERENCE * total:
        return None
    return math.degrees(0.5 * math.atan2(vote[1], vote[0]))


def coarse_tilts(skin: BoolArray, grey: bool) -> tuple[float, ...]:
    """Turns (degrees) to look for fingertips at, before quarter turns. Greyscale: the one
    that makes the objects' axis upright or level (:func:`object_axis`). Colour: none, a third of a
    quarter turn either way and half a quarter turn (the tip profile finds a finger up to
    ~35° from upright, but a diagonal finger's best is half way between two of them)."""
    if not grey:
        return (0.0, 30.0, -30.0, 45.0)
    axis = object_axis(skin)
    tilt = to_quarter(axis) if axis is not None else 0.0
    return (tilt if abs(tilt) >= TILT_MIN else 0.0,)


def to_quarter(axis: float) -> float:
    """Degrees counter-clockwise that turn an axis at ``axis`` degrees onto the nearest of the
    image's axes, in [-45, 45)."""
    return (-axis + 45.0) % 90.0 - 45.0


def rotate_mask(mask: BoolArray, degrees: float) -> tuple[BoolArray, BoolArray]:
    """``mask`` turned ``degrees`` counter-clockwise on an enlarged canvas, and where on that
    canvas the original frame lies."""
    if degrees % 360.0 == 0.0:
        return mask, np.ones_like(mask)

    def turn(m: BoolArray) -> BoolArray:
        image = Image.fromarray(m.astype(np.uint8) * 255)
        out = image.rotate(degrees, resample=Image.Resampling.NEAREST, expand=True)
        return np.asarray(out) > 127

    return turn(mask), turn(np.ones_like(mask))


def midline_tilt(m: BoolArray, x: int, y: int, width: float, length: float) -> float | None:
    """How far the finger whose tip is at column ``x``, row ``y`` of the upright mask ``m``
    leans, degrees counter-clockwise to turn it straight up; ``None`` without enough finger.

    The midline is the centre of each row's run of finger from where the tip has become
    parallel sides (half a width down) to ``length`` rows, over rows whose run is within
    0.7-1.5 widths (where background of skin's colour joins the finger, the run widens)."""
    centres, at = [], []
    top, bottom = round(y + 0.5 * width), min(m.shape[0], round(y + min(length, 3 * width)))
    column = x
    for row in range(top, bottom):
        line = m[row]
        if not line[column]:
            break
        start, stop = row_run(line, column)
        if 0.7 * width <= stop - start <= 1.5 * width:
            centres.append((start + stop - 1) / 2.0)
            at.append(row)
            column = round(centres[-1])  # follow the finger as it leans
    if len(at) < max(5, 0.3 * width):
        return None
    slope = float(np.polyfit(np.asarray(at, float), np.asarray(centres), 1)[0])
    # The base to the right of the tip (slope > 0) leans the finger left: turn clockwise.
    return -math.degrees(math.atan(slope))


def upright_pixels(pixels: RGBArray, quarter_turns: int, tilt: float) -> RGBArray:
    """``pixels`` turned ``quarter_turns`` quarter turns and then ``tilt`` degrees, both
    counter-clockwise, as :func:`mobileid.finger.fingertips.segment_fingertips` turned its
    mask; the new corners take the median colour of the photo's border."""
    if tilt == 0.0:
        return np.ascontiguousarray(np.rot90(pixels, quarter_turns))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    out = Image.fromarray(np.ascontiguousarray(pixels)).rotate(
        90.0 * quarter_turns + tilt,
        resample=Image.Resampling.BICUBIC,
        expand=True,
        fillcolor=fill,
    )
    return np.asarray(out)
