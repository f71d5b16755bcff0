"""Every tuning constant and deployment setting, in one place.

Settings come from defaults, overridden by ``MOBILEID_*`` environment variables (the CLI
passes its flags on top). They are plain frozen dataclasses, so a test or a deployment builds
exactly the settings it wants with ``dataclasses.replace``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobileid.errors import InvalidArgument

if TYPE_CHECKING:
    from mobileid.database.engines import Database


# The default bound on each Milvus request (MOBILEID_VECTOR_TIMEOUT_S), also for an index
# built directly rather than from settings.
VECTOR_TIMEOUT_S = 10.0


def _require(ok: bool, name: str, expected: str, got: object) -> None:
    """Refuse a setting out of its range when the settings are built, before anything runs."""
    if not ok:
        raise InvalidArgument(f"{name}: expected {expected}, got {got!r}", field=name)


@dataclass(frozen=True)
class CaptureLimits:
    """Limits applied before and while decoding an uploaded image."""

    max_file_bytes: int = 30 * 1024 * 1024  # a 12 MP phone JPEG is 3-8 MB; HEIC less
    max_pixels: int = 64_000_000  # a 48 MP phone sensor fits; a decompression bomb does not
    max_dimension: int = 12_000  # longest side, checked from the header before decoding
    min_dimension: int = 32  # below this there is no face to find

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            _require(v > 0, f"MOBILEID_LIMIT_{f.name.upper()}", "a positive number", v)
        _require(
            self.min_dimension <= self.max_dimension,
            "MOBILEID_LIMIT_MIN_DIMENSION",
            f"<= max_dimension ({self.max_dimension})",
            self.min_dimension,
        )


@dataclass(frozen=True)
class FaceParams:
    """Detection, alignment and quality constants of the face pipeline."""

    detector: str = "hog"  # "hog" (fast) or "cnn" (dlib MMOD: ~100x slower, finds more)
    detect_max_side: int = 640  # detection runs on a copy no larger than this
    # LFW-sized faces (~100 px) are found at upsample 0 in a 250 px image; small faces in a
    # large photo are handled by detecting on the 640 px copy, upsampled once.
    hog_upsample: int = 1
    # dlib HOG box scores. Measured on lfw-dev at upsample 0: the labelled (central) face
    # scores >= 0.3 in 98.5% of 2,520 images, median 1.79, but 37 score lower while a
    # bystander scores higher; HOG's weak false boxes score 0.04-0.28. A pass with no box
    # over hog_min_score is not trusted until upsampled HOG and the CNN have looked (see
    # detect_faces); boxes under hog_weak_floor (dlib's own default) never count.
    hog_min_score: float = 0.3
    hog_weak_floor: float = 0.0
    cnn_fallback: bool = True  # when HOG finds nothing, try the CNN detector once
    chip_size: int = 150  # dlib ResNet input
    chip_padding: float = 0.25
    flip_average: bool = True  # embed the mirror image too and average: more stable
    # Quality gates: a capture failing one is refused with advice. Measured on lfw-dev (2,515
    # news photos, all of which the matcher handles): inter-eye 24-61 px, sharpness 4.3-259
    # (a Gaussian blur of 2 px at 250 px scale gives ~2), brightness 45-197, contrast 14.5-81,
    # |yaw| up to 1.09, |roll| up to 20 degrees. The gates sit just outside those ranges, so
    # they refuse captures worse than anything in that set, not merely unusual ones.
    min_inter_eye_px: float = 20.0
    min_sharpness: float = 3.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    min_contrast: float = 12.0
    max_abs_yaw: float = 1.0
    max_abs_roll_deg: float = 35.0

    def __post_init__(self) -> None:
        _require(
            self.detector in ("hog", "cnn"), "MOBILEID_FACE_DETECTOR", "hog or cnn", self.detector
        )
        for name in ("detect_max_side", "chip_size"):
            v = getattr(self, name)
            _require(v > 0, f"MOBILEID_FACE_{name.upper()}", "a positive number", v)
        _require(self.hog_upsample >= 0, "MOBILEID_FACE_HOG_UPSAMPLE", ">= 0", self.hog_upsample)


@dataclass(frozen=True)
class BandParams:
    """Bands are defined by the estimated false-match rate per comparison."""

    strong_fmr: float = 1e-5
    possible_fmr: float = 1e-3

    def __post_init__(self) -> None:
        # a NaN or negative bound would otherwise be accepted and silently never reached
        for name in ("strong_fmr", "possible_fmr"):
            v = getattr(self, name)
            ok = isinstance(v, int | float) and 0.0 < v <= 1.0
            _require(ok, f"MOBILEID_BAND_{name.upper()}", "a false-match rate in (0, 1]", v)
        _require(
            self.strong_fmr <= self.possible_fmr,
            "MOBILEID_BAND_STRONG_FMR",
            f"<= possible_fmr ({self.possible_fmr!r})",
            self.strong_fmr,
        )


@dataclass(frozen=True)
class CertificationParams:
    """What an operator's practice record must show before a supervisor may certify them
    (``MOBILEID_CERT_*``), and how long a certification lasts."""

    min_practice_searches: int = 20
    min_quality_rate: float = 0.9  # fraction of practice captures passing the quality gates
    min_mate_first_rate: float = 0.8  # fraction of practice searches ranking the mate first
    valid_days: float = 365.0

    def __post_init__(self) -> None:
        for name in ("min_quality_rate", "min_mate_first_rate"):
            v = getattr(self, name)
            _require(0.0 <= v <= 1.0, f"MOBILEID_CERT_{name.upper()}", "a share in [0, 1]", v)
        n = self.min_practice_searches
        _require(n >= 0, "MOBILEID_CERT_MIN_PRACTICE_SEARCHES", ">= 0", n)
        # 0: a certification lapses as soon as it is made (every live search refused)
        _require(self.valid_days >= 0, "MOBILEID_CERT_VALID_DAYS", "days >= 0", self.valid_days)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path("mobileid-data"))
    limits: CaptureLimits = field(default_factory=CaptureLimits)
    face: FaceParams = field(default_factory=FaceParams)
    bands: BandParams = field(default_factory=BandParams)
    certification: CertificationParams = field(default_factory=CertificationParams)
    default_gallery: str = "default"
    workers: int = 2  # processes used for enrolment and evaluation
    # FAISS threads per search. An exact search of one query is a matrix-vector product: on 2
    # busy cores a second OpenMP thread mostly spin-waits (measured: 1M vectors 50 ms with 1
    # thread, 160 ms with 2; 10k vectors 0.5 ms against 16 ms). An IVF index shares one
    # query's cells among the threads (faiss_kinds.tune): on cores that are otherwise idle, 2
    # threads halve a search (docs/sizing.md); on a busy machine keep 1.
    search_threads: int = 1
    # The audit log signs its head after this many entries (1: every entry, so no entry is
    # ever left unsigned), and at the latest when the oldest unsigned entry is this old.
    audit_checkpoint_every: int = 1
    audit_checkpoint_minutes: float = 5.0
    # Where signed heads are also kept (default DATA_DIR/audit-witness): put it on another
    # volume or machine, out of reach of whoever can write the database.
    audit_witness_dir: Path | None = None
    audit_witness_url: str | None = None  # a remote witness (https://, syslog+tls://...)
    # Before an action, the whole log is re-verified against the witness when the last full
    # verification is older than this (0: before every action). Between full verifications
    # only the stretch after the last signed head is checked.
    audit_full_verify_minutes: float = 15.0
    # The main database (galleries, subjects, embeddings, reference photos, audit log,
    # operators, training records): None = the SQLite file DATA_DIR/mobileid.sqlite3; or a
    # URL such as ``postgresql://USER:PASSWORD@HOST/DB``. Upgraded to the newest schema on start.
    database_url: str | None = None
    # A file holding the PostgreSQL password (a Docker or Kubernetes secret), added to
    # ``database_url``, which then names no password itself.
    database_password_file: Path | None = None
    # Each wait on the main database ends after this many seconds with backend_unavailable
    # instead of hanging: connecting, a lock another transaction holds (SQLite's write lock,
    # PostgreSQL's row and table locks) and, on PostgreSQL, any one statement. Reads of many
    # rows go in batches, and migrations are exempt, so no healthy statement comes near it.
    database_timeout_s: float = 10.0
    # Where face vectors are searched: None = FAISS files in the data folder; a Milvus
    # server (``http://HOST:19530``) or Milvus Lite (a path ending in ``.db``). SQL stays the
    # source of truth either way.
    vector_uri: str | None = None
    # Each request to a Milvus server or Milvus Lite ends after this many seconds with
    # backend_unavailable (collection changes: at least 60 s); on a server, one that runs it
    # out opens the circuit breaker, so a limit below a healthy search's time fails them all.
    vector_timeout_s: float = VECTOR_TIMEOUT_S
    # The embedded index's kind: "auto" (exact below 200,000 vectors, IVF-SQ8 with exact
    # re-ranking above), "exact" or "ivf".
    vector_index: str = "auto"

    def __post_init__(self) -> None:
        for name in ("workers", "search_threads", "audit_checkpoint_every"):
            v = getattr(self, name)
            _require(v >= 1, f"MOBILEID_{name.upper()}", ">= 1", v)
        m = self.audit_checkpoint_minutes
        _require(m > 0, "MOBILEID_AUDIT_CHECKPOINT_MINUTES", "minutes > 0", m)
        m = self.audit_full_verify_minutes
        _require(m >= 0, "MOBILEID_AUDIT_FULL_VERIFY_MINUTES", "minutes >= 0", m)
        # NaN and infinity too: a wait bounded by neither ever gives up
        for name in ("vector_timeout_s", "database_timeout_s"):
            t = getattr(self, name)
            ok = isinstance(t, int | float) and 0 < t < math.inf
            _require(ok, f"MOBILEID_{name.upper()}", "seconds > 0", t)

    @property
    def database_path(self) -> Path:
        """The embedded main database's file (used when ``database_url`` is not set)."""
        return self.data_dir / "mobileid.sqlite3"

    @property
    def main_database(self) -> Database:
        """The main database as every opener takes it: its URL (``main_database_url``) with
        the bound on each wait (``database_timeout_s``)."""
        from mobileid.database.engines import Database

        return Database(self.main_database_url, self.database_timeout_s)

    @property
    def main_database_url(self) -> str:
        """The URL of the main database: ``database_url`` (with the password of
        ``database_password_file``, read now: show it only through ``redacted``), else the
        embedded SQLite file."""
        # Imported here: the database package brings SQLAlchemy and Alembic, which reading
        # settings (every command, every worker process) need not load.
        from mobileid.database.engines import with_password_file

        if self.database_url is None:
            return f"sqlite:///{self.database_path}"
        return with_password_file(self.database_url, self.database_password_file)

    @property
    def witness_dir(self) -> Path:
        return self.audit_witness_dir or self.data_dir / "audit-witness"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def deployment_key_path(self) -> Path:
        """The 32-byte AES key sealing biometric data and secrets at rest (mode 0600). Back it
        up apart from the database: without it the stored embeddings cannot be read."""
        return self.data_dir / "keys" / "deployment.key"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``MOBILEID_DATA_DIR``, ``MOBILEID_DATABASE_URL``,
        ``MOBILEID_DATABASE_PASSWORD_FILE``, ``MOBILEID_DATABASE_TIMEOUT_S``, ``MOBILEID_WORKERS``,
        ``MOBILEID_VECTOR_URI``, ``MOBILEID_VECTOR_TIMEOUT_S``,
        ``MOBILEID_VECTOR_INDEX``, ``MOBILEID_FACE_*``, ``MOBILEID_LIMIT_*``,
        ``MOBILEID_BAND_*`` and ``MOBILEID_CERT_*`` variables, then ``overrides``."""
        env = dict(os.environ if environ is None else environ)
        s = cls()
        if "MOBILEID_DATA_DIR" in env:
            s = replace(s, data_dir=Path(env["MOBILEID_DATA_DIR"]))
        for key, kind in _NUMBERS.items():
            name = "MOBILEID_" + key.upper()
            if name in env:
                s = replace(s, **{key: _parse(name, env[name], kind)})
        if env.get("MOBILEID_AUDIT_WITNESS_DIR"):
            s = replace(s, audit_witness_dir=Path(env["MOBILEID_AUDIT_WITNESS_DIR"]))
        if env.get("MOBILEID_AUDIT_WITNESS_URL"):
            s = replace(s, audit_witness_url=env["MOBILEID_AUDIT_WITNESS_URL"])
        if env.get("MOBILEID_DATABASE_URL"):
            s = replace(s, database_url=env["MOBILEID_DATABASE_URL"])
        if env.get("MOBILEID_DATABASE_PASSWORD_FILE"):
            path = Path(env["MOBILEID_DATABASE_PASSWORD_FILE"])
            s = replace(s, database_password_file=path)
        if env.get("MOBILEID_VECTOR_URI"):
            s = replace(s, vector_uri=env["MOBILEID_VECTOR_URI"])
        if env.get("MOBILEID_VECTOR_INDEX"):
            s = replace(s, vector_index=env["MOBILEID_VECTOR_INDEX"])
        s = replace(
            s,
            limits=_from_prefix(s.limits, "MOBILEID_LIMIT_", env),
            face=_from_prefix(s.face, "MOBILEID_FACE_", env),
            bands=_from_prefix(s.bands, "MOBILEID_BAND_", env),
            certification=_from_prefix(s.certification, "MOBILEID_CERT_", env),
        )
        return replace(s, **overrides)


# The numeric settings read from MOBILEID_<NAME>, and their types.
_NUMBERS: dict[str, type] = {
    "workers": int,
    "search_threads": int,
    "audit_checkpoint_every": int,
    "audit_checkpoint_minutes": float,
    "audit_full_verify_minutes": float,
    "database_timeout_s": float,
    "vector_timeout_s": float,
}


def _parse(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise InvalidArgument(
            f"{name}: expected a {kind.__name__}, got {raw!r}", field=name
        ) from None


def _from_prefix(obj: Any, prefix: str, env: dict[str, str]) -> Any:
    changes = {}
    for f in fields(obj):
        key = prefix + f.name.upper()
        if key in env:
            changes[f.name] = _parse(key, env[key], type(getattr(obj, f.name)))
    return replace(obj, **changes) if changes else obj
