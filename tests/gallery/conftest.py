"""Gallery fixtures: a real Milvus standalone server, started once per test session.

The server comes from ``MOBILEID_TEST_MILVUS_URI`` when set; otherwise ``milvus-server`` (the
``milvus`` package on PyPI, a dev dependency) is started on 127.0.0.1 with its data in a
temporary folder, on a free port (never the default 19530, which a deployment on the same
machine may hold), and stopped by process id at the end (its ``milvus run standalone`` child
first). The server is launched as soon as the session's tests are collected, when one of them
needs it: it boots while the tests before it run, on a machine not yet busy with the session's
other servers (a start in the middle of the session has been seen to hang).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.milvus import launch, start, stop, wait_ready

_EARLY: dict[str, Any] = {}  # the server launched at collection, until the fixture takes it


def _exe() -> Path:
    return Path(sys.executable).with_name("milvus-server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("MOBILEID_TEST_MILVUS_URI") or _EARLY or not _exe().exists():
        return
    if any("milvus_uri" in getattr(item, "fixturenames", ()) for item in items):
        base = Path(tempfile.mkdtemp(prefix="mobileid-milvus-"))
        _EARLY.update(base=base, launched=launch(_exe(), base))


def pytest_sessionfinish() -> None:
    """A server launched early that no test took (all deselected) is stopped all the same."""
    if _EARLY:
        stop(_EARLY["launched"][0])
        shutil.rmtree(_EARLY["base"], ignore_errors=True)
        _EARLY.clear()


def _starts(exe: Path) -> Iterator[tuple[tuple[subprocess.Popen[bytes], str] | str, Path]]:
    """Each try, with its folder: the server launched at collection first (when there is one),
    once it answers, then up to three fresh starts; a try that failed says why."""
    if _EARLY:
        launched, base = _EARLY.pop("launched"), _EARLY.pop("base")
        failure = wait_ready(*launched, base)
        yield (launched if failure is None else failure), base
    for _ in range(3):
        base = Path(tempfile.mkdtemp(prefix="mobileid-milvus-"))
        yield start(exe, base), base


@pytest.fixture(scope="session")
def milvus_uri() -> Iterator[str]:
    """The URI of a running Milvus server that tests may create collections in.

    The server launched at collection is used once it answers; failing that, a start is tried
    up to three times, each in a fresh folder: the launcher picks its internal ports by binding
    and releasing them, so a server started at the same moment elsewhere on the machine can
    take one first.
    """
    configured = os.environ.get("MOBILEID_TEST_MILVUS_URI")
    if configured:
        yield configured
        return
    exe = _exe()
    if not exe.exists():
        pytest.fail(f"milvus-server not found beside {sys.executable}: run `make setup`")
    failures: list[str] = []
    for started, base in _starts(exe):
        if isinstance(started, str):
            failures.append(started)
            shutil.rmtree(base, ignore_errors=True)
            continue
        proc, uri = started
        try:
            yield uri
        finally:
            stop(proc)
            shutil.rmtree(base, ignore_errors=True)
        return
    pytest.fail("\n\n".join(failures))
