"""The finger region of a photo, on a small copy: skin in a colour photo; in a greyscale image
(an already segmented fingertip on a plain background, a render, an infrared capture) the
object that stands out from the plain background by luminance. Used by
:mod:`mobileid.finger.fingertips`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.params import ContactlessParams
from mobileid.types import RGBArray

__all__ = ["finger_mask", "no_finger"]

BoolArray = npt.NDArray[np.bool_]


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
        raise no_finger(f"no {what}")
    sizes = ndimage.sum(region, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= p.min_finger_share * region.size) + 1
    if keep.size == 0:
        raise no_finger(f"the largest {what} covers {sizes.max() / region.size:.1%}")
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


def _otsu(values: npt.NDArray[np.float32]) -> float:
    hist, edges = np.histogram(values, bins=128)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def no_finger(why: str) -> NotAFingerprint:
    return NotAFingerprint(
        f"image: expected a photo of one to four fingertips filling part of the frame, got {why}",
        reasons=("no_finger",),
        field="image",
    )
