"""The tip profile: where a finger mask's top edge peaks, the fingertips of an upright hand.

Internal to :mod:`mobileid.finger.fingertips` (hence the underscore names), which explains the
test: a peak of the top profile (first skin row of each column) is a fingertip when the frame
does not cut it, it stands ``TIP_PROMINENCE`` finger widths above the profile beside it, and
the finger runs on below it for the given length with its sides no closer than ``MIN_SIDES``.
An already segmented object's tip is its rounded end (:func:`_object_tip`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal  # type: ignore[import-untyped]

from mobileid.finger.orient import row_run

# Segmentation constants not in ContactlessParams (they change CONTACTLESS_VERSION).
TIP_PROMINENCE = 0.2  # finger widths the tip stands above the profile beside it
MIN_SIDES = 0.65  # finger widths the sides may close in over that length (a chin: to ~0.4)
MIN_TIP_WIDTH = 0.04  # of the work copy's shorter side
BEND_SLACK = 1.0  # px of the work copy: ends whose straightness differs less are alike

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Tip:
    x: int  # column of the tip, work copy
    y: int  # row of the tip
    width: float
    length: float  # rows of finger below the tip
    band: tuple[int, int]  # columns this finger may use


def _cut(valid: BoolArray, y: int, x: int) -> bool:
    """Whether a tip at row ``y``, column ``x`` is where the frame cuts the finger: at the
    top row, or (the mask turned at an angle) just below the original frame's edge."""
    return y <= 1 or not valid[max(0, y - 3) : y, max(0, x - 2) : x + 3].all()


def _tip_candidates(m: BoolArray, valid: BoolArray, min_length: float) -> list[_Tip]:
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
        if _cut(valid, y, int(x)):  # the frame cuts this "tip": the finger leaves the picture
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
        start, stop = row_run(row, x)
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


def _object_tip(o: BoolArray, inside: BoolArray, min_length: float) -> _Tip | None:
    rows = np.flatnonzero(o.any(axis=1))
    widths = o[rows].sum(axis=1).astype(np.float64)
    k = max(1, rows.size // 6)
    x = int(np.median(np.flatnonzero(o[rows[0]])))  # on the object: its label is the tip's
    bend = _bend(o) - _bend(o[::-1])
    if abs(bend) < BEND_SLACK:  # both ends as round (or as straight): the narrower is the tip
        bend = widths[-k:].mean() - widths[:k].mean()
    if _cut(inside, int(rows[0]), x) or bend <= 0:
        return None  # cut by the frame's top, or its top end is the straight (cut) one
    width = float(np.median(widths[rows.size // 3 :]))
    if rows.size < min_length * width:
        return None
    return _Tip(x, int(rows[0]), width, float(rows.size), (0, o.shape[1]))


def _bend(o: BoolArray) -> float:
    """How far the top edge of object ``o`` is from a straight line (RMS rows, over its middle
    80% of columns): a fingertip is rounded, the end where a segmented finger was cut is
    straight, level or (the finger turned at an angle) not."""
    cols = np.flatnonzero(o.any(axis=0))
    cols = cols[round(0.1 * cols.size) : max(2, round(0.9 * cols.size))]
    if cols.size < 3:
        return 0.0
    top = o[:, cols].argmax(axis=0).astype(np.float64)
    fit = np.polyval(np.polyfit(cols.astype(np.float64), top, 1), cols)
    return float(np.sqrt(np.mean((top - fit) ** 2)))
