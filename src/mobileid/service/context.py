"""What every use case shares, built once per process: settings, the main database's engine,
galleries, pipelines, calibrations, the audit log and the operator store.

Every store of the main database (galleries, photos, finger templates, audit log, operators,
training records) shares the one engine opened here, so a process holds one connection pool
per database, and a change and its audit entry can commit in one transaction.

Nothing about who is acting lives here: that is the per-request
:class:`~mobileid.service.caller.Caller`, passed to each use case. A ``Context`` is shared by
every thread of a server: its parts are loaded once, under a lock, and the model-holding
pipelines are kept one per thread (dlib's networks keep per-call state).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sqlalchemy.engine import Engine

from mobileid.audit import EmbeddedAuditLog, open_deployment_audit_log
from mobileid.auth import AuthService
from mobileid.config import Settings
from mobileid.database import close_database
from mobileid.errors import PipelineMismatch
from mobileid.face.cohort import FaceScoring
from mobileid.face.pipeline import FacePipeline, load_face_pipeline
from mobileid.face.strata import StratifiedCalibration
from mobileid.finger.nfiq import QUALITY_VERSION
from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline
from mobileid.finger.strata import FingerStrata
from mobileid.gallery.backends import open_vector_index
from mobileid.gallery.embedded import EmbeddedGallery, Progress
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.photos import ReferencePhotos
from mobileid.gallery.protocol import GalleryIndex
from mobileid.scoring import Calibration
from mobileid.service.calibration_files import (
    local_face_calibration,
    local_face_strata,
    shipped_face_calibrations,
    shipped_face_strata,
)
from mobileid.service.database import open_main_database
from mobileid.service.deployment_key import deployment_key
from mobileid.service.face_scoring import check_scoring, load_face_scoring
from mobileid.service.purpose import Purposes
from mobileid.training import TrainingStore
from mobileid.types import Quality


@dataclass
class Context:
    settings: Settings
    gallery: GalleryIndex
    engine: Engine  # the main database's, shared by every store here
    progress: Progress | None = field(default=None, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _auth: AuthService | None = field(default=None, repr=False)
    _calibration: Calibration | None = field(default=None, repr=False)
    _strata: tuple[StratifiedCalibration | None] | None = field(default=None, repr=False)
    _audit: EmbeddedAuditLog | None = field(default=None, repr=False)
    _training: TrainingStore | None = field(default=None, repr=False)
    _fingers: FingerGallery | None = field(default=None, repr=False)
    _photos: ReferencePhotos | None = field(default=None, repr=False)
    _finger_calibration: Calibration | None = field(default=None, repr=False)
    _finger_strata: tuple[FingerStrata | None] | None = field(default=None, repr=False)
    _contactless_calibrations: dict[str, Calibration] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)
    _face_scoring: FaceScoring | None = field(default=None, repr=False)

    @property
    def audit(self) -> EmbeddedAuditLog:
        """The tamper-evident audit log (in the same database as the galleries)."""
        with self._lock:
            if self._audit is None:
                self._audit = open_deployment_audit_log(self.settings, database=self.engine)
            return self._audit

    @property
    def auth(self) -> AuthService:
        """The operator store, opened once per process, reporting its events to the audit log."""
        from mobileid.service.auth_audit import AuditedAuthEvents

        with self._lock:
            if self._auth is None:
                key = deployment_key(self.settings, self.engine)
                events = AuditedAuthEvents(self.audit)
                self._auth = AuthService(self.engine, key, events=events)
            return self._auth

    @property
    def training(self) -> TrainingStore:
        """Practice searches and certifications, in the main database."""
        with self._lock:
            if self._training is None:
                self._training = TrainingStore(self.engine)
            return self._training

    def use_auth(self, auth: AuthService) -> None:
        """Use this operator store (tests choose a cheap password hasher, say)."""
        with self._lock:
            self._auth = auth

    @property
    def purposes(self) -> Purposes:
        return Purposes.load(self.settings.data_dir / "purposes.json")

    @property
    def pipeline(self) -> FacePipeline:
        """This thread's face pipeline (loaded on first use in each thread)."""
        pipe: FacePipeline | None = getattr(self._local, "face", None)
        if pipe is None:
            pipe = self._local.face = load_face_pipeline(self.settings.face)
        return pipe

    @property
    def calibration(self) -> Calibration:
        """The calibration for the current face pipeline; PipelineMismatch when none fits."""
        with self._lock:
            return self._face_calibration()

    @property
    def face_scoring(self) -> FaceScoring:
        """How face scores are made for the current pipeline (:mod:`.face_scoring`)."""
        with self._lock:
            if self._face_scoring is None:
                pid = self.pipeline.pipeline_id
                self._face_scoring = load_face_scoring(self.settings, pid)
            return self._face_scoring

    def _face_calibration(self) -> Calibration:
        if self._calibration is None:
            wanted = self.pipeline.pipeline_id
            for path in (local_face_calibration(self.settings), *shipped_face_calibrations()):
                if path.exists():
                    cal = Calibration.load(path)
                    if cal.matcher == wanted:
                        check_scoring(cal.scoring, self.face_scoring, f"the table {path}")
                        self._calibration = cal
                        break
            else:
                raise PipelineMismatch(
                    f"calibration: expected a score calibration for pipeline {wanted!r}, found "
                    "none (run `mobileid eval faces calibrate --root DIR` on development data)"
                )
        return self._calibration

    def face_calibration_for(self, quality: Quality) -> tuple[str, Calibration]:
        """The quality stratum of a probe capture and the table its scores are read from:
        the stratified calibration of the current pipeline when there is one (local first,
        then shipped), else ``("all", self.calibration)``."""
        with self._lock:
            if self._strata is None:
                wanted = self.pipeline.pipeline_id
                paths = (local_face_strata(self.settings), *shipped_face_strata())
                found = (StratifiedCalibration.load(p) for p in paths if p.exists())
                strata = next((c for c in found if c.matcher == wanted), None)
                for name, table in strata.tables if strata is not None else ():
                    check_scoring(table.scoring, self.face_scoring, f"the {name} stratum table")
                self._strata = (strata,)
            strata = self._strata[0]
            if strata is None or self._local_pooled_only():
                return "all", self._face_calibration()
            return strata.for_quality(quality)

    def _local_pooled_only(self) -> bool:
        """A deployment that measured its own pooled table but no strata uses its own table
        for every capture, not shipped strata measured elsewhere."""
        return (
            local_face_calibration(self.settings).exists()
            and not local_face_strata(self.settings).exists()
        )

    @property
    def fingers(self) -> FingerGallery:
        """Finger templates, in the same database as the face gallery and the audit log."""
        with self._lock:
            if self._fingers is None:
                key = deployment_key(self.settings, self.engine)
                # The same progress line reports the codes computed for finger rows
                # enrolled before codes were stored (the first load after an upgrade). Loaded
                # sets are kept beside the face index files, sealed (a cache of SQL).
                self._fingers = FingerGallery(
                    self.engine,
                    key=key,
                    progress=self.progress,
                    snapshots=self.settings.index_dir / "fingers",
                )
            return self._fingers

    @property
    def photos(self) -> ReferencePhotos:
        """Reference photos of enrolled faces, in the same database as the face gallery."""
        with self._lock:
            if self._photos is None:
                key = deployment_key(self.settings, self.engine)
                self._photos = ReferencePhotos(self.engine, key=key)
            return self._photos

    @property
    def finger_pipeline(self) -> FingerPipeline:
        """This thread's finger pipeline (loaded on first use in each thread)."""
        pipe: FingerPipeline | None = getattr(self._local, "finger", None)
        if pipe is None:
            pipe = self._local.finger = load_finger_pipeline(limits=self.settings.limits)
        return pipe

    @property
    def finger_calibration(self) -> Calibration:
        """The calibration of the contact-print pipeline; PipelineMismatch when none fits."""
        with self._lock:
            return self._finger_cal()

    def _finger_cal(self) -> Calibration:
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

    def finger_calibration_for(self, quality: float) -> tuple[str, Calibration]:
        """The quality stratum of a contact probe print and the table its scores are read
        from: the stratified finger calibration of the current pipeline and quality version
        (``finger-strata.json`` in DATA_DIR/calibration, else the shipped ``strata.json``),
        else ``("all", self.finger_calibration)``. A deployment that measured its own pooled
        table and no strata uses its own table for every print."""
        local = self.settings.data_dir / "calibration" / "finger-strata.json"
        with self._lock:
            if self._finger_strata is None:
                shipped = Path(str(resources.files("mobileid.finger"))) / "strata.json"
                wanted = (self.finger_pipeline.pipeline_id, QUALITY_VERSION)
                found = (FingerStrata.load(p) for p in (local, shipped) if p.exists())
                fits = (s for s in found if (s.matcher, s.quality_version) == wanted)
                self._finger_strata = (next(fits, None),)
            strata = self._finger_strata[0]
            own_pooled = (self.settings.data_dir / "calibration" / "finger.json").exists()
            if strata is None or (own_pooled and not local.exists()):
                return "all", self._finger_cal()
            return strata.for_quality(quality)

    @property
    def contactless_calibrations(self) -> dict[str, Calibration]:
        """Calibrations for phone-photo probes, by ``matcher`` (photo -> contact, photo):
        ``finger-contactless*.json`` in DATA_DIR/calibration, else the shipped
        ``calibration-contactless*.json`` (``mobileid eval fingers-contactless`` writes both)."""
        with self._lock:
            return self._contactless()

    def _contactless(self) -> dict[str, Calibration]:
        if self._contactless_calibrations is None:
            local = sorted(
                (self.settings.data_dir / "calibration").glob("finger-contactless*.json")
            )
            shipped = Path(str(resources.files("mobileid.finger")))
            paths = local or sorted(shipped.glob("calibration-contactless*.json"))
            cals = [Calibration.load(p) for p in paths]
            self._contactless_calibrations = {c.matcher: c for c in cals}
        return self._contactless_calibrations

    def close(self) -> None:
        """Close the stores and release the main database's engine (once)."""
        with self._lock:
            parts = (self._auth, self._audit, self._photos, self._training, self._fingers)
            for part in parts:
                if part is not None:
                    part.close()
            self._auth = self._audit = self._photos = self._training = self._fingers = None
            if not self._closed:
                self._closed = True
                close_gallery = getattr(self.gallery, "close", None)
                if close_gallery is not None:
                    close_gallery()
                close_database(self.engine)


def open_context(settings: Settings, progress: Progress | None = None) -> Context:
    """The context of a data folder and its main database (``settings.database_url``, by
    default the SQLite file in the data folder), upgraded to the newest schema; the
    deployment key is created on first use."""
    engine = open_main_database(settings)
    try:
        key = deployment_key(settings, engine)
        vectors = open_vector_index(
            settings.vector_uri,
            settings.index_dir,
            key=key,
            kind=settings.vector_index,
            timeout=settings.vector_timeout_s,
        )
        gallery = EmbeddedGallery(
            engine,
            settings.index_dir,
            key=key,
            progress=progress,
            search_threads=settings.search_threads,
            vectors=vectors,
        )
    except BaseException:
        close_database(engine)
        raise
    return Context(settings=settings, gallery=gallery, engine=engine, progress=progress)
