"""The ridge period of a fingertip in a photo, from the spectrum of its centre.

Internal to :mod:`mobileid.finger.contactless` (measurements in its docstring): where to look
for the period follows from the finger's width in the photo (``ContactlessParams``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.params import ContactlessParams

__all__ = ["PERIOD_EDGE", "find_period", "period_range", "ridge_period"]

# Not yet in ContactlessParams (it changes CONTACTLESS_VERSION).
PERIOD_EDGE = 3  # of 39 bins at either end of the period search: a peak there is no period


def ridge_period(grey: npt.NDArray[np.float32], lo: float, hi: float) -> tuple[float, bool]:
    """Dominant ridge period (px, in ``[lo, hi]``) of the centre of ``grey``, and whether it is
    a peak inside the range: at either edge, the spectrum only rises beyond it (skin without
    ridges, fabric, a face), and the period is no ridge period."""
    h, w = grey.shape
    side = min(h, w) // 2
    if side < 2:  # a sliver of a fingertip box: nothing to take a spectrum of
        return hi, False
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
    weighted = energy * centres  # 1/f-weighted
    k = int(np.argmax(weighted))
    # The bins are coarse (40 over the range): the period is the weighted mean frequency of
    # the peak and its neighbours.
    near = slice(max(0, k - 1), k + 2)
    total = float(np.sum(weighted[near]))
    if total <= 0.0:  # a flat crop (a blank patch of skin or wall): no spectrum, no period
        return hi, False
    f = float(np.sum(weighted[near] * centres[near])) / total
    return 1.0 / f, PERIOD_EDGE <= k < centres.size - PERIOD_EDGE


def find_period(
    grey: npt.NDArray[np.float32], width: float, p: ContactlessParams, greyscale: bool
) -> tuple[float, bool, tuple[float, float]]:
    """The ridge period (px in the photo), whether it is one, and the range it was found in.

    A colour fingertip is searched in the typical range first; where its spectrum peaks at
    that range's edge (a side view, a thumb, fine ridges), in the anatomical one, if the
    finger is wide enough for all of it to lie above ``min_period`` (280 px): a smaller one is
    judged on the typical range alone, as before. Every fingertip the typical range accepts
    keeps its period, hence its template."""
    shares = (
        (p.min_period_of_width_grey, p.max_period_of_width_grey)
        if greyscale
        else (p.min_period_of_width, p.max_period_of_width)
    )
    span = period_range(width, p, shares)
    period, found = ridge_period(grey, *span)
    if found or greyscale or width * p.anatomical_period_of_width[0] < p.min_period:
        return period, found, span
    wide = period_range(width, p, p.anatomical_period_of_width)
    wide_period, wide_found = ridge_period(grey, *wide)
    return (wide_period, True, wide) if wide_found else (period, False, wide)


def period_range(
    width: float, p: ContactlessParams, shares: tuple[float, float]
) -> tuple[float, float]:
    """Where to look for the ridge period, px in the photo, from the finger's width."""
    lo = max(p.min_period, width * shares[0])
    return lo, max(min(p.max_period, width * shares[1]), lo + 1.0)
