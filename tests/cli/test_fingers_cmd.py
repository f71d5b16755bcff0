"""``mobileid eval fingers``: parser wiring, JSON keys of DESIGN.md and the HTML report."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from mobileid.cli.fingers_cmd import add_fingers_eval_parser
from mobileid.config import Settings
from mobileid.eval.fingers import TemplateCache
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
    cache = TemplateCache(settings.cache_dir, templates.pipeline.pipeline_id)
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
