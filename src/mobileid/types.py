"""Frozen typed values passed between pipeline stages and across module boundaries."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RGBArray = npt.NDArray[np.uint8]
"""An image as an H×W×3 uint8 array in RGB order."""

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """A decoded still image, upright (EXIF orientation applied), as 8-bit RGB."""

    pixels: RGBArray
    format: str  # what the content is ("JPEG", "PNG", ...), whatever the file name said
    sha256: str  # of the encoded bytes, so the same file is recognised again
    source_mode: str  # the colour mode before normalisation ("CMYK", "I;16", "P", ...)
    exif_orientation: int  # 1 when none or already upright

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates of the full-resolution image."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)


@dataclass(frozen=True)
class FaceDetection:
    box: Box
    score: float  # detector confidence; higher is more face-like
    detector: str


@dataclass(frozen=True)
class Detections:
    """All faces seen in one image and the one chosen for identification."""

    chosen: FaceDetection
    faces_seen: int
    rule: str  # how ``chosen`` was picked, in words


@dataclass(frozen=True, eq=False)
class Landmarks:
    """The five points of dlib's 5-point model, full-resolution pixel coordinates.

    Order as the model emits them: outer and inner corner of the eye on the image's right,
    outer and inner corner of the eye on the image's left, base of the nose.
    """

    points: npt.NDArray[np.float64]  # 5×2

    @property
    def eye_centers(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        p = self.points
        return (p[0] + p[1]) / 2.0, (p[2] + p[3]) / 2.0

    @property
    def inter_eye_px(self) -> float:
        a, b = self.eye_centers
        return float(np.linalg.norm(a - b))


@dataclass(frozen=True, eq=False)
class AlignedFace:
    chip: RGBArray  # 150×150 aligned crop from the full-resolution image
    landmarks: Landmarks


@dataclass(frozen=True)
class Quality:
    inter_eye_px: float
    sharpness: float  # variance of the Laplacian on the aligned grey chip
    brightness: float  # mean grey level of the chip, 0..255
    contrast: float  # standard deviation of the chip's grey level
    yaw: float  # asymmetry of the nose between the eyes, -1..1 (0 = frontal)
    roll_deg: float  # tilt of the eye line
    problems: tuple[str, ...] = ()  # advice a person can act on; empty when acceptable

    @property
    def acceptable(self) -> bool:
        return not self.problems


@dataclass(frozen=True, eq=False)
class FaceEmbedding:
    vector: Vector  # unit length, so the inner product is the cosine similarity
    pipeline_id: str
    detection: FaceDetection
    faces_seen: int
    quality: Quality


class Band(enum.StrEnum):
    """How strong a candidate is, from its estimated false-match rate."""

    STRONG = "strong"
    POSSIBLE = "possible"
    NONE = "none"


@dataclass(frozen=True)
class Resemblance:
    """Another subject of a candidate's gallery whose face reaches the strong band against the
    candidate's own face: one person enrolled twice, or a look-alike the reviewer must rule
    out before acting on the candidate."""

    subject_id: str
    name: str
    score: float  # the candidate's face against this subject's, read as a search would
    fmr: float


@dataclass(frozen=True)
class Candidate:
    """One gallery entry returned by a search: a lead for human review, never a verdict."""

    subject_id: str
    name: str
    gallery: str
    score: float
    fmr: float
    band: Band
    pipeline_id: str
    source: str = ""
    # for a strong-band face candidate: the other subjects of its gallery it resembles as
    # strongly (service.lookalikes); empty otherwise
    lookalikes: tuple[Resemblance, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    """A raw hit from a gallery index, before calibration."""

    subject_id: str
    score: float


@dataclass(frozen=True)
class Subject:
    subject_id: str
    name: str
    gallery: str
    source: str
    embeddings: int = 0
    created_at: str = ""
