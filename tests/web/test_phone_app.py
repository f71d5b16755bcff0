"""The phone app in a real browser against the real service: a shift as an officer lives it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PageErrors
from tests.web.deployment import LOOKALIKES, OFFICERS, PASSWORD, PRACTICE_NAME, Deployment

CLIENT_TEXTS = {"", "Starting the camera…", "Checking the picture…"}


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def log_in(page: Page, dep: Deployment, officer: str) -> None:
    if dep.missing_api:
        pytest.xfail(f"the service lacks what the app needs: {dep.missing_api}")
    page.goto("/")
    page.get_by_label("Username").fill(officer)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(pyotp.TOTP(dep.totp_secrets[officer]).now())
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Reason for this shift")).to_be_visible()


def state_reason(page: Page, dep: Deployment, case: str = "CASE-2026-0412") -> None:
    page.get_by_label("Purpose").select_option(dep.purpose)
    expect(page.locator("#authority")).to_contain_text("Test Deployment Authority s.1")
    page.get_by_label("Case number").fill(case)
    page.get_by_label("Location (optional)").fill("Platform 4")


def watch_advice(page: Page, timeout_s: float = 30) -> list[tuple[str, bool]]:
    """The advice texts shown, with whether Capture was enabled, until Capture is enabled."""
    # both read in one script: the page changes them together, within one task
    read = """() => [document.getElementById("face-advice").textContent.trim(),
                     !document.getElementById("face-capture").disabled]"""
    seen: list[tuple[str, bool]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text, enabled = page.evaluate(read)
        if not seen or seen[-1] != (text, enabled):
            seen.append((text, enabled))
        if enabled:
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"Capture never enabled; advice seen: {seen}")


def search(page: Page, route: str) -> dict[str, Any]:
    with page.expect_response(lambda r: route in r.url and r.request.method == "POST") as info:
        page.get_by_role("button", name="Search").click()
    assert info.value.status == 200, info.value.text()
    expect(page.get_by_role("heading", name="Candidates")).to_be_visible()
    return info.value.json()


def check_first_candidate(page: Page, answer: dict[str, Any], name: str) -> Any:
    """The right person is first, beside their reference photo (or the words saying none)."""
    first = answer["candidates"][0]
    assert first["name"] == name
    card = page.get_by_role("article").first
    expect(card).to_have_accessible_name(f"Candidate 1: {name}")
    expect(card.get_by_role("img", name="Probe: this capture")).to_be_visible()
    if first["photo_url"] is None:
        expect(card.get_by_text("no reference photo")).to_be_visible()
    else:
        ref = card.get_by_role("img", name=f"Reference photo of {name}")
        expect(ref).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=ref.element_handle()
        )
    expect(card.locator(".band")).to_contain_text(first["band"])
    expect(card.locator(".band")).to_contain_text("expected per search")
    return card


def test_a_shift_from_login_to_training_range(phone: Page, deployment: Deployment, shots: Path):
    """Log in with TOTP, state the reason, watch the advice change, capture, find the enrolled
    person first with their records, record a disposition, run a super query, see the shift's
    searches, enter the training range under its banner, and log out."""
    page = phone
    page.goto("/")
    shot(page, shots, "01-login")
    log_in(page, deployment, OFFICERS[0])
    state_reason(page, deployment)
    shot(page, shots, "02-reason")
    page.get_by_role("button", name="Start shift").click()

    expect(page.get_by_role("heading", name="Face")).to_be_visible()
    expect(page.locator("[data-reason]").first).to_contain_text("case CASE-2026-0412")
    seen = watch_advice(page)
    refused = [text for text, ok in seen if not ok and text not in CLIENT_TEXTS]
    assert refused, f"no advice from the quality check before the photo was lit: {seen}"
    assert seen[-1][0] not in refused, f"the advice did not change once the face was lit: {seen}"
    shot(page, shots, "03-face-ready")
    page.get_by_role("button", name="Capture").click()
    expect(page.get_by_role("img", name="The face photo to search with")).to_be_visible()
    shot(page, shots, "04-probe")

    answer = search(page, "/api/v1/searches/face")
    assert answer["training"] is False and answer["case_number"] == "CASE-2026-0412"
    card = check_first_candidate(page, answer, deployment.target_name)
    expect(card.get_by_role("list", name=re.compile("Records linked"))).to_contain_text("P-0001")
    expect(page.get_by_role("note")).to_contain_text(answer["notice"])
    expect(page.locator("#reached")).to_contain_text("gallery default")
    stratum = {"good": "good captures", "poor": "poor captures", "all": "all development"}
    expect(page.locator("#results-calibration")).to_contain_text(
        stratum[answer["calibration_stratum"]]
    )
    shot(page, shots, "05-results")

    with page.expect_response(lambda r: "/disposition" in r.url) as info:
        card.get_by_role("button", name="Confirmed").click()
    assert info.value.status < 300, info.value.text()
    expect(card.get_by_role("status")).to_contain_text("Recorded: Confirmed")
    for other in ("Not a match", "Inconclusive"):
        expect(card.get_by_role("button", name=other)).to_be_disabled()
    shot(page, shots, "06-disposition")

    page.get_by_role("button", name="Records").click()
    page.get_by_label("Name", exact=True).fill(deployment.target_name)
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#query-records")).to_contain_text("P-0001")
    expect(page.locator("#query-sources")).to_contain_text("people")
    expect(page.locator("#query-sources")).to_contain_text("answered")
    shot(page, shots, "07-query")

    page.get_by_role("button", name="Shift").click()
    expect(page.locator("#shift-searches")).to_contain_text(answer["search_id"])
    shot(page, shots, "08-shift")

    page.get_by_role("button", name="Enter training range").click()
    banner = page.get_by_role("status").filter(has_text="TRAINING")
    expect(banner).to_be_visible()
    assert banner.inner_text().startswith("TRAINING")
    expect(page.locator("body")).to_have_class(re.compile(r"\btraining\b"))
    expect(page.locator("[data-reason]").first).to_have_text("TRAINING · case CASE-2026-0412")
    shot(page, shots, "09-training-range")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    expect(banner).to_be_hidden()
    shot(page, shots, "10-logged-out")


def test_service_worker_caches_the_app_shell_only(phone: Page, deployment: Deployment):
    """After a search with photos, the offline cache holds app files and nothing from the API."""
    page = phone
    log_in(page, deployment, OFFICERS[1])
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    state_reason(page, deployment)
    page.get_by_role("button", name="Start shift").click()
    watch_advice(page)
    page.get_by_role("button", name="Capture").click()
    search(page, "/api/v1/searches/face")
    cached = page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                for (const req of await (await caches.open(name)).keys()) urls.push(req.url);
            }
            return urls;
        }"""
    )
    paths = sorted(u.split("/", 3)[3] for u in cached)
    assert "index.html" in paths and "js/main.js" in paths, paths
    assert not [p for p in paths if p.startswith("api/")], paths
    manifest = page.evaluate("fetch('manifest.webmanifest').then(r => r.json())")
    assert manifest["display"] == "standalone" and manifest["icons"]


