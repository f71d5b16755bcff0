"""Where the face calibrations are: the tables shipped in the package, and the ones a deployment
measured on its own data (``eval faces calibrate``), which override them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mobileid.config import Settings


def shipped_face_calibrations() -> list[Path]:
    """The calibrations measured for the shipped face pipelines: the default one
    (``calibration.json``) and variants such as ``calibration-noflip.json``."""
    folder = Path(str(resources.files("mobileid.face")))
    return sorted(folder.glob("calibration*.json"))


def local_face_calibration(settings: Settings) -> Path:
    """A calibration measured on this deployment's data overrides the shipped one."""
    return settings.data_dir / "calibration" / "face.json"


def shipped_face_strata() -> list[Path]:
    """The quality-stratified calibrations shipped beside the pooled ones (``strata*.json``)."""
    folder = Path(str(resources.files("mobileid.face")))
    return sorted(folder.glob("strata*.json"))


def local_face_strata(settings: Settings) -> Path:
    """A stratified calibration measured on this deployment's data overrides the shipped one."""
    return settings.data_dir / "calibration" / "face-strata.json"
