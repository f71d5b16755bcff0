"""Use case: enrol faces from a folder-per-subject directory (LFW layout).

Each capture that enrols also leaves a reference photo (``capture/reference.py``), sealed and
written in the same transaction as the subject's embeddings (``gallery/photos.py``), so that
a person reviewing a candidate can compare faces. Deleting a subject deletes its photos.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mobileid.audit import AuditEvent, EventType
from mobileid.auth import Action
from mobileid.capture.decode import load_image_file
from mobileid.capture.reference import ReferenceImage, reference_image
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InputError, InvalidArgument
from mobileid.gallery.embedded import GALLERY_NAME
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.embedding import EmbedOutcome, Progress, embed_files, file_sha256
from mobileid.service.lookalikes import Lookalike, strong_lookalikes
from mobileid.types import Subject

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".heic",
    ".heif",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
}


@dataclass(frozen=True)
class ImageFailure:
    subject: str
    path: str
    code: str
    message: str


@dataclass
class EnrolReport:
    gallery: str
    pipeline_id: str
    subjects_enrolled: int = 0  # created or extended
    images_added: int = 0
    images_skipped: int = 0  # already enrolled (same content hash)
    photos_added: int = 0  # reference photos kept (one per capture added)
    failures: list[ImageFailure] = field(default_factory=list)
    subjects_failed: list[str] = field(default_factory=list)  # no usable image at all
    # pairs of subjects whose faces reach the strong band against each other (lookalikes.py)
    lookalikes: list[Lookalike] = field(default_factory=list)


class GalleryAudit(Protocol):
    """Appends a gallery change's audit entry in the change's unit of work: the subject, the
    embeddings added (or, negative, removed) and the reference photos kept or removed."""

    def __call__(
        self, uow: UnitOfWork, subject: Subject, embeddings: int, photos: int | None = None
    ) -> None: ...


def gallery_audit(
    ctx: Context, caller: Caller, event: EventType, component: str, *, training: bool
) -> GalleryAudit:
    """How a gallery change's audit entry is appended, in the change's own unit of work."""
    log = ctx.audit  # opened now: opening it inside the unit would wait on its own lock

    def append(
        uow: UnitOfWork, subject: Subject, embeddings: int, photos: int | None = None
    ) -> None:
        added = embeddings >= 0
        details: dict[str, Any] = {
            "gallery": subject.gallery,
            "subject_id": subject.subject_id,
            # counts only; the key names what the number is (the log refuses biometric keys)
            "embeddings_added" if added else "embeddings_removed": abs(embeddings),
            "training": training,
        }
        if photos is not None:
            details["photos_added" if added else "photos_removed"] = photos
        ev = AuditEvent(event, caller.operator, caller.role, component, details=details)
        log.append(uow, ev)

    return append


def open_gallery(
    ctx: Context, caller: Caller, gallery: str, *, training: bool, check_kind: bool = False
) -> None:
    """Make sure ``gallery`` exists before enrolling into it. A new gallery is a
    ``gallery_change`` entry (its name and kind), written before it is created so no gallery
    exists without its entry. An existing gallery named for training (or, with
    ``check_kind``, for either kind) must be of that kind: a gallery's kind never changes."""
    if gallery in ctx.gallery.galleries():
        if training or check_kind:
            ctx.gallery.create_gallery(gallery, training=training)  # checks the kind
        return
    if not GALLERY_NAME.match(gallery):
        ctx.gallery.create_gallery(gallery, training=training)  # raises the naming error
    details = {"change": "created", "gallery": gallery, "training": training}
    ctx.audit.record(
        AuditEvent(EventType.GALLERY_CHANGE, caller.operator, caller.role, "enrol", details=details)
    )
    ctx.gallery.create_gallery(gallery, training=training)


