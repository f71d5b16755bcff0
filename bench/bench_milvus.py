"""A Milvus standalone server for the benchmark: the one given, or one started and stopped here.

Started like the tests start theirs (``milvus-server`` from the ``milvus`` package), on port
19530 when free; data in a temporary folder, removed afterwards.
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
from contextlib import contextmanager, suppress
from pathlib import Path

from bench_common import log


def _port() -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 19530))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(uri: str) -> bool:
    from pymilvus import MilvusClient

    try:
        MilvusClient(uri, timeout=3).list_collections()
    except Exception:  # not up yet, whatever the reason
        return False
    return True


@contextmanager
def milvus_server(uri: str | None) -> Iterator[str | None]:
    """``uri`` itself; None when ``uri`` is "none"; otherwise a server started here."""
    if uri == "none" or uri:
        yield None if uri == "none" else uri
        return
    base = Path(tempfile.mkdtemp(prefix="mobileid-bench-milvus-"))
    port = _port()
    exe = Path(sys.executable).with_name("milvus-server")
    with (base / "log").open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "--data", str(base / "data"), "--proxy-port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while not _up(uri):
            if proc.poll() is not None or time.monotonic() - t0 > 180:
                raise SystemExit(f"Milvus did not start: see {base / 'log'}")
            time.sleep(1)
        log(f"Milvus up on {uri} in {time.monotonic() - t0:.0f} s")
        yield uri
    finally:
        child = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        for pid in [*(int(p) for p in child.read_text().split()), proc.pid]:
            _stop(pid)
        proc.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after 10 s: the 2.3.5 server has been seen to ignore SIGTERM, and
    one left running holds the ports the next server (a test's or a bench's) needs."""
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _running(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
