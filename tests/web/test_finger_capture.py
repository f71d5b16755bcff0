"""The finger capture screen in a real browser: a fake camera showing a real fingertip photo,
the service's advice on each preview frame, and Capture following it."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page, Response, expect

from tests.web.deployment import OFFICERS, Deployment
from tests.web.test_phone_app import CLIENT_TEXTS, log_in, shot, state_reason

READ = """() => [document.getElementById("finger-advice").textContent.trim(),
                 !document.getElementById("finger-capture").disabled]"""


def watch(page: Page, until_enabled: bool, timeout_s: float = 40) -> list[tuple[str, bool]]:
    """Advice texts with Capture's state (read together, as the page sets them together),
    until Capture is enabled (or disabled) with advice from the service."""
    seen: list[tuple[str, bool]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text, enabled = page.evaluate(READ)
        if not seen or seen[-1] != (text, enabled):
            seen.append((text, enabled))
        if enabled == until_enabled and text not in CLIENT_TEXTS:
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"Capture never became {until_enabled}; seen: {seen}")


def test_finger_advice_follows_the_camera_and_capture_follows_the_advice(
    finger_phone: Page, deployment: Deployment, shots: Path
) -> None:
    """With the camera dim the screen says "too dark" and Capture stays disabled; once the
    fingertip is lit Capture is enabled with the service's verdict; every frame was judged as
    a finger frame; Capture then shows the full-size photo to search with."""
    page = finger_phone
    answers: list[Response] = []

    def on_response(resp: Response) -> None:
        if "/capture/quality" in resp.url:
            answers.append(resp)

    page.on("response", on_response)
    log_in(page, deployment, OFFICERS[5])
    state_reason(page, deployment)
    page.get_by_role("button", name="Start shift").click()
    page.get_by_role("button", name="Fingers").click()
    expect(page.get_by_role("heading", name="Fingers")).to_be_visible()
    page.get_by_label("One fingertip").check()  # the camera shows one
    advice = page.locator("#finger-advice")
    capture = page.get_by_role("region", name="Fingers").get_by_role("button", name="Capture")

    dark = watch(page, until_enabled=False)
    expect(advice).to_contain_text("Too dark")
    expect(capture).to_be_disabled()
    shot(page, shots, "01-finger-dark")
    lit = watch(page, until_enabled=True)
    assert all(not ok for text, ok in dark + lit[:-1] if "too dark" in text.lower()), lit
    expect(capture).to_be_enabled()
    expect(advice).to_have_class("advice ok")
    expect(advice).to_contain_text("Good")
    shot(page, shots, "02-finger-ready")
    bodies = [a.json() for a in answers]
    # finger answers, each about the one fingertip in view; the last one passed
    assert bodies and all(b["fingertips_seen"] in (0, 1) for b in bodies), bodies
    assert bodies[-1]["ok"] is True and bodies[-1]["fingertips"][0]["problems"] == []
    assert any("dark" in b["problems"] for b in bodies), bodies

    capture.click()
    expect(page.get_by_role("img", name="The fingertip photo to search with")).to_be_visible()
    size = page.evaluate(
        "() => { const i = document.getElementById('finger-probe-img');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [720, 960], size
    shot(page, shots, "03-finger-probe")