def delete_subject(ctx: Context, caller: Caller, subject_id: str) -> Subject:
    """Remove a subject and its embeddings, audited in the same transaction. The caller must
    be allowed to manage galleries (the console, or an admin): a refusal is audited."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    training = ctx.gallery.get(subject_id).gallery in ctx.gallery.galleries(training=True)
    audit = gallery_audit(ctx, caller, EventType.DELETE, "subjects", training=training)
    with UnitOfWork(ctx.engine) as uow:
        subject = ctx.gallery.remove(subject_id, uow=uow)
        photos = ctx.photos.delete_subject(uow, subject_id)
        audit(uow, subject, -subject.embeddings, photos)
    return subject


def reference_images(ctx: Context, outcomes: list[EmbedOutcome]) -> list[ReferenceImage]:
    """A reference photo of each capture that enrolled. A file that changed or vanished since
    it was embedded gives none (its embedding still counts): the photo is for review only."""
    photos = []
    for outcome in outcomes:
        try:
            decoded = load_image_file(outcome.path, ctx.settings.limits)
        except InputError:
            continue
        if decoded.sha256 == outcome.sha256:
            photos.append(reference_image(decoded))
    return photos


def scan_subject_folders(
    root: Path, suffixes: Collection[str] = IMAGE_SUFFIXES, what: str = "images"
) -> dict[str, list[Path]]:
    """{folder name: files} for each sub-folder of ``root`` holding files with ``suffixes``.
    A symlink loop or an unreadable folder is refused by name, never followed forever."""
    try:
        if not root.is_dir():
            raise InvalidArgument(
                f"DIR: expected a directory of subject folders, got {str(root)!r}", field="DIR"
            )
        root.resolve(strict=True)
        found = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            images = sorted(
                p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes
            )
            if images:
                found[folder.name] = images
    except (OSError, RuntimeError) as exc:  # RuntimeError: pathlib's "Symlink loop from ..."
        raise InvalidArgument(
            f"DIR: expected a readable directory of subject folders, got {str(root)!r} ({exc})",
            field="DIR",
        ) from None
    if not found:
        raise InvalidArgument(
            f"DIR: expected one folder of {what} per subject in {str(root)!r}, found none",
            field="DIR",
        )
    return found


def display_name(folder: str) -> str:
    return folder.replace("_", " ")


def enrol_directory(
    ctx: Context,
    caller: Caller,
    root: Path,
    *,
    gallery: str | None = None,
    source: str | None = None,
    training: bool = False,
    progress: Progress | None = None,
    on_subject: Callable[[str, int, list[ImageFailure]], None] | None = None,
) -> EnrolReport:
    """Enrol every subject folder. Each subject is written in one transaction with the images
    that worked; images that failed are reported and skipped; already-enrolled images are not
    embedded again. The caller must be allowed to manage galleries."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    gallery = gallery or ctx.settings.default_gallery
    folders = scan_subject_folders(root)  # first: it refuses what resolve() cannot follow
    source = source or f"folder:{root.resolve().name}"
    pid = ctx.pipeline.pipeline_id
    open_gallery(ctx, caller, gallery, training=training)
    audit = gallery_audit(ctx, caller, EventType.ENROL, "enrol", training=training)
    todo: list[tuple[str, Path]] = []
    report = EnrolReport(gallery=gallery, pipeline_id=pid)
    for name, images in folders.items():
        for path in images:
            sha = file_sha256(path, ctx.settings.limits.max_file_bytes)
            if sha and ctx.gallery.has_image(gallery, sha, pid):
                report.images_skipped += 1
            else:
                todo.append((name, path))
    outcomes = embed_files([p for _, p in todo], ctx.settings, pid, progress=progress)
    by_subject: dict[str, list[EmbedOutcome]] = {}
    for (name, _), outcome in zip(todo, outcomes, strict=True):
        by_subject.setdefault(name, []).append(outcome)
    added_to: list[tuple[Subject, list[EmbedOutcome]]] = []
    for name, results in by_subject.items():
        failures = [ImageFailure(name, o.path, o.error_code, o.error) for o in results if not o.ok]
        good = [(o.sha256, o.vector) for o in results if o.vector is not None]
        report.failures.extend(failures)
        if not good:
            report.subjects_failed.append(name)
        else:
            photos = reference_images(ctx, [o for o in results if o.ok])
            # The embeddings, their reference photos and the audit entry: all or nothing.
            with UnitOfWork(ctx.engine) as uow:
                subject, added = ctx.gallery.enrol(
                    gallery, name, display_name(name), source, good, pid, uow=uow
                )
                kept = ctx.photos.add(uow, subject, photos)
                audit(uow, subject, added, kept)
            report.images_added += added
            report.photos_added += kept
            report.subjects_enrolled += 1
            added_to.append((subject, [o for o in results if o.ok]))
        if on_subject:
            on_subject(name, len(good), failures)
    report.lookalikes = strong_lookalikes(ctx, gallery, added_to)
    return report
