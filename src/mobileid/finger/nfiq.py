"""Per-print quality in the manner of NFIQ 2: open image features and the minutiae, 0-100.

NFIQ 2 (NIST IR 8382 and ISO/IEC 29794-4) scores a 500 ppi print from block-wise features
(orientation certainty, local clarity, frequency-domain analysis, ridge-valley uniformity,
orientation flow), the region of interest and the minutiae count, combined by a random forest
trained on comparison scores. Its binary is not available here, so this module measures the
same kind of open features and combines them by a fixed, documented rule instead of a trained
model: every feature is mapped to 0..1 between a "useless" and a "good" anchor (chosen from
what the features mean, before any score was looked at), and the score is 100 times their
weighted geometric mean, so one very poor aspect (no area, no minutiae, no clear ridges)
pulls the whole print down rather than being averaged away. The anchors span the range each
feature takes on FVC2002 prints (LEADER's confidences lie between 0.7 and 0.95, for example);
they were set from the features' values alone, not from comparison scores.

Features, measured on 24 px blocks (2-3 ridge periods) of the print's foreground (blocks with
contrast relative to the image's own, as in :mod:`mobileid.finger.quality`):

============  =====================================================================  ==========
name          what                                                                   anchors
============  =====================================================================  ==========
certainty     orientation certainty (gradient coherence, NFIQ 2's OCL), median       0.3 .. 0.8
clarity       share of a block's AC energy at its spectral peak and next to it       0.3 .. 0.8
              (NFIQ 2's FDA / LCS: one clean sinusoid scores high), median
flow          1 - mean angle to the 4 neighbouring blocks' orientation / 45°          0.3 .. 0.85
              (NFIQ 2's OF: ridges turn slowly)
frequency     1 - median relative deviation of a block's ridge frequency from the     0.5 .. 0.9
              print's (ridge spacing varies slowly)
area          ridge-block area, px² at 500 ppi (NFIQ 2's ROI)                        96² .. 260²
minutiae      minutiae found                                                         5 .. 40
reliability   mean LEADER confidence of the minutiae                                 0.6 .. 0.95
============  =====================================================================  ==========
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped]

from mobileid.finger.params import RidgeParams
from mobileid.finger.quality import contrast_blocks
from mobileid.finger.types import GreyArray

__all__ = ["QUALITY_VERSION", "PrintQuality", "orientation_certainty", "print_quality"]

# Names the features, anchors and weights: a stored quality is comparable only within it.
QUALITY_VERSION = "nfiq2-style/1"

F32 = npt.NDArray[np.float32]

# name: (useless, good, weight). Image features weigh as much together as area and minutiae.
_ANCHORS: dict[str, tuple[float, float, float]] = {
    "certainty": (0.3, 0.8, 1.0),
    "clarity": (0.3, 0.8, 1.0),
    "flow": (0.3, 0.85, 0.5),
    "frequency": (0.5, 0.9, 0.5),
    "area": (96.0 * 96.0, 260.0 * 260.0, 1.0),
    "minutiae": (5.0, 40.0, 1.0),
    "reliability": (0.6, 0.95, 1.0),
}


@dataclass(frozen=True)
class PrintQuality:
    """The features of one print (raw values, see the module table) and its 0-100 score."""

    score: int
    certainty: float
    clarity: float
    flow: float
    frequency: float
    area: float
    minutiae: float
    reliability: float

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _blocks(pixels: GreyArray, p: RidgeParams) -> tuple[F32, int, int]:
    b = p.block
    rows, cols = pixels.shape[0] // b, pixels.shape[1] // b
    img = ndimage.gaussian_filter(pixels[: rows * b, : cols * b].astype(np.float32), p.pre_blur)
    return img.reshape(rows, b, cols, b).transpose(0, 2, 1, 3).reshape(-1, b, b), rows, cols


def _block_features(blocks: F32, p: RidgeParams) -> dict[str, F32]:
    """Per block: contrast, coherence, doubled orientation angle, peak share, peak frequency."""
    b = p.block
    centred = blocks - blocks.mean(axis=(1, 2), keepdims=True)
    window = np.outer(np.hanning(b), np.hanning(b)).astype(np.float32)
    power = np.abs(np.fft.fft2(centred * window)) ** 2
    f = np.fft.fftfreq(b)
    radius = np.hypot(f[:, None], f[None, :])
    power[:, radius < p.min_freq / 2] = 0.0  # shading, not ridges
    flat = power.reshape(power.shape[0], -1)
    peak = flat.argmax(axis=1)
    # Energy at the peak and its 8 neighbours (both halves of the symmetric spectrum).
    near = ndimage.uniform_filter(power, size=(1, 3, 3), mode="wrap") * 9.0
    peak_share = 2.0 * near.reshape(near.shape[0], -1)[np.arange(peak.size), peak]
    gxx, gyy, gxy = _moments(blocks)
    return {
        "std": blocks.std(axis=(1, 2)),
        "coherence": _coherence(gxx, gyy, gxy),
        "angle2": np.arctan2(2 * gxy, gxx - gyy),
        "peak_share": np.minimum(1.0, peak_share / (flat.sum(axis=1) + 1e-9)),
        "freq": radius.ravel()[peak],
    }


def _moments(blocks: F32) -> tuple[F32, F32, F32]:
    """Per block: the gradient's second moments gx², gy², gx·gy, summed."""
    gy, gx = np.gradient(blocks, axis=(1, 2))
    return (gx * gx).sum((1, 2)), (gy * gy).sum((1, 2)), (gx * gy).sum((1, 2))