def test_a_wrong_code_says_what_to_do(phone: Page, deployment: Deployment, page_errors: PageErrors):
    """A wrong one-time code is refused with the server's reason and what to do next."""
    page = phone
    page_errors.expected_statuses.add(401)
    page.goto("/")
    page.get_by_label("Username").fill(OFFICERS[2])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill("000000")
    with page.expect_response(lambda r: "/auth/login" in r.url) as info:
        page.get_by_role("button", name="Log in").click()
    assert info.value.status == 401
    problem = info.value.json()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(problem.get("detail") or problem["title"])
    expect(alert).to_contain_text("then try again")
    expect(page.get_by_label("One-time code")).to_have_value("")


def test_a_refused_camera_falls_back_to_the_file_input(
    phone_without_camera: Page, deployment: Deployment, shots: Path
):
    """Without the camera the screen says so and a photo taken with the file input (capture
    "environment") is searched instead, finding the enrolled person first."""
    page = phone_without_camera
    log_in(page, deployment, OFFICERS[3])
    state_reason(page, deployment)
    page.get_by_role("button", name="Start shift").click()
    expect(page.locator("#face-advice")).to_contain_text("camera is not available")
    expect(page.get_by_role("button", name="Capture")).to_be_hidden()
    picker = page.get_by_role("region", name="Face").get_by_label("Take or choose a photo instead")
    assert picker.get_attribute("capture") == "environment"
    shot(page, shots, "01-no-camera")
    picker.set_input_files(deployment.probe_photo)
    expect(page.get_by_role("img", name="The face photo to search with")).to_be_visible()
    answer = search(page, "/api/v1/searches/face")
    check_first_candidate(page, answer, deployment.target_name)
    shot(page, shots, "02-results")


