"""Shared fixtures: real test data lives in ../shared/data and is never copied into the repo."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.postgres import ENGINES, create_database, drop_database, start_server

SHARED_DATA = Path(
    os.environ.get(
        "MOBILEID_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
).resolve()


def shared_path(*parts: str) -> Path:
    """Path inside ../shared/data; fails the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"test data missing: expected {path} (the shared data folder beside the checkout, "
            "or set MOBILEID_SHARED_DATA)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def lfw_dev() -> Path:
    return shared_path("faces", "lfw-dev")


@pytest.fixture(scope="session")
def fr_samples() -> Path:
    return shared_path("faces", "face_recognition_samples")


@pytest.fixture(scope="session")
def orl_faces() -> Path:
    return shared_path("faces", "orl_faces")


@pytest.fixture(scope="session")
def face_pipeline():  # type: ignore[no-untyped-def]
    from mobileid.face.pipeline import load_face_pipeline

    return load_face_pipeline()


def link_subjects(src: Path, dest: Path, names: list[str], per_subject: int | None = None) -> Path:
    """A folder-per-subject tree of symlinks to real images (the data is never copied)."""
    for name in names:
        images = sorted((src / name).iterdir())[:per_subject]
        (dest / name).mkdir(parents=True, exist_ok=True)
        for image in images:
            (dest / name / image.name).symlink_to(image)
    return dest


LIVE_PURPOSE = "lead-check"


def write_purposes(data_dir: Path) -> Path:
    """A deployer's purposes file with one live purpose mapped to a (fictitious) authority."""
    import json

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "purposes.json"
    path.write_text(
        json.dumps(
            {
                "purposes": [
                    {
                        "code": LIVE_PURPOSE,
                        "description": "checking a lead in an open case (test deployment)",
                        "legal_authority": "Test Deployment Authority s.1",
                    }
                ]
            }
        )
    )
    return path


ADMIN_PASSWORD = "the first admin's long passphrase"
ADMIN_SCOPE = "manage_operators,manage_galleries,manage_sources"


def cli_json(*argv: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """Run ``mobileid ARGV --json`` in-process; (exit code, the JSON it printed or None)."""
    import contextlib
    import io
    import json

    from mobileid.cli.main import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        code = main([*argv, "--json"])
    text = out.getvalue().strip()
    return code, json.loads(text) if text else None


def operator_with_token(
    data_dir: Path,
    name: str,
    role: str,
    scope: str,
    *,
    admin: str | None = None,
    password: str = ADMIN_PASSWORD,
) -> str:
    """An operator added through ``operators add`` (by the ``admin`` token, or from the local
    console where a fresh install allows it), and an API token of its own."""
    from urllib.parse import parse_qs, urlparse

    import pyotp

    d = ["--data-dir", str(data_dir)]
    by = ["--token", admin] if admin else []
    env = {"MOBILEID_PASSWORD": password}
    code, added = cli_json("operators", "add", name, "--role", role, *by, *d, env=env)
    assert code == 0, added
    secret = parse_qs(urlparse(added["totp_uri"]).query)["secret"][0]
    env["MOBILEID_TOTP"] = pyotp.TOTP(secret).now()
    code, issued = cli_json("operators", "token", name, "--scope", scope, *d, env=env)
    assert code == 0, issued
    return str(issued["token"])


def first_admin_token(data_dir: Path, name: str = "admin0", scope: str = ADMIN_SCOPE) -> str:
    """The deployment's first admin, created from the local console (what a fresh install may
    do), and an API token of it: management commands after that pass it as --token."""
    return operator_with_token(data_dir, name, "admin", scope)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A libpq URL of the session's PostgreSQL server (database ``postgres``)."""
    yield from start_server()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A database of our own on the server for this session, dropped at the end."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def fresh_postgres(postgres_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped after it."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty main database on each engine in turn: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mobileid.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres"))


# Property tests (marked ``property``): a few derandomised examples each in ``make test``,
# thousands under ``make fuzz`` (``--hypothesis-profile=fuzz``), which keeps what it finds.
settings.register_profile(
    "default", max_examples=25, deadline=None, derandomize=True, database=None,
    print_blob=True,
)  # fmt: skip
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "2000")), deadline=None,
    print_blob=True,
)  # fmt: skip
settings.load_profile("default")


_TRIED = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Under ``make fuzz``: how many inputs each property test tried, and how many failed."""
    if terminalreporter.config.getoption("--hypothesis-profile", None) != "fuzz":
        return
    rows = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            stats = getattr(report, "_hypothesis_stats", None)
            if stats:
                counts = [tuple(map(int, m)) for m in _TRIED.findall(stats)]
                rows.append((report.nodeid, *(sum(c[i] for c in counts) for i in range(3))))
    terminalreporter.section("fuzz: inputs tried per property")
    for nodeid, passing, failing, invalid in sorted(rows):
        terminalreporter.write_line(
            f"{passing + failing:>8} tried {failing:>4} failing {invalid:>5} rejected  {nodeid}"
        )
    total = sum(r[1] + r[2] for r in rows)
    failed = sum(r[2] > 0 for r in rows)
    terminalreporter.write_line(f"{total:>8} inputs in all; {failed} properties found failing")
