"""The shipped cohort scoring in the search path, on real lfw-dev faces: the service and the
evaluation score a search alike, bands come from the tables measured on these scores, and a
table measured on other scores is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mobileid.config import Settings
from mobileid.errors import PipelineMismatch
from mobileid.eval.faces import embed_root
from mobileid.face.cohort import SHIPPED
from mobileid.face.strata import StratifiedCalibration
from mobileid.scoring import Calibration
from mobileid.service.calibration_files import (
    local_face_calibration,
    local_face_strata,
    shipped_face_calibrations,
    shipped_face_strata,
)
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.types import Quality
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

CONSOLE = console_caller()
GOOD = Quality(
    inter_eye_px=60.0, sharpness=50.0, brightness=120.0, contrast=40.0, yaw=0.0, roll_deg=0.0
)
PEOPLE = ["Alvaro_Uribe", "Ariel_Sharon", "Carlos_Menem"]


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, lfw_dev):  # type: ignore[no-untyped-def]
    """Three images of each of three people in gallery ``field``."""
    root = tmp_path_factory.mktemp("scoring")
    link_subjects(lfw_dev, root / "people", PEOPLE, per_subject=3)
    settings = replace(Settings(), data_dir=root / "data", workers=1)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    enrol_directory(ctx, CONSOLE, root / "people", gallery="field")
    return ctx, root


def test_the_service_and_the_evaluation_score_a_search_alike(enrolled, lfw_dev) -> None:  # type: ignore[no-untyped-def]
    """A real search's candidate score is the evaluation's normalised score of the probe
    against that person's best enrolled image (cosine minus half the probe's cohort term),
    its FMR is read from the shipped table of these scores, and the answer names the scoring."""
    ctx, root = enrolled
    probe_dir = root / "probe" / "Ariel_Sharon"
    probe_dir.mkdir(parents=True)
    probe = lfw_dev / "Ariel_Sharon" / "Ariel_Sharon_0010.jpg"
    (probe_dir / probe.name).symlink_to(probe)
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-0001")
    result = identify_face(ctx, CONSOLE, probe.read_bytes(), reason=reason, galleries=["field"])
    scoring = ctx.face_scoring
    assert scoring.norm == SHIPPED and result.scoring == scoring.label != "plain"
    probe_set = embed_root(root / "probe", ctx.settings)
    gallery_set = embed_root(root / "people", ctx.settings)
    data = replace(
        probe_set,
        vectors=np.vstack([probe_set.vectors, gallery_set.vectors]),
        ok=np.concatenate([probe_set.ok, gallery_set.ok]),
    )
    data = replace(data, offsets=scoring.offsets(data.vectors, leave_out_self=True))
    sim = data.search_scores([0], np.arange(1, data.vectors.shape[0]))[0]
    people = [Path(p).parent.name.replace("_", " ") for p in gallery_set.paths]
    for c in result.candidates:
        want = max(s for s, n in zip(sim, people, strict=True) if n == c.name)
        assert c.score == pytest.approx(want, abs=2e-6)
    best = result.candidates[0]
    assert best.name == "Ariel Sharon" and best.band.value == "strong"
    stratum, table = ctx.face_calibration_for(result.quality)
    assert table.scoring == scoring.label and stratum == result.calibration_stratum
    assert best.fmr == pytest.approx(table.fmr(best.score), rel=1e-4)
    assert result.thresholds["strong"] == table.threshold(1e-5)


def test_a_table_for_other_scores_is_refused(tmp_path: Path) -> None:
    """A deployment's own table measured on plain cosine, read with the cohort scoring that
    the shipped cohort brings, is refused naming both scorings, pooled and per stratum."""
    settings = replace(Settings(), data_dir=tmp_path / "data", workers=1)
    ctx = open_context(settings)
    wanted = ctx.pipeline.pipeline_id
    pooled = next(
        c for c in map(Calibration.load, shipped_face_calibrations()) if c.matcher == wanted
    )
    assert pooled.scoring == ctx.face_scoring.label
    local = local_face_calibration(settings)
    local.parent.mkdir(parents=True)
    replace(pooled, scoring="plain").save(local)
    with pytest.raises(PipelineMismatch, match="measured on 'plain'"):
        _ = ctx.calibration
    strata = next(
        s for s in map(StratifiedCalibration.load, shipped_face_strata()) if s.matcher == wanted
    )
    old = tuple((n, replace(t, scoring="plain")) for n, t in strata.tables)
    replace(strata, tables=old).save(local_face_strata(settings))
    local.unlink()
    fresh = open_context(settings)
    with pytest.raises(
        PipelineMismatch,
        match=r"good stratum table measured on scoring .*, got one measured on 'plain'",
    ):
        fresh.face_calibration_for(GOOD)


def test_a_band_bound_finer_than_the_table_is_never_reached(enrolled, lfw_dev) -> None:  # type: ignore[no-untyped-def]
    """A deployment that asks for a strong band at FMR 1e-8, below what the tables resolve:
    searches are answered and audited, the strong band's threshold is None and no candidate
    reaches it (the mate is still first, possible). This used to fail every search, unaudited."""
    ctx, _ = enrolled
    bands = replace(ctx.settings.bands, strong_fmr=1e-8)
    strict = open_context(replace(ctx.settings, bands=bands))
    probe = lfw_dev / "Ariel_Sharon" / "Ariel_Sharon_0010.jpg"
    reason = require_reason(strict, CONSOLE, LIVE_PURPOSE, "CASE-0002")
    result = identify_face(strict, CONSOLE, probe.read_bytes(), reason=reason, galleries=["field"])
    _, table = strict.face_calibration_for(result.quality)
    assert table.resolution > 1e-8 and result.thresholds["strong"] is None
    assert result.thresholds["possible"] == table.threshold(1e-3)
    best = result.candidates[0]
    assert best.name == "Ariel Sharon" and best.band.value == "possible"
    assert all(c.band.value != "strong" for c in result.candidates)
    entry = [e for e in strict.audit.read() if e.details.get("search_id") == result.search_id]
    assert [e.outcome for e in entry] == ["ok"]


def test_a_search_that_fails_at_the_gallery_is_audited(tmp_path: Path, lfw_dev: Path) -> None:
    """Checks and capture pass, then the scores cannot be read (the deployment's own table was
    measured on other scores): the search is refused with its one audit entry, naming the
    error and the galleries, and nothing is answered."""
    link_subjects(lfw_dev, tmp_path / "people", PEOPLE[:1], per_subject=2)
    settings = replace(Settings(), data_dir=tmp_path / "data", workers=1)
    write_purposes(settings.data_dir)
    enrol_directory(open_context(settings), CONSOLE, tmp_path / "people", gallery="field")
    wanted = open_context(settings).pipeline.pipeline_id
    pooled = next(
        c for c in map(Calibration.load, shipped_face_calibrations()) if c.matcher == wanted
    )
    local = local_face_calibration(settings)
    local.parent.mkdir(parents=True)
    replace(pooled, scoring="plain").save(local)
    ctx = open_context(settings)
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-0003")
    probe = lfw_dev / PEOPLE[0] / f"{PEOPLE[0]}_0003.jpg"
    before = len(list(ctx.audit.read()))
    with pytest.raises(PipelineMismatch):
        identify_face(ctx, CONSOLE, probe.read_bytes(), reason=reason, galleries=["field"])
    new = list(ctx.audit.read())[before:]
    assert [(e.event, e.outcome) for e in new] == [("search", "refused")]
    assert new[0].details["error"] == "pipeline_mismatch"
    assert new[0].details["galleries"] == ["field"] and new[0].details["case_number"] == "CASE-0003"
