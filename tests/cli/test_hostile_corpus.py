"""The hostile corpus (tests/capture/corpus.py) through the real commands: `identify face`,
`identify finger`, `identify person`, `enroll faces` and `enroll fingers` each answer every file
with its exit code and stable error code, the gallery is as before, and each refused search is
one audited refusal naming the error (issue 13)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.capture.corpus import FACE_SEED, PRINT_SEED, Hostile, hostile_corpus, one_of_each
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

WHY = ["--purpose", LIVE_PURPOSE, "--case", "CASE-H13"]
CONFIG = {"purpose_change", "threshold_change"}  # logged by a deployment's first search
EXIT = {"image_too_large": 3, "unsupported_image": 3, "corrupt_image": 3, "image_too_small": 3,
        "animated_image": 3, "corrupt_fingerprint_image": 3, "not_a_fingerprint": 4}  # fmt: skip
TABLES = ("subjects", "face_embeddings", "finger_templates", "reference_photos")
# Pillow warns when an EXIF tag points past the end of the file, and skips the tag. The suite
# turns warnings into errors; the commands run with Python's default, where the photo decodes.
PILLOW_EXIF = pytest.mark.filterwarnings("ignore:Tag data larger than file:UserWarning")


def _rows(data: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(data / "mobileid.sqlite3")) as db:
        return db.execute(sql).fetchall()


def _gallery(data: Path) -> dict[str, int]:
    return {t: _rows(data, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _audit(data: Path, after: int = 0) -> list[tuple[str, str, dict]]:
    rows = _rows(data, "SELECT event, outcome, details FROM audit_entries ORDER BY sequence")
    return [(e, o, json.loads(d)) for e, o, d in rows[after:] if e not in CONFIG]


def _count(data: Path) -> int:
    return _rows(data, "SELECT count(*) FROM audit_entries")[0][0]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A deployment with one enrolled face subject and one enrolled finger subject."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "faces" / "Bill_Clinton").mkdir(parents=True)
    (root / "faces" / "Bill_Clinton" / "a.jpg").symlink_to(shared_path(*FACE_SEED))
    (root / "prints" / "P101").mkdir(parents=True)
    (root / "prints" / "P101" / "right_index.tif").symlink_to(shared_path(*PRINT_SEED))
    folder = root / "data"
    write_purposes(folder)
    assert main(["enroll", "faces", str(root / "faces"), "--data-dir", str(folder)]) == 0
    assert main(["enroll", "fingers", str(root / "prints"), "--data-dir", str(folder)]) == 0
    yield folder


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, the JSON error code or "ok")."""
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = json.loads(capsys.readouterr().out)
    return code, out["error"]["code"] if "error" in out else "ok"


def _expected(item: Hostile, command: str) -> str:
    if command == "face":
        return item.face or "ok"
    if command == "finger":
        return item.finger
    return item.face or item.finger  # a person search checks the face photo first


@PILLOW_EXIF
@pytest.mark.parametrize("command", ["face", "finger", "person"])
def test_every_hostile_capture_is_refused_and_audited_once(
    data: Path, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each file gets its exit code and error code; the gallery is as before; the search is
    one audit entry: refused naming the error, or (a broken EXIF block only) answered. Finger
    and person searches load the print model per command: they take one file per answer."""
    wrong = []
    for item in hostile_corpus() if command == "face" else one_of_each():
        path = tmp_path / "probe.jpg"
        path.write_bytes(item.data)
        argv = {
            "face": ["identify", "face", str(path)],
            "finger": ["identify", "finger", str(path)],
            "person": ["identify", "person", "--face", str(path), "--finger", str(path)],
        }[command]
        gallery, audit = _gallery(data), _count(data)
        got = _run([*argv, *WHY, "--data-dir", str(data)], capsys)
        code = _expected(item, command)
        logged = [(e, o, d.get("error"), d.get("case_number")) for e, o, d in _audit(data, audit)]
        outcome = ("ok", None) if code == "ok" else ("refused", code)
        if (
            got != (EXIT.get(code, 0), code)
            or _gallery(data) != gallery
            or logged != [("search", *outcome, "CASE-H13")]
        ):
            wrong.append((item.name, got, logged))
    assert wrong == []


@PILLOW_EXIF
@pytest.mark.parametrize("modality", ["faces", "fingers"])
def test_enrolment_reports_every_hostile_file_and_keeps_only_real_photos(
    data: Path, tmp_path: Path, modality: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One folder per hostile file: each is reported with its error code and nothing of it is
    enrolled; the face photos whose only fault is a broken EXIF block enrol (one audited
    enrolment each), and no print is taken from them."""
    corpus = hostile_corpus()
    name = "photo.jpg" if modality == "faces" else "right_index.png"
    for i, item in enumerate(corpus):
        (tmp_path / "in" / f"S{i:02d}").mkdir(parents=True)
        (tmp_path / "in" / f"S{i:02d}" / name).write_bytes(item.data)
    gallery, audit = _gallery(data), _count(data)
    capsys.readouterr()
    argv = ["enroll", modality, str(tmp_path / "in"), "--data-dir", str(data), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    expected = {f"S{i:02d}": item.face if modality == "faces" else item.finger
                for i, item in enumerate(corpus)}  # fmt: skip
    failed = {Path(f["path"]).parent.name: f["code"] for f in report["failures"]}
    assert failed == {k: v for k, v in expected.items() if v}
    enrolled = sorted(k for k, v in expected.items() if not v)
    entries = [(e, o, d["embeddings_added"]) for e, o, d in _audit(data, audit)]
    assert entries == [("enrol", "ok", 1)] * len(enrolled)
    after = _gallery(data)
    added = len(enrolled)
    if modality == "fingers":
        assert after == gallery
    else:
        assert after == {t: n + (added if t != "finger_templates" else 0)
                         for t, n in gallery.items()}  # fmt: skip
