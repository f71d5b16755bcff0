"""What a finger template row is: its table, its sealed payload format, its associated data.

Kept apart from :mod:`.fingers` (the gallery's behaviour) so that key rotation, retention and
tests can read the row format without the search machinery.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mobileid.finger.types import FingerTemplate
from mobileid.gallery.sealing import DeploymentKeyError
from mobileid.gallery.store import Base

__all__ = [
    "FINGER_POSITIONS",
    "FingerCapture",
    "FingerEnrolment",
    "FingerHit",
    "FingerTemplateRow",
    "code_context",
    "pack_code",
    "pack_template",
    "row_context",
    "unpack_codes",
    "unpack_template",
]

# ISO/IEC 19794-2 finger position codes 1..10; 0 is "unknown".
FINGER_POSITIONS = (
    "unknown",
    "right_thumb",
    "right_index",
    "right_middle",
    "right_ring",
    "right_little",
    "left_thumb",
    "left_index",
    "left_middle",
    "left_ring",
    "left_little",
)


class FingerTemplateRow(Base):
    __tablename__ = "finger_templates"
    __table_args__ = (
        UniqueConstraint("gallery", "pipeline_id", "image_sha256"),
        Index("ix_finger_templates_gallery_pipeline", "gallery", "pipeline_id"),
        {"sqlite_autoincrement": True},  # ids never reused: (count, max id) names the set
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True
    )
    gallery: Mapped[str] = mapped_column(String(64))
    position: Mapped[str] = mapped_column(String(16))  # one of FINGER_POSITIONS
    pipeline_id: Mapped[str] = mapped_column(String(200))
    image_sha256: Mapped[str] = mapped_column(String(64))
    template: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || AES-GCM(payload)
    # nonce || AES-GCM(pack_code): what the first stage reads of every row, so that opening a
    # gallery reads these ~1 KB and never the templates. NULL on rows enrolled before
    # migration m0004 until the gallery's next load fills it in (``FingerGallery``).
    screen_code: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True, eq=False)
class FingerCapture:
    """One print to enrol: its template, where it sits on the hand, its image's hash."""

    template: FingerTemplate
    position: str
    image_sha256: str


@dataclass(frozen=True, eq=False)
class FingerEnrolment:
    """One subject of a bulk enrolment (:meth:`FingerGallery.enrol_many`)."""

    reference: str
    name: str
    source: str
    captures: Sequence[FingerCapture]


@dataclass(frozen=True)
class FingerHit:
    """One template scored by the geometric matcher for one probe."""

    subject_id: str
    position: str
    score: float  # similarity, higher is more alike
    matched: int  # minutia pairs under one rigid alignment


def row_context(gallery: str, subject_id: str, position: str, sha: str, pipeline_id: str) -> str:
    """The associated data of one template row (pipeline id last: only it may hold '|')."""
    return f"mobileid/finger-template|{gallery}|{subject_id}|{position}|{sha}|{pipeline_id}"


def code_context(gallery: str, subject_id: str, position: str, sha: str, pipeline_id: str) -> str:
    """The associated data of one row's screen code: another purpose than the template's, so
    neither payload opens in the other's column."""
    return f"mobileid/finger-screen-code|{gallery}|{subject_id}|{position}|{sha}|{pipeline_id}"


_HEAD = struct.Struct("<BIIffI")  # format version, width, height, ppi, quality, minutiae
_FORMAT = 1


def pack_template(t: FingerTemplate) -> bytes:
    """Exact bytes of a template (no quantisation, unlike ISO/ANSI records)."""
    head = _HEAD.pack(_FORMAT, t.width, t.height, t.ppi, t.quality, t.count)
    return head + t.minutiae.astype("<f4").tobytes()


def unpack_template(data: bytes, pipeline_id: str) -> FingerTemplate:
    version, width, height, ppi, quality, n = _HEAD.unpack_from(data)
    if version != _FORMAT or len(data) != _HEAD.size + 20 * n:
        raise DeploymentKeyError(
            f"finger template: expected payload format {_FORMAT} of {_HEAD.size + 20 * n} bytes, "
            f"got format {version} of {len(data)} bytes",
            field="template",
        )
    m = np.frombuffer(data, dtype="<f4", offset=_HEAD.size).reshape(n, 5)
    return FingerTemplate(m, width, height, ppi, quality, pipeline_id)


def pack_code(code: npt.NDArray[np.uint64], tag: bytes) -> bytes:
    """One row's M×W screen code after the ``tag`` of the parameters that made it."""
    return tag + np.ascontiguousarray(code, dtype="<u8").tobytes()


def unpack_codes(
    plain: Sequence[bytes | None], tag: bytes, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """The N×M×W codes of many rows' opened payloads, and which rows had one: a missing
    payload, or one made under other parameters (another ``tag``) or of another shape,
    leaves its row zero and false, for the caller to compute again."""
    size = len(tag) + 8 * shape[0] * shape[1]
    blank = bytes(size)
    kept = [p if p is not None and len(p) == size and p.startswith(tag) else None for p in plain]
    joined = b"".join(blank if p is None else p for p in kept)
    flat = np.frombuffer(joined, dtype=np.uint8).reshape(len(plain), size)[:, len(tag) :]
    codes = np.ascontiguousarray(flat).view("<u8").reshape(len(plain), *shape)
    return codes.astype(np.uint64), np.array([p is not None for p in kept], dtype=bool)
