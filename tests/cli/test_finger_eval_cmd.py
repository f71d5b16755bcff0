"""``mobileid eval fingers``: parser wiring, JSON keys of DESIGN.md and the HTML report."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from mobileid.cli.finger_eval_cmd import add_fingers_eval_parser
from mobileid.config import Settings
from mobileid.eval.fingers import TemplateCache
from mobileid.service.deployment_key import deployment_key
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture
def templates() -> TemplateBank:
    return template_bank()


PRINTS = ["102_1.tif", "102_2.tif", "103_7.tif", "104_1.tif", "104_4.tif"]
KEYS = {"eer", "eer_all", "fmr100", "fmr1000", "zero_fmr", "genuine", "impostor",
        "impostor_all", "fte_rate", "pipeline_id"}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="mobileid")
    ev = parser.add_subparsers(dest="command").add_parser("eval").add_subparsers(dest="what")
    add_fingers_eval_parser(ev, common)
    return parser


def test_eval_fingers_json_and_report(
    tmp_path: Path, templates: TemplateBank, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints one JSON object with the stable keys and writes the report."""
    root = tmp_path / "root"
    root.mkdir()
    settings = Settings(data_dir=tmp_path / "data")
    cache = TemplateCache(
        settings.cache_dir, templates.pipeline.pipeline_id, deployment_key(settings)
    )
    for name in PRINTS:
        path = shared_path("fingerprints", "FVC2002", "DB1_B", name)
        (root / name).symlink_to(path)
        cache.put(hashlib.sha256(path.read_bytes()).hexdigest(), templates.db1(name))
    args = _parser().parse_args(
        ["eval", "fingers", "--root", str(root), "--json", "--report", str(tmp_path / "rep")]
    )
    assert args.handler(args, settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() >= KEYS
    assert (out["genuine"], out["impostor"], out["impostor_all"]) == (2, 3, 8)
    assert out["eer_all"] == 0.0 and out["fte_rate"] == 0.0
    assert (tmp_path / "rep" / "index.html").exists()
    assert (tmp_path / "rep" / "det.png").exists()
    page = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    for band in ("strong", "possible"):  # 8 impostors resolve neither 1e-5 nor 1e-3
        assert f"No {band}-band line: 8 impostor comparisons resolve FMR down to 1.2e-01" in page


def test_eval_fingers_contactless_writes_both_calibrations(
    tmp_path: Path, templates: TemplateBank, capsys: pytest.CaptureFixture[str]
) -> None:
    """Photos and renders against prints, and photos of different fingers: two tables named
    for their pipeline pairs, saying how few comparisons they rest on; the renders' genuine
    scores and ranks are reported beside them."""
    from mobileid.finger.pipeline import calibration_matcher
    from mobileid.scoring import Calibration

    root, photos, renders = tmp_path / "root", tmp_path / "photos", tmp_path / "renders"
    for folder in (root, photos, renders / "multi_pose_CL", renders / "source_rolled"):
        folder.mkdir(parents=True)
    settings = Settings(data_dir=tmp_path / "data")
    pipe = templates.pipeline
    cache = TemplateCache(settings.cache_dir, pipe.pipeline_id, deployment_key(settings))
    for name in PRINTS:
        path = shared_path("fingerprints", "FVC2002", "DB1_B", name)
        (root / name).symlink_to(path)
        cache.put(hashlib.sha256(path.read_bytes()).hexdigest(), templates.db1(name))
    for name in ("1_i_1_w_1.jpg", "1_o_1_n_1.jpg", "9_o_2_n_1.jpg"):
        (photos / name).symlink_to(shared_path("contactless", "ISPFDv1_samples", name))
    impose = shared_path("contactless", "impose_samples")
    for name in ("sample1_0.png", "sample2_23.png", "sample1_texture.png"):
        (renders / "multi_pose_CL" / name).symlink_to(impose / "multi_pose_CL" / name)
    for name in ("sample1.png", "sample2.png"):
        (renders / "source_rolled" / name).symlink_to(impose / "source_rolled" / name)
    out_dir = tmp_path / "out"
    args = _parser().parse_args(
        ["eval", "fingers-contactless", "--photos", str(photos), "--root", str(root),
         "--renders", str(renders), "--out", str(out_dir), "--json",
         "--report", str(tmp_path / "rep")]
    )  # fmt: skip
    assert args.handler(args, settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["fingertips_usable"], out["contact_prints"]) == (5, 7)
    assert (out["photo_contact_impostors"], out["photo_contact_genuine"]) == (33, 2)
    assert out["photo_photo_impostors"] == 9 and len(out["photo_photo_genuine"]) == 1
    assert out["refused"] == {}
    ranks = {r["render"]: r for r in out["render_ranks"]}
    assert set(ranks) == {"sample1_0.png", "sample2_23.png"}
    assert [ranks[n]["roll"] for n in sorted(ranks)] == [0, 23]
    assert all(r["rank"] == 1 for r in ranks.values()) and out["render_rank1_roll_le_25"] == 1.0
    assert out["threshold_possible"] is None  # 33 impostors cannot show 1e-3
    to_contact = Calibration.load(out_dir / "calibration-contactless.json")
    to_photo = Calibration.load(out_dir / "calibration-contactless-photo.json")
    cpid = pipe.contactless_pipeline_id
    assert to_contact.matcher == calibration_matcher(cpid, pipe.pipeline_id) != cpid
    assert to_photo.matcher == calibration_matcher(cpid, cpid) == cpid
    assert (to_contact.impostor_count, to_photo.impostor_count) == (33, 9)
    assert to_contact.genuine_count == 2
    assert "33 impostor comparisons only" in to_contact.dataset
    assert "upper bounds (Clopper-Pearson)" in to_contact.dataset
    assert to_contact.fmr(to_contact.scores[-1]) > 1 / 33  # one impostor seen: bound > 1/n
    assert "neither the strong (1e-5) nor the possible (1e-3) band" in to_photo.dataset
    assert "tried at 5 scales (0.8-1.25), the best score kept" in to_contact.dataset
    page = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert cpid in page and "sample2_23.png (roll +23°)" in page and "&amp;#x27;" not in page