def _coherence(gxx: F32, gyy: F32, gxy: F32) -> F32:
    """Gradient orientation coherence, 0 (no direction) .. 1 (one direction)."""
    return np.asarray(np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / (gxx + gyy + 1e-9))


def _foreground(std: F32, p: RidgeParams) -> npt.NDArray[np.bool_]:
    """The blocks with contrast: a spread of at least ``min_std`` and ``min_std_share`` of the
    90th-percentile block's."""
    return np.asarray(std >= max(p.min_std, p.min_std_share * float(np.percentile(std, 90))))


def orientation_certainty(
    pixels: GreyArray, params: RidgeParams | None = None, *, net_of_noise: bool = False
) -> float:
    """The ``certainty`` feature of :func:`print_quality` alone (no spectra, no minutiae):
    the median coherence of the print's foreground blocks.

    ``net_of_noise``: the foreground counted by contrast net of the sensor's noise
    (:func:`mobileid.finger.quality.contrast_blocks`), so that a noisy sensor's empty plate,
    whose noise gives it contrast and no direction, does not count as print."""
    p = params or RidgeParams()
    blocks, _, _ = _blocks(pixels, p)
    if blocks.shape[0] == 0:
        return 0.0
    if net_of_noise:
        fg = contrast_blocks(pixels, p.block, p.min_std, p.min_std_share, net_of_noise=True)
        fg = fg.reshape(-1)
    else:
        fg = _foreground(blocks.std(axis=(1, 2)), p)
    return float(np.median(_coherence(*_moments(blocks[fg])))) if fg.any() else 0.0


def _flow(angle2: F32, fg: npt.NDArray[np.bool_]) -> float:
    """1 - mean angle between a foreground block's orientation and its foreground
    4-neighbours', over 45° (90° of doubled angle)."""
    diffs = []
    for dy, dx in ((0, 1), (1, 0)):
        a, b = angle2[: angle2.shape[0] - dy, : angle2.shape[1] - dx], angle2[dy:, dx:]
        both = fg[: fg.shape[0] - dy, : fg.shape[1] - dx] & fg[dy:, dx:]
        d = np.abs(np.angle(np.exp(1j * (a - b))))[both]  # doubled angle: 0..π
        diffs.append(d)
    d = np.concatenate(diffs)
    return float(1.0 - min(1.0, d.mean() / (np.pi / 2))) if d.size else 0.0


def _ramp(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def print_quality(
    pixels: GreyArray, minutiae: npt.NDArray[np.float32], params: RidgeParams | None = None
) -> PrintQuality:
    """The NFIQ 2-style quality of a 500 ppi print (dark ridges) and its minutiae (N×5)."""
    p = params or RidgeParams()
    blocks, rows, cols = _blocks(pixels, p)
    if blocks.shape[0] == 0:
        return PrintQuality(0, 0.0, 0.0, 0.0, 0.0, 0.0, float(minutiae.shape[0]), 0.0)
    feats = _block_features(blocks, p)
    fg = _foreground(feats["std"], p)
    ridge = fg & (feats["coherence"] >= p.min_coherence)
    freq = feats["freq"][ridge]
    f0 = float(np.median(freq)) if freq.size else 0.0
    raw = {
        "certainty": float(np.median(feats["coherence"][fg])) if fg.any() else 0.0,
        "clarity": float(np.median(feats["peak_share"][fg])) if fg.any() else 0.0,
        "flow": _flow(feats["angle2"].reshape(rows, cols), fg.reshape(rows, cols)),
        "frequency": float(1.0 - np.median(np.abs(freq - f0)) / f0) if f0 > 0 else 0.0,
        "area": float(ridge.sum() * p.block * p.block),
        "minutiae": float(minutiae.shape[0]),
        "reliability": float(minutiae[:, 4].mean()) if minutiae.shape[0] else 0.0,
    }
    logs, weights = 0.0, 0.0
    for name, (lo, hi, w) in _ANCHORS.items():
        logs += w * np.log(max(_ramp(raw[name], lo, hi), 0.01))
        weights += w
    score = round(100.0 * float(np.exp(logs / weights)))
    return PrintQuality(score=score, **raw)
