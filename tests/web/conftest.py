"""Browser-test fixtures: Debian's Chromium driven by Playwright against the real service.

Chromium comes from the ``chromium`` apt package (installed here when /usr/bin/chromium is
missing); Playwright never downloads a browser of its own. The service is started once per
session with ``mobileid serve`` on a free port, over a small real deployment. The fake camera
plays a .y4m made from an unseen photo of a person enrolled in the test gallery: two dim
frames (the quality check asks for light) and then the lit photo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_path
from tests.debian import apt_install, free_port
from tests.web.deployment import Deployment, build
from tests.web.y4m import frame_from_photo, write_y4m

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}  # a common phone's CSS pixels
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def _install_chromium() -> None:
    apt_install("chromium")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is missing")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Deployment:
    return build(tmp_path_factory.mktemp("web-deployment"), lfw_dev)


@pytest.fixture(scope="session")
def deployment(built: Deployment, service: str) -> Deployment:
    """The deployment, noting a route the app needs that the running service lacks."""
    try:
        urllib.request.urlopen(service + "api/v1/purposes", timeout=5)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return replace(built, missing_api="GET /api/v1/purposes (the Purpose list)")
    return built


@pytest.fixture(scope="session")
def service(built: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``mobileid serve`` running over the test deployment."""
    port = free_port()
    log = tmp_path_factory.mktemp("web-service") / "serve.log"
    cmd = [sys.executable, "-m", "mobileid.cli.main", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--data-dir", str(built.data_dir)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mobileid serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "api/v1/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"mobileid serve not ready after 120 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def camera_video(built: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Path:
    photo = built.probe_photo
    frames = [frame_from_photo(photo, gain=0.12)] * 2 + [frame_from_photo(photo)] * 20
    return write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", frames, fps=1)


FINGER_PHOTO = ("contactless", "ISPFDv1_samples", "1_o_1_n_1.jpg")  # outdoors, natural ground


@pytest.fixture(scope="session")
def finger_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A portrait camera (720×960) showing a real fingertip photo: three dim frames (the
    finger check asks for light), then the lit photo."""
    photo = shared_path(*FINGER_PHOTO)
    dim = frame_from_photo(photo, 720, 960, gain=0.12)
    lit = frame_from_photo(photo, 720, 960)
    return write_y4m(tmp_path_factory.mktemp("camera") / "finger.y4m", [dim] * 3 + [lit] * 20)


@pytest.fixture(scope="session")
def playwright_chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _install_chromium()
    with sync_playwright() as p:
        yield p.chromium


def _camera_showing(playwright_chromium: Any, video: Path) -> Iterator[Browser]:
    """Chromium whose camera shows ``video`` and is granted without asking."""
    flags = [*FLAGS, f"--use-file-for-fake-video-capture={video}"]
    b = playwright_chromium.launch(executable_path=str(CHROMIUM), args=flags)
    yield b
    b.close()


@pytest.fixture(scope="session")
def browser(playwright_chromium: Any, camera_video: Path) -> Iterator[Browser]:
    """Chromium whose camera shows the probe video and is granted without asking."""
    yield from _camera_showing(playwright_chromium, camera_video)


@pytest.fixture(scope="session")
def finger_browser(playwright_chromium: Any, finger_video: Path) -> Iterator[Browser]:
    """Chromium whose camera shows the fingertip video and is granted without asking."""
    yield from _camera_showing(playwright_chromium, finger_video)


@pytest.fixture(scope="session")
def camera_refusing_browser(playwright_chromium: Any) -> Iterator[Browser]:
    """Chromium in which the page is refused the camera (nobody grants the permission)."""
    flags = [f for f in FLAGS if f != "--use-fake-ui-for-media-stream"]
    b = playwright_chromium.launch(executable_path=str(CHROMIUM), args=flags)
    yield b
    b.close()


FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


class PageErrors:
    """Every JavaScript error and console error the page logs; a test fails on any. Chromium
    also logs each HTTP error answer as a console error: a test that provokes one on purpose
    says which status it expects, and only that one is let through."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.expected_statuses: set[int] = set()

    def console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        failed = FAILED_LOAD.match(msg.text)
        if failed and int(failed.group(1)) in self.expected_statuses:
            return
        self.items.append(f"console error: {msg.text} ({msg.location})")

    def page_error(self, exc: Any) -> None:
        self.items.append(f"page error: {exc}")


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


def _phone_page(
    browser: Browser, service: str, errors: PageErrors, request: pytest.FixtureRequest
) -> Iterator[Page]:
    failed_shot = _shots_folder(request) / "failed.png"  # before teardown: tmp_path is gone then
    context = browser.new_context(
        base_url=service,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-GB",
    )
    page = context.new_page()
    page.on("console", errors.console)
    page.on("pageerror", errors.page_error)
    yield page
    if request.node.stash.get(CALL_FAILED, False):  # what the screen showed when it failed
        page.screenshot(path=failed_shot, full_page=True)
    context.close()
    assert not errors.items, "the page logged errors:\n" + "\n".join(errors.items)


@pytest.fixture
def phone(
    browser: Browser, service: str, page_errors: PageErrors, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh phone-sized, touch-enabled page on the service; fails the test on any JS error."""
    yield from _phone_page(browser, service, page_errors, request)


@pytest.fixture
def finger_phone(
    finger_browser: Browser, service: str, page_errors: PageErrors, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A phone page whose camera shows a fingertip."""
    yield from _phone_page(finger_browser, service, page_errors, request)


@pytest.fixture
def phone_without_camera(
    camera_refusing_browser: Browser,
    service: str,
    page_errors: PageErrors,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """The same, on a phone whose camera the page is refused."""
    yield from _phone_page(camera_refusing_browser, service, page_errors, request)


def _shots_folder(request: pytest.FixtureRequest) -> Path:
    base = os.environ.get("MOBILEID_WEB_SHOTS")
    if base:
        return Path(base) / request.node.name
    return Path(request.getfixturevalue("tmp_path")) / "screens"


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """Where a test saves its screenshots: $MOBILEID_WEB_SHOTS/<test> when set, else under
    the test's tmp_path."""
    folder = _shots_folder(request)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
