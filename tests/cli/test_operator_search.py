"""From the command line: an operator gets a token and searches with it, within its rights."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pyotp

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, first_admin_token, link_subjects, write_purposes


def test_operator_token_then_search(capsys, monkeypatch, tmp_path, lfw_dev):
    """operators add/grant/token, then identify with --token; no token is refused."""
    link_subjects(lfw_dev, tmp_path / "people", ["Bill_Clinton", "Carlos_Menem"], per_subject=2)
    data = ["--data-dir", str(tmp_path / "data")]
    write_purposes(tmp_path / "data")
    assert main(["enroll", "faces", str(tmp_path / "people"), *data]) == 0
    monkeypatch.setenv("MOBILEID_PASSWORD", "a long enough passphrase")
    admin = ["--token", first_admin_token(tmp_path / "data")]
    capsys.readouterr()
    argv = ["operators", "add", "officer1", "--role", "officer", "--json", *admin, *data]
    assert main(argv) == 0
    uri = json.loads(capsys.readouterr().out)["totp_uri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert main(["operators", "grant", "officer1", "--gallery", "default", *admin, *data]) == 0
    monkeypatch.setenv("MOBILEID_TOTP", pyotp.TOTP(secret).now())
    capsys.readouterr()
    argv = ["operators", "token", "officer1", "--scope", "search_live", "--json", *data]
    assert main(argv) == 0
    token = json.loads(capsys.readouterr().out)["token"]

    probe = str(lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg")
    why = ["--purpose", LIVE_PURPOSE, "--case", "CASE-31"]
    assert main(["identify", "face", probe, *why, "--json", *data]) == 9  # no token
    capsys.readouterr()
    # Not certified yet: refused (access denied), the error naming what is missing.
    assert main(["identify", "face", probe, *why, "--token", token, "--json", *data]) == 8
    assert "holds no certification" in json.loads(capsys.readouterr().out)["error"]["message"]
    assert main(["operators", "certify", "officer1", "--exempt", "pilot officer", *data]) == 0
    capsys.readouterr()
    assert main(["identify", "face", probe, *why, "--token", token, "--json", *data]) == 0
    assert json.loads(capsys.readouterr().out)["candidates"][0]["name"] == "Bill Clinton"
