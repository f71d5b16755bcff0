"""A MOBILEID_* variable nothing reads is named on stderr, with the setting it resembles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mobileid.cli.main import main
from mobileid.config_names import known_variables, unknown_variables

ROOT = Path(__file__).resolve().parents[2]


def _mentioned() -> set[str]:
    """Every whole MOBILEID_* name written in the source, tests, benchmarks, Makefile and README
    (a prefix such as ``MOBILEID_FACE_*`` is not a name), but this file's misspellings."""
    files = [ROOT / "README.md", ROOT / "Makefile"]
    for folder in ("src/mobileid", "tests", "bench"):
        files += [p for p in (ROOT / folder).rglob("*.py") if p != Path(__file__).resolve()]
    names: set[str] = set()
    for path in files:
        names |= set(re.findall(r"MOBILEID_[A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8")))
    return names


def test_every_name_the_project_uses_is_known() -> None:
    mentioned = _mentioned()
    assert {"MOBILEID_DATA_DIR", "MOBILEID_BAND_STRONG_FMR", "MOBILEID_TOKEN"} <= mentioned
    assert mentioned - known_variables() == set()


def test_a_misspelt_setting_is_named_with_its_likely_meaning() -> None:
    env = {
        "MOBILEID_BAND_STRONG_FRM": "1e-6",
        "MOBILEID_BAND_STRONG_FMR": "1e-6",
        "MOBILEID_ZZZ": "1",
        "PATH": "/bin",
    }
    assert unknown_variables(env) == [
        "MOBILEID_BAND_STRONG_FRM is not a mobileid setting (did you mean "
        "MOBILEID_BAND_STRONG_FMR?); it is ignored",
        "MOBILEID_ZZZ is not a mobileid setting; it is ignored",
    ]


def test_the_command_line_warns_and_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOBILEID_FACE_DETECTR", "cnn")
    code = main(["--data-dir", str(tmp_path / "data"), "subjects", "list", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "subjects" in json.loads(out)
    assert (
        "mobileid: warning: MOBILEID_FACE_DETECTR is not a mobileid setting (did you mean "
        "MOBILEID_FACE_DETECTOR?); it is ignored" in err
    )
    monkeypatch.delenv("MOBILEID_FACE_DETECTR")
    assert main(["--data-dir", str(tmp_path / "data"), "subjects", "list", "--json"]) == 0
    assert "MOBILEID_FACE_DETECTR" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({"MOBILEID_BAND_STRONG_FMR": "-1"}, "expected a false-match rate in (0, 1], got -1.0"),
        ({"MOBILEID_BAND_STRONG_FMR": "nan"}, "expected a false-match rate in (0, 1], got nan"),
        ({"MOBILEID_BAND_POSSIBLE_FMR": "0"}, "expected a false-match rate in (0, 1], got 0.0"),
        ({"MOBILEID_BAND_STRONG_FMR": "0.01"}, "expected <= possible_fmr (0.001), got 0.01"),
        ({"MOBILEID_WORKERS": "0"}, "MOBILEID_WORKERS: expected >= 1, got 0"),
        ({"MOBILEID_LIMIT_MAX_PIXELS": "-1"}, "expected a positive number, got -1"),
        ({"MOBILEID_FACE_DETECTOR": "hgo"}, "MOBILEID_FACE_DETECTOR: expected hog or cnn"),
        ({"MOBILEID_CERT_MIN_QUALITY_RATE": "5"}, "expected a share in [0, 1], got 5.0"),
        ({"MOBILEID_CERT_VALID_DAYS": "-1"}, "MOBILEID_CERT_VALID_DAYS: expected days >= 0"),
        ({"MOBILEID_VECTOR_TIMEOUT_S": "0"}, "MOBILEID_VECTOR_TIMEOUT_S: expected seconds > 0"),
        ({"MOBILEID_VECTOR_TIMEOUT_S": "-2"}, "expected seconds > 0, got -2.0"),
        ({"MOBILEID_VECTOR_TIMEOUT_S": "inf"}, "expected seconds > 0, got inf"),
        ({"MOBILEID_VECTOR_TIMEOUT_S": "abc"}, "MOBILEID_VECTOR_TIMEOUT_S: expected a float"),
        ({"MOBILEID_DATABASE_TIMEOUT_S": "0"}, "MOBILEID_DATABASE_TIMEOUT_S: expected seconds > 0"),
    ],
)
def test_a_setting_out_of_its_range_is_refused_before_anything_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    wanted: str,
) -> None:
    """Exit 2 naming the variable, and the data folder is not even created."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code = main(["--data-dir", str(tmp_path / "data"), "subjects", "list"])
    err = capsys.readouterr().err
    assert code == 2 and wanted in err and next(iter(env)) in err
    assert not (tmp_path / "data").exists()
