"""Data at rest (issue 13): a lost deployment key is never silently replaced while sealed rows
need it, and what a command creates is readable by its owner only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.conftest import link_subjects


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Path:
    root = tmp_path_factory.mktemp("at-rest")
    people = link_subjects(lfw_dev, root / "people", ["Bill_Clinton"], per_subject=1)
    data = root / "data"
    assert main(["enroll", "faces", str(people), "--data-dir", str(data)]) == 0
    return data


def test_created_files_are_owner_only(enrolled: Path) -> None:
    """The data folder, its databases, keys, witness and index are not readable by others."""
    paths = [enrolled, *enrolled.rglob("*")]
    loose = [str(p) for p in paths if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []
    assert (enrolled / "mobileid.sqlite3").exists() and (enrolled / "keys").is_dir()


def test_missing_key_with_sealed_rows_is_refused(
    enrolled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the key file gone, commands refuse, naming the key id the rows need, and no new
    key is made (enrolment under a new key would leave the gallery unreadable)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(enrolled, data)
    key = data / "keys" / "deployment.key"
    key.unlink()
    capsys.readouterr()
    code = main(["subjects", "list", "--json", "--data-dir", str(data)])
    err = capsys.readouterr()
    assert code != 0 and not key.exists()
    message = json.loads(err.out)["error"]["message"] if err.out else err.err
    assert "restore it from the key backup" in message and "key id" in message