def test_a_strong_candidate_shows_the_subject_it_resembles(
    phone_without_camera: Page, deployment: Deployment, lfw_dev: Path, shots: Path
):
    """The photo LFW files under two names, searched live: both names come back strong, and
    each card says which other enrolled subject it resembles as strongly, to rule out before
    acting."""
    page = phone_without_camera
    log_in(page, deployment, OFFICERS[6])
    state_reason(page, deployment, case="CASE-2026-0413")
    page.get_by_role("button", name="Start shift").click()
    picker = page.get_by_role("region", name="Face").get_by_label("Take or choose a photo instead")
    picker.set_input_files(lfw_dev / LOOKALIKES[0] / f"{LOOKALIKES[0]}_0001.jpg")
    answer = search(page, "/api/v1/searches/face")
    first, second = answer["candidates"][:2]
    assert {first["name"], second["name"]} == {n.replace("_", " ") for n in LOOKALIKES}
    assert first["band"] == second["band"] == "strong"
    assert [x["subject_id"] for x in first["lookalikes"]] == [second["subject_id"]]
    card = check_first_candidate(page, answer, first["name"])  # its reference photo shown
    note = card.get_by_role("note")
    expect(note).to_contain_text("Resembles another enrolled subject as strongly")
    expect(note).to_contain_text(f"{second['name']} ({second['subject_id']}")
    expect(note).to_contain_text("Rule them out before acting")
    third = page.get_by_role("article").nth(2)
    expect(third.get_by_role("note")).to_have_count(0)
    assert "null" not in third.inner_text()  # no empty note written as text
    note.scroll_into_view_if_needed()
    shot(page, shots, "01-lookalike-note")


def test_the_training_range_searches_training_galleries_only(
    phone: Page, deployment: Deployment, shots: Path
):
    """On the training range a capture is searched with the training purpose against the
    training gallery only, and the result screen keeps the banner and its colour; the
    practice subject named on the capture screen is scored (ranked first, gates passed) and
    their reference photo shown as a good capture of the same person."""
    page = phone
    log_in(page, deployment, OFFICERS[4])
    state_reason(page, deployment)
    page.get_by_role("button", name="Start shift").click()
    face_target = page.get_by_role("region", name="Face").get_by_label("Practice subject")
    expect(face_target).to_be_hidden()  # live searches name no practice subject
    page.get_by_role("button", name="Shift").click()
    page.get_by_role("button", name="Enter training range").click()
    watch_advice(page)
    page.get_by_role("button", name="Capture").click()
    face_target.fill(PRACTICE_NAME)
    with page.expect_response(lambda r: "/searches/face" in r.url) as info:
        page.get_by_role("button", name="Search").click()
    if info.value.status == 404 and info.value.json().get("field") == "gallery":
        pytest.xfail(f"a training search naming no gallery is refused: {info.value.text()}")
    assert info.value.status == 200, info.value.text()
    practice = info.value.json()
    assert practice["training"] is True and practice["purpose"] == "training"
    assert set(practice["galleries"]) == {"practice"}
    check_first_candidate(page, practice, PRACTICE_NAME)
    assert practice["practice"]["mate_first"] is True, practice["practice"]
    score = page.get_by_role("region", name="Practice score")
    expect(score).to_contain_text(f"{PRACTICE_NAME} was ranked first")
    expect(score).to_contain_text("Quality gates: passed")
    good = score.get_by_role("img", name="A good capture of the same person")
    expect(good).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=good.element_handle())
    expect(page.get_by_role("status").filter(has_text="TRAINING")).to_be_visible()
    expect(page.locator("body")).to_have_class(re.compile(r"\btraining\b"))
    shot(page, shots, "01-training-results")
    # the same screen fit to publish (docs/phone-results.png): a pseudonym, no recognisable face
    page.locator("img").evaluate_all(
        "imgs => imgs.forEach(i => { i.style.filter = 'blur(14px)'; })"
    )
    page.screenshot(path=shots / "01-training-results-blurred.png")


def test_a_server_that_does_not_answer_is_not_called_busy(phone: Page, deployment: Deployment):
    """A 503 says what to do next by its cause: a busy service is tried again later; a
    database or index server that did not answer (backend_unavailable) is also reported to
    the administrator, with the server's own advice."""
    phone.goto("/")
    said = phone.evaluate(
        """async () => {
          const { nextStep } = await import("./js/dom.js");
          const { ApiError } = await import("./js/api.js");
          const down = new ApiError(503, { detail: "vector index: expected Milvus to answer",
            code: "backend_unavailable", advice: "restore the network to the index server" }, "4");
          const busy = new ApiError(503, { detail: "service: expected a free worker",
            code: "service_busy" }, "2");
          return [nextStep(down), nextStep(busy)];
        }"""
    )
    assert "not answering: try again in 4 s" in said[0] and "administrator" in said[0]
    assert "Try: restore the network to the index server." in said[0]
    assert "busy" not in said[0]
    assert "The server is busy: try again in 2 s." in said[1]


def test_a_poor_capture_is_told_why_its_bands_moved(phone: Page, deployment: Deployment):
    """The results screen names the calibration table that set the bands, and a poor capture
    is told that its bands come from poor captures and to retake the photo."""
    phone.goto("/")
    notes = phone.evaluate(
        """async () => {
          const { calibrationNote } = await import("./js/results.js");
          return ["good", "poor", "all", undefined].map(
            (s) => calibrationNote({ calibration_stratum: s }));
        }"""
    )
    assert "good captures" in notes[0]
    assert "poor captures" in notes[1] and "retake" in notes[1]
    assert "all development captures" in notes[2]
    assert notes[3] == ""
