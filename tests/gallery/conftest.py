"""Gallery fixtures: a real Milvus standalone server, started once per test session.

The server comes from ``MOBILEID_TEST_MILVUS_URI`` when set; otherwise ``milvus-server`` (the
``milvus`` package on PyPI, a dev dependency) is started on 127.0.0.1 with its data in a
temporary folder, on a free port (never the default 19530, which a deployment on the same
machine may hold), and stopped by process id at the end (its ``milvus run standalone`` child
first).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.milvus import start, stop


@pytest.fixture(scope="session")
def milvus_uri() -> Iterator[str]:
    """The URI of a running Milvus server that tests may create collections in.

    A start is tried up to three times, each in a fresh folder: the launcher picks its internal
    ports by binding and releasing them, so a server started at the same moment elsewhere on the
    machine can take one first.
    """
    configured = os.environ.get("MOBILEID_TEST_MILVUS_URI")
    if configured:
        yield configured
        return
    exe = Path(sys.executable).with_name("milvus-server")
    if not exe.exists():
        pytest.fail(f"milvus-server not found beside {sys.executable}: run `make setup`")
    failures: list[str] = []
    for _ in range(3):
        base = Path(tempfile.mkdtemp(prefix="mobileid-milvus-"))
        started = start(exe, base)
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
