"""Use case: enrol fingerprints from a folder per subject (contact prints or phone photos).

Each subject is written in one transaction together with its ``enrol`` audit entry; prints
that cannot be used are reported with their reason and skipped, and a subject with no usable
print is not created. Files are named by finger position (``right_index.png``, optionally
``right_index_2.png`` for a second impression) or FVC-style ``NNN_k`` (position unknown).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mobileid.audit import AuditEvent, EventType
from mobileid.auth import Action
from mobileid.capture.files import read_regular
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InputError, InvalidArgument
from mobileid.finger.pipeline import FingerPipeline
from mobileid.gallery.finger_rows import FINGER_POSITIONS, FingerCapture
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.enrol import (
    ImageFailure,
    display_name,
    open_gallery,
    scan_subject_folders,
)
from mobileid.types import Subject

__all__ = ["FingerEnrolReport", "enrol_fingers", "photo_captures", "print_position", "tip_key"]

PRINT_SUFFIXES = {".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".wsq"}

_FVC = re.compile(r"^\d+_\d+$")
_POSITION = re.compile(r"^(?P<pos>[a-z]+_[a-z]+)(?:_\d+)?$")

Progress = Callable[[int, int], None]


@dataclass
class FingerEnrolReport:
    gallery: str
    pipeline_id: str
    training: bool
    subjects_enrolled: int = 0  # created or extended
    prints_added: int = 0
    prints_skipped: int = 0  # already enrolled (same content hash)
    failures: list[ImageFailure] = field(default_factory=list)
    subjects_failed: list[str] = field(default_factory=list)  # no usable print at all


def print_position(path: Path) -> str:
    """``right_index.png`` (or ``right_index_2.png``) → its position; FVC ``NNN_k`` → unknown."""
    stem = path.stem.lower()
    if _FVC.match(stem):
        return "unknown"
    m = _POSITION.match(stem)
    if m and m.group("pos") in FINGER_POSITIONS:
        return m.group("pos")
    raise InvalidArgument(
        f"{path.name}: expected a file named by finger position ({', '.join(FINGER_POSITIONS[1:])}"
        f", optionally _k) or FVC-style NNN_k, got {path.stem!r}",
        field="file_name",
    )


def enrol_fingers(
    ctx: Context,
    caller: Caller,
    root: Path,
    *,
    gallery: str | None = None,
    training: bool = False,
    ppi: float | None = None,
    contactless: bool = False,
    progress: Progress | None = None,
) -> FingerEnrolReport:
    """Enrol every subject folder, one transaction and one audit entry per subject; prints
    that fail are reported and skipped; already-enrolled prints are not extracted again.

    ``contactless``: the files are phone photos (:func:`photo_captures`)."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    gallery = gallery or ctx.settings.default_gallery
    folders = scan_subject_folders(root, PRINT_SUFFIXES, "fingerprints")
    source = f"folder:{root.resolve().name}"
    pipe = ctx.finger_pipeline
    pid = pipe.contactless_pipeline_id if contactless else pipe.pipeline_id
    # naming and kind, before any work
    open_gallery(ctx, caller, gallery, training=training, check_kind=True)
    report = FingerEnrolReport(gallery=gallery, pipeline_id=pid, training=training)
    total, done = sum(len(v) for v in folders.values()), 0
    for name, paths in folders.items():
        captures: list[FingerCapture] = []
        failures: list[ImageFailure] = []
        for path in paths:
            done += 1
            try:
                position = print_position(path)
                data = read_regular(path, ctx.settings.limits.max_file_bytes, field=path.name)
                sha = hashlib.sha256(data).hexdigest()
                if any(ctx.fingers.has_image(gallery, k, pid) for k in (sha, tip_key(sha, 0))):
                    report.prints_skipped += 1
                    continue
                if contactless:
                    got, lost = photo_captures(pipe, path, data, position, sha)
                    captures.extend(got)
                    failures.extend(ImageFailure(name, w, e.code, e.message) for w, e in lost)
                    continue
                template = pipe.enrol_bytes(data, ppi=ppi, field=path.name)
                captures.append(FingerCapture(template, position, sha))
            except InputError as exc:
                failures.append(ImageFailure(name, str(path), exc.code, exc.message))
            except OSError as exc:
                failures.append(ImageFailure(name, str(path), "unreadable", str(exc)))
            if progress:
                progress(done, total)
        report.failures.extend(failures)
        if captures:
            log = ctx.audit  # opened before the unit: opening it inside would wait on its lock
            with UnitOfWork(ctx.engine) as uow:
                subject, added = ctx.fingers.enrol(
                    gallery, name, display_name(name), source, captures, training=training, uow=uow
                )
                log.append(uow, _enrol_event(caller, subject, added, training))
            report.prints_added += added
            report.subjects_enrolled += 1
        elif failures:
            report.subjects_failed.append(name)
    return report


def tip_key(image_sha256: str, tip: int) -> str:
    """The row key of fingertip ``tip`` of a photo of several (one image, several rows)."""
    return hashlib.sha256(f"{image_sha256}:fingertip{tip}".encode()).hexdigest()


def photo_captures(
    pipe: FingerPipeline, path: Path, data: bytes, position: str, sha: str
) -> tuple[list[FingerCapture], list[tuple[str, InputError]]]:
    """The usable fingertips of one photo, and (where, error) for the others. One fingertip
    takes the file name's position; a photo of several needs an FVC-style name (``NNN_k``) and
    each fingertip takes the position the photo tells, or ``unknown``."""
    photo = pipe.enrol_photo_tips(data, field=path.name)
    if len(photo.tips) > 1 and position != "unknown":
        raise InvalidArgument(
            f"{path.name}: expected one fingertip in a photo named by position, got "
            f"{len(photo.tips)}; name a photo of several NNN_k and each fingertip takes the "
            "position the photo tells",
            field="file_name",
        )
    captures, failures = [], []
    for i, t in enumerate(photo.tips):
        if t.template is None:
            assert t.error is not None  # a fingertip without a template carries its error
            failures.append((f"{path} fingertip {i + 1}", t.error))
        elif len(photo.tips) == 1:
            captures.append(FingerCapture(t.template, position, sha))
        else:
            captures.append(FingerCapture(t.template, t.tip.position, tip_key(sha, i)))
    return captures, failures


def _enrol_event(caller: Caller, subject: Subject, added: int, training: bool) -> AuditEvent:
    details = {
        "modality": "finger",
        "gallery": subject.gallery,
        "subject_id": subject.subject_id,
        "templates_added": added,  # a count; the log refuses biometric keys
        "training": training,
    }
    return AuditEvent(EventType.ENROL, caller.operator, caller.role, "enrol", details=details)
