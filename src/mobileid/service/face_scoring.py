"""Which face scoring a deployment uses, and the check that its calibration tables match it.

The scoring (plain cosine, or cosine normalised against a cohort: :mod:`mobileid.face.cohort`)
comes with the calibration: ``eval faces calibrate`` writes both, a cohort file beside the
tables. A deployment's own cohort (DATA_DIR/calibration/face-cohort.npz) overrides the shipped
ones (``cohort*.npz`` beside ``calibration.json``); none for the pipeline: plain cosine. A table
measured on other scores than the ones being made is refused, never read: its thresholds would
mean something else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mobileid.config import Settings
from mobileid.errors import PipelineMismatch
from mobileid.face.cohort import FaceScoring


def shipped_face_cohorts() -> list[Path]:
    """The cohorts shipped beside the face calibrations (``cohort.npz``, ``cohort-noflip.npz``)."""
    return sorted(Path(str(resources.files("mobileid.face"))).glob("cohort*.npz"))


def local_face_cohort(settings: Settings) -> Path:
    """A cohort written with this deployment's own calibration overrides the shipped ones."""
    return settings.data_dir / "calibration" / "face-cohort.npz"


def load_face_scoring(settings: Settings, pipeline_id: str) -> FaceScoring:
    """The scoring of this pipeline: the first cohort made for it (local, then shipped), else
    plain cosine."""
    for path in (local_face_cohort(settings), *shipped_face_cohorts()):
        if path.exists():
            scoring = FaceScoring.load(path)
            if scoring.pipeline_id == pipeline_id:
                return scoring
    return FaceScoring(pipeline_id)


def check_scoring(table_scoring: str, scoring: FaceScoring, what: str) -> None:
    """Refuse a table measured on other scores than the ones this deployment makes."""
    if table_scoring != scoring.label:
        raise PipelineMismatch(
            f"calibration: expected {what} measured on scoring {scoring.label!r}, got one "
            f"measured on {table_scoring!r} (run `mobileid eval faces calibrate --root DIR`, "
            "which writes the tables and the cohort together)"
        )
