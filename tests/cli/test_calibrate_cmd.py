"""``mobileid eval faces calibrate`` end to end on a few real lfw-dev people: it writes the
tables and the cohort, and says which bands they cannot place instead of failing."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from mobileid.face.cohort import FaceScoring
from mobileid.face.strata import StratifiedCalibration
from mobileid.scoring import Calibration
from tests.conftest import cli_json, link_subjects


def _people(lfw_dev: Path) -> tuple[list[str], list[str]]:
    """12 people with one image (the cohort) and 14 with several (2 images each calibrate)."""
    people = sorted(p for p in lfw_dev.iterdir() if p.is_dir())
    single = [p.name for p in people if len(list(p.iterdir())) == 1][:12]
    multi = [p.name for p in people if len(list(p.iterdir())) >= 2][:14]
    return single, multi


def test_too_few_people_for_the_bands_is_said_not_a_failure(tmp_path: Path, lfw_dev: Path) -> None:
    """364 impostor comparisons resolve no rate below 2.7e-3: both bands are unreachable. The
    command still writes its three files (they load, and agree on the scoring), reports the
    unreachable thresholds as null and says why on stderr and in ``warnings``."""
    single, multi = _people(lfw_dev)
    root = link_subjects(lfw_dev, tmp_path / "dev", single + multi, per_subject=2)
    files = {k: tmp_path / "out" / f"{k}.{ext}" for k, ext in
             (("pooled", "json"), ("strata", "json"), ("cohort", "npz"))}  # fmt: skip
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, out = cli_json(
            "--data-dir", str(tmp_path / "data"), "eval", "faces", "calibrate",
            "--root", str(root), "--out", str(files["pooled"]),
            "--strata-out", str(files["strata"]), "--cohort-out", str(files["cohort"]),
        )  # fmt: skip
    assert code == 0, err.getvalue()
    pooled = Calibration.load(files["pooled"])
    strata = StratifiedCalibration.load(files["strata"])
    cohort = FaceScoring.load(files["cohort"])
    # 28 images of 14 people: 28 * 27 / 2 pairs less the 14 genuine ones
    assert out["impostor_comparisons"] == pooled.impostor_count == 364
    assert pooled.scoring == cohort.label == out["scoring"]
    assert all(t.scoring == cohort.label for _, t in strata.tables)
    assert cohort.cohort is not None and cohort.cohort.shape[0] == 12
    for band in ("strong", "possible"):
        for table in ("", "_good", "_poor"):
            assert out[f"threshold_{band}{table}"] is None
    assert len(out["warnings"]) == 6
    assert "strong band (FMR 1e-05): the pooled table rests on 364 impostor" in err.getvalue()
    assert "calibrate on more people" in out["warnings"][0]


def test_the_shipped_tables_place_both_bands() -> None:
    """The tables shipped with the package rest on enough comparisons for both bands: what
    the command above warns about does not apply to them."""
    from mobileid.service.calibration_files import shipped_face_calibrations

    paths = shipped_face_calibrations()
    assert paths
    for path in paths:
        table = Calibration.load(path)
        assert table.threshold_or(1e-5, None) is not None, path
