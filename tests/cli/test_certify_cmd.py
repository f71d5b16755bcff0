"""Training range and certification from the command line: practice searches scored and kept,
certification refused with the figures, exempted (audited), expiry, a lapsed or uncertified
officer refused live searches, and the oversight report's certification figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from mobileid.audit import EventType, open_audit_log
from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, first_admin_token, link_subjects, write_purposes

LIVE = ["--purpose", LIVE_PURPOSE, "--case", "CASE-C1"]
PRACTICE = ["--purpose", "training", "--case", "TR-C1", "--gallery", "range"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else None


def _operator(capsys: pytest.CaptureFixture[str], data: list[str], name: str, role: str,
              scope: str, galleries: tuple[str, ...], admin: str) -> str:  # fmt: skip
    t = ["--token", admin]
    code, added = _run(capsys, "operators", "add", name, "--role", role, *t, *data)
    assert code == 0
    secret = parse_qs(urlparse(added["totp_uri"]).query)["secret"][0]
    for g in galleries:
        assert main(["operators", "grant", name, "--gallery", g, *t, *data]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOBILEID_TOTP", pyotp.TOTP(secret).now())
        code, issued = _run(capsys, "operators", "token", name, "--scope", scope, *data)
    assert code == 0
    return str(issued["token"])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("certify")
    link_subjects(lfw_dev, root / "live", ["Bill_Clinton", "Carlos_Menem"], per_subject=2)
    link_subjects(lfw_dev, root / "range", ["Colin_Powell", "Al_Gore"], per_subject=2)
    data = ["--data-dir", str(root / "data")]
    write_purposes(root / "data")
    assert main(["enroll", "faces", str(root / "live"), *data]) == 0
    assert main(["enroll", "faces", str(root / "range"), "--gallery", "range", "--training",
                 *data]) == 0  # fmt: skip
    return {"root": root, "data": data, "lfw": lfw_dev}


def test_certification_from_practice_to_oversight(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, deployment: dict[str, Any]
) -> None:
    """An uncertified officer is refused live data (exit 8, naming the missing certification);
    practice searches are scored (quality, mate rank, reference photo or none); certify is
    refused with the figures (exit 12) until the record meets the criteria; an exemption is
    audited; a lapsed certification refuses live searches; oversight counts it all."""
    data, lfw = deployment["data"], deployment["lfw"]
    monkeypatch.setenv("MOBILEID_PASSWORD", "a long enough passphrase")
    galleries = ("default", "range")
    adm = first_admin_token(deployment["root"] / "data")
    off1 = _operator(capsys, data, "off1", "officer", "search_live,search_training", galleries,
                     adm)  # fmt: skip
    off2 = _operator(capsys, data, "off2", "officer", "search_live", galleries, adm)
    sup = _operator(capsys, data, "sup1", "supervisor", "certify_operators", (), adm)
    aud = _operator(capsys, data, "aud1", "auditor", "run_report", (), adm)
    probe = str(lfw / "Bill_Clinton" / "Bill_Clinton_0010.jpg")

    code, err = _run(capsys, "identify", "face", probe, *LIVE, "--token", off1, *data)
    assert code == 8 and "holds no certification" in err["error"]["message"]

    powell = str(lfw / "Colin_Powell" / "Colin_Powell_0005.jpg")
    for target, first in (("Colin Powell", True), ("Al Gore", False)):
        code, answer = _run(capsys, "identify", "face", powell, *PRACTICE, "--target", target,
                            "--token", off1, *data)  # fmt: skip
        assert code == 0 and answer["training"] is True
        practice = answer["practice"]
        assert practice["target_name"] == target and practice["quality_passed"] is True
        assert practice["mate_first"] is first and (practice["mate_rank"] == 1) is first
        assert practice["reference_photo_url"].startswith("/api/v1/subjects/")
        assert practice["good_capture"].startswith("the reference photo shows")

    code, err = _run(capsys, "identify", "face", powell, *PRACTICE, "--target", "Nobody",
                     "--token", off1, *data)  # fmt: skip
    assert (code, err["error"]["field"]) == (5, "target")  # refused, not kept as practice
    code, err = _run(capsys, "identify", "face", probe, *LIVE, "--target", "Colin Powell",
                     "--token", off1, *data)  # fmt: skip
    assert (code, err["error"]["field"]) == (2, "target")

    code, err = _run(capsys, "operators", "certify", "off1", "--token", sup, *data)
    assert code == 13 and err["error"]["code"] == "certification_refused"
    message = err["error"]["message"]
    assert "2 practice searches (needs 20)" in message and "mate ranked first in 50%" in message

    monkeypatch.setenv("MOBILEID_CERT_MIN_PRACTICE_SEARCHES", "2")
    monkeypatch.setenv("MOBILEID_CERT_MIN_MATE_FIRST_RATE", "0.5")
    code, state = _run(capsys, "operators", "certify", "off1", "--token", sup, *data)
    assert code == 0 and state["certification"]["status"] == "certified"
    assert state["certification"]["training"]["practice_searches"] == 2
    code, answer = _run(capsys, "identify", "face", probe, *LIVE, "--token", off1, *data)
    assert code == 0 and answer["candidates"][0]["name"] == "Bill Clinton"

    monkeypatch.setenv("MOBILEID_CERT_VALID_DAYS", "0")  # lapses as soon as it is made
    code, state = _run(capsys, "operators", "certify", "off2", "--exempt", "transferred from "
                       "unit 9, certified there", "--token", sup, *data)  # fmt: skip
    assert code == 0 and state["certification"]["status"] == "expired"
    code, err = _run(capsys, "identify", "face", probe, *LIVE, "--token", off2, *data)
    assert code == 8 and "certification expired on" in err["error"]["message"]

    settings_dir = deployment["root"] / "data"
    log = open_audit_log(settings_dir, create_key=False)
    try:
        entries = log.read()
    finally:
        log.close()
    certs = [e for e in entries if e.event == EventType.CERTIFICATION]
    assert [(e.operator, e.details["username"], e.outcome, e.details["exempt"]) for e in certs] == [
        ("sup1", "off1", "refused", False), ("sup1", "off1", "ok", False),
        ("sup1", "off2", "ok", True),
    ]  # fmt: skip
    assert certs[-1].details["exempt_reason"].startswith("transferred from unit 9")
    denied = [e for e in entries if e.event == EventType.ACCESS_DENIED]
    assert [(e.operator, e.details["certification"]) for e in denied] == [
        ("off1", "none"), ("off2", "expired"),
    ]  # fmt: skip

    today = datetime.now(UTC).date().isoformat()
    code, report = _run(capsys, "report", "oversight", "--from", today, "--to", today,
                        "--token", aud, *data)  # fmt: skip
    assert code == 0
    c = report["certification"]
    assert (c["live_searches"], c["live_by_certified_operators"]) == (1, 1)
    assert c["live_by_certification"] == {"certified": 1}
    assert c["refused_not_certified"] == 2 and c["lapsed"] == ["off2"]
    assert c["exempted"][0]["operator"] == "off2" and c["certifications_refused"] == 1
