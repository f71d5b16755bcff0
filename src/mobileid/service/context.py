"""What a use case needs, built once per process: settings, gallery, pipeline, calibration."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mobileid.audit import EmbeddedAuditLog, open_deployment_audit_log
from mobileid.auth.crypto import load_or_create_key
from mobileid.config import Settings
from mobileid.errors import PipelineMismatch
from mobileid.face.pipeline import FacePipeline, load_face_pipeline
from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline
from mobileid.gallery.backends import open_vector_index
from mobileid.gallery.embedded import EmbeddedGallery, Progress
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.protocol import GalleryIndex
from mobileid.scoring import Calibration
from mobileid.service.purpose import Purposes


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit log records it."""

    operator: str
    role: str
    unit: str | None = None


def console_actor() -> Actor:
    """The local command line: whoever can read the data folder, named by the OS account."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(operator=f"os:{user}", role="console")


def shipped_face_calibrations() -> list[Path]:
    """The calibrations measured for the shipped face pipelines: the default one
    (``calibration.json``) and variants such as ``calibration-noflip.json``."""
    folder = Path(str(resources.files("mobileid.face")))
    return sorted(folder.glob("calibration*.json"))


def local_face_calibration(settings: Settings) -> Path:
    """A calibration measured on this deployment's data overrides the shipped one."""
    return settings.data_dir / "calibration" / "face.json"


@dataclass
class Context:
    settings: Settings
    gallery: GalleryIndex
    actor: Actor = field(default_factory=console_actor)
    _pipeline: FacePipeline | None = field(default=None, repr=False)
    _calibration: Calibration | None = field(default=None, repr=False)
    _audit: EmbeddedAuditLog | None = field(default=None, repr=False)
    _fingers: FingerGallery | None = field(default=None, repr=False)
    _finger_pipeline: FingerPipeline | None = field(default=None, repr=False)
    _finger_calibration: Calibration | None = field(default=None, repr=False)
    _contactless_calibrations: dict[str, Calibration] | None = field(default=None, repr=False)

    @property
    def audit(self) -> EmbeddedAuditLog:
        """The tamper-evident audit log (in the same database as the galleries)."""
        if self._audit is None:
            self._audit = open_deployment_audit_log(self.settings)
        return self._audit

    @property
    def purposes(self) -> Purposes:
        return Purposes.load(self.settings.data_dir / "purposes.json")

    @property
    def pipeline(self) -> FacePipeline:
        if self._pipeline is None:
            self._pipeline = load_face_pipeline(self.settings.face)
        return self._pipeline

    @property
    def calibration(self) -> Calibration:
        """The calibration for the current face pipeline; PipelineMismatch when none fits."""
        if self._calibration is None:
            wanted = self.pipeline.pipeline_id
            for path in (local_face_calibration(self.settings), *shipped_face_calibrations()):
                if path.exists():
                    cal = Calibration.load(path)
                    if cal.matcher == wanted:
                        self._calibration = cal
                        break
            else:
                raise PipelineMismatch(
                    f"calibration: expected a score calibration for pipeline {wanted!r}, found "
                    "none (run `mobileid eval faces calibrate --root DIR` on development data)"
                )
        return self._calibration

    @property
    def fingers(self) -> FingerGallery:
        """Finger templates, in the same database as the face gallery and the audit log."""
        if self._fingers is None:
            key = load_or_create_key(self.settings.deployment_key_path)
            self._fingers = FingerGallery(self.settings.database_path, key=key)
        return self._fingers

    @property
    def finger_pipeline(self) -> FingerPipeline:
        if self._finger_pipeline is None:
            self._finger_pipeline = load_finger_pipeline(limits=self.settings.limits)
        return self._finger_pipeline

    @property
    def finger_calibration(self) -> Calibration:
        """The calibration of the contact-print pipeline; PipelineMismatch when none fits."""
        if self._finger_calibration is None:
            wanted = self.finger_pipeline.pipeline_id
            shipped = Path(str(resources.files("mobileid.finger"))) / "calibration.json"
            for path in (self.settings.data_dir / "calibration" / "finger.json", shipped):
                if path.exists() and (cal := Calibration.load(path)).matcher == wanted:
                    self._finger_calibration = cal
                    break
            else:
                raise PipelineMismatch(
                    f"calibration: expected a finger score calibration for pipeline {wanted!r}, "
                    "found none (measure one with mobileid.eval.fingers.calibrate)"
                )
        return self._finger_calibration

    @property
    def contactless_calibrations(self) -> dict[str, Calibration]:
        """Calibrations for phone-photo probes, by ``matcher`` (photo -> contact, photo):
        ``finger-contactless*.json`` in DATA_DIR/calibration, else the shipped
        ``calibration-contactless*.json`` (``mobileid eval fingers-contactless`` writes both)."""
        if self._contactless_calibrations is None:
            local = sorted(
                (self.settings.data_dir / "calibration").glob("finger-contactless*.json")
            )
            shipped = Path(str(resources.files("mobileid.finger")))
            paths = local or sorted(shipped.glob("calibration-contactless*.json"))
            cals = [Calibration.load(p) for p in paths]
            self._contactless_calibrations = {c.matcher: c for c in cals}
        return self._contactless_calibrations


def open_context(settings: Settings, progress: Progress | None = None) -> Context:
    """The context of a data folder; its deployment key is created on first use."""
    key = load_or_create_key(settings.deployment_key_path)
    vectors = open_vector_index(
        settings.vector_uri, settings.index_dir, key=key, kind=settings.vector_index
    )
    gallery = EmbeddedGallery(
        settings.database_path,
        settings.index_dir,
        key=key,
        progress=progress,
        search_threads=settings.search_threads,
        vectors=vectors,
    )
    return Context(settings=settings, gallery=gallery)
