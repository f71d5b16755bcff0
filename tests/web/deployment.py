"""A small real deployment for the browser tests, built with the command line as a deployer
would: a live gallery, a training gallery, record sources, an officer with a second factor."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, first_admin_token, link_subjects, write_purposes

TARGET = "Bill_Clinton"  # enrolled in both galleries; the fake camera shows an unseen photo
# LFW files one photo under both Andrew names: a pair a search must show as look-alikes
LOOKALIKES = ("Andrew_Gilligan", "Andrew_Caldecott")
LIVE_PEOPLE = [TARGET, "Carlos_Menem", "Colin_Powell", "Ariel_Sharon", "Alvaro_Uribe", *LOOKALIKES]
TRAINING_PEOPLE = [TARGET, "Andre_Agassi", "Bill_Gates"]
PRACTICE_NAME = "Practice Subject 01"  # the training range knows its subjects by pseudonyms
PASSWORD = "correct horse battery staple 7"
# One officer per browser test: a TOTP code is accepted once, so two logins by the same
# officer within one 30-second step would have to wait for the next code.
OFFICERS = ("officer1", "officer2", "officer3", "officer4", "officer5", "officer6", "officer7")


@dataclass(frozen=True)
class Deployment:
    data_dir: Path
    totp_secrets: dict[str, str]  # officer -> TOTP secret
    target_subject: str  # the live gallery's subject id of TARGET
    target_name: str
    probe_photo: Path
    purpose: str = LIVE_PURPOSE
    missing_api: str = ""  # a route the app needs that the service does not have (see conftest)


def cli(*argv: str) -> dict:
    """Run one ``mobileid`` command in-process; its JSON answer (or {} when none)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(list(argv))
    if code != 0:
        raise AssertionError(f"mobileid {' '.join(argv)} exited {code}: {err.getvalue()[-800:]}")
    text = out.getvalue().strip()
    return json.loads(text) if text.startswith("{") else {}


def build(root: Path, lfw: Path) -> Deployment:
    data = root / "data"
    d = ["--data-dir", str(data)]
    write_purposes(data)
    # the first image of each person is enrolled; the camera later shows another one
    link_subjects(lfw, root / "live", LIVE_PEOPLE, per_subject=1)
    for i, person in enumerate(TRAINING_PEOPLE, 1):
        folder = root / "practice" / f"Practice_Subject_{i:02d}"
        folder.mkdir(parents=True)
        image = sorted((lfw / person).iterdir())[0]
        (folder / image.name).symlink_to(image)
    cli("enroll", "faces", str(root / "live"), "--gallery", "default", *d)
    cli("enroll", "faces", str(root / "practice"), "--gallery", "practice", "--training", *d)
    subjects = cli("subjects", "list", "--gallery", "default", "--json", *d)["subjects"]
    target = next(s for s in subjects if s["name"] == TARGET.replace("_", " "))
    _records(root, data, target["subject_id"], target["name"])
    admin = first_admin_token(data)  # the console may create the first admin, nothing more
    secrets = {name: _officer(name, data, admin) for name in OFFICERS}
    probe = sorted((lfw / TARGET).iterdir())[5]
    return Deployment(data, secrets, target["subject_id"], target["name"], probe)


def _officer(name: str, data: Path, admin: str) -> str:
    """An officer entitled to both galleries and every source, added by the admin's token;
    returns its TOTP secret."""
    d = ["--data-dir", str(data), "--token", admin]
    os.environ["MOBILEID_PASSWORD"] = PASSWORD  # read by `operators add`
    try:
        added = cli("operators", "add", name, "--role", "officer", "--json", *d)
    finally:
        del os.environ["MOBILEID_PASSWORD"]
    for gallery in ("default", "practice"):
        cli("operators", "grant", name, "--gallery", gallery, *d)
    for source in _source_names(data):
        cli("operators", "grant", name, "--source", source, *d)
    # Live searches need a current certification; these officers' practice record is empty.
    # The console certifies (a supervisor's duty, which the console may still do on the server).
    cli("operators", "certify", name, "--exempt", "browser-test deployment: live searches",
        "--data-dir", str(data))  # fmt: skip
    return parse_qs(urlparse(added["totp_uri"]).query)["secret"][0]


def _records(root: Path, data: Path, subject_id: str, name: str) -> None:
    """A live source with the target's person record, and the synthetic training sources."""
    d = ["--data-dir", str(data)]
    cli(
        "records", "register", "people",
        "--agency", "Test agency", "--authority", "Test Deployment Authority s.2",
        "--types", "person", "--retention", "deleted after the test",
        "--entitlement", "records.people", *d,
    )  # fmt: skip
    rows = {"records": [{"record_type": "person", "record_id": "P-0001", "name": name,
                         "subject_id": subject_id}]}  # fmt: skip
    (root / "people.json").write_text(json.dumps(rows))
    cli("records", "import", "people", str(root / "people.json"), *d)
    cli("records", "generate", "--out", str(root / "synthetic"), "--count", "20", "--load", *d)


def _source_names(data: Path) -> list[str]:
    return [
        s["name"] for s in cli("records", "sources", "--json", "--data-dir", str(data))["sources"]
    ]
