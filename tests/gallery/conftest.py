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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_LIMIT_S = 180.0


def free_port(preferred: int | None = None) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(uri: str) -> bool:
    from pymilvus import MilvusClient

    try:
        MilvusClient(uri, timeout=3).list_collections()
    except Exception:  # any failure means "not up yet"
        return False
    return True


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for pid in [*_children(proc.pid), proc.pid]:  # the server binary first, then its launcher
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists() or (pid == proc.pid and proc.poll() is not None):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def milvus_uri() -> Iterator[str]:
    """The URI of a running Milvus server that tests may create collections in."""
    configured = os.environ.get("MOBILEID_TEST_MILVUS_URI")
    if configured:
        yield configured
        return
    exe = Path(sys.executable).with_name("milvus-server")
    if not exe.exists():
        pytest.fail(f"milvus-server not found beside {sys.executable}: run `make setup`")
    base = Path(tempfile.mkdtemp(prefix="mobileid-milvus-"))
    port = free_port()
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "--data", str(base / "data"), "--proxy-port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while not _answers(uri):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (base / "server.log").read_text(errors="replace")[-1500:]
                pytest.fail(f"Milvus did not start on {uri}: {tail}")
            time.sleep(1.0)
        yield uri
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
