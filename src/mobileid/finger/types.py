"""Frozen values passed between the fingerprint stages.

Coordinates follow ISO/IEC 19794-2: pixels at 500 ppi, origin at the top left, ``x`` to the
right, ``y`` down; a minutia angle is in radians, counter-clockwise from the ``x`` axis as a
person sees the image (so a ridge running up and to the right has a small positive angle).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

GreyArray = npt.NDArray[np.uint8]
"""A greyscale image, H×W ``uint8``, dark ridges on a light background."""


class MinutiaType(enum.IntEnum):
    """ISO/IEC 19794-2 minutia types (two-bit field)."""

    OTHER = 0
    ENDING = 1
    BIFURCATION = 2


@dataclass(frozen=True, eq=False)
class FingerImage:
    """A contact print at 500 ppi, ready for minutiae extraction."""

    pixels: GreyArray
    ppi: float  # always the working resolution, 500
    source_ppi: float  # the resolution of the file as captured
    ppi_source: str  # "caller", "file" or "assumed" (files that state none or a placeholder)
    sha256: str  # of the encoded bytes
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class RidgeQuality:
    """How much of the image shows a clear ridge pattern, measured block by block."""

    ridge_blocks: int  # blocks with a strong, periodic ridge pattern
    total_blocks: int
    ridge_fraction: float  # ridge_blocks / total_blocks
    foreground_fraction: float  # ridge_blocks / blocks with any contrast
    mean_coherence: float  # orientation coherence over the ridge blocks, 0..1
    mean_frequency: float  # dominant ridge frequency in the ridge blocks, cycles per pixel


@dataclass(frozen=True, eq=False)
class FingerTemplate:
    """Minutiae of one fingerprint and how they were obtained.

    ``minutiae`` is an N×5 ``float32`` array, read-only: x, y, angle (radians, ISO
    convention above), type (:class:`MinutiaType` value), quality (0..1).
    """

    minutiae: npt.NDArray[np.float32]
    width: int
    height: int
    ppi: float
    quality: float  # 0..100, NFIQ 2-style print quality (mobileid.finger.nfiq)
    pipeline_id: str

    def __post_init__(self) -> None:
        m = np.array(self.minutiae, dtype=np.float32, copy=True).reshape(-1, 5)
        m.flags.writeable = False
        object.__setattr__(self, "minutiae", m)

    @property
    def count(self) -> int:
        return int(self.minutiae.shape[0])


@dataclass(frozen=True)
class MatchResult:
    """One 1:1 comparison: a similarity (higher is more alike) and the evidence behind it."""

    score: float
    matched: int  # minutia pairs consistent with one rigid alignment
    rotation_deg: float  # turning the probe onto the candidate, counter-clockwise as seen
    pipeline_id: str
