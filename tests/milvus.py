"""A Milvus standalone server started and stopped by process id: for the tests' ``milvus_uri``
fixture (tests/gallery/conftest.py) and the benchmarks (bench/bench_milvus.py).

``milvus-server`` (the ``milvus`` package on PyPI, a dev dependency) runs on 127.0.0.1 with its
data in the folder given; it is stopped by process id, its ``milvus run standalone`` child first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

START_LIMIT_S = 180.0


def free_port(preferred: int | None = None) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(uri: str) -> bool:
    from pymilvus import MilvusClient

    try:
        MilvusClient(uri, timeout=3).list_collections()
    except Exception:  # any failure means "not up yet"
        return False
    return True


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def stop(proc: subprocess.Popen[bytes], wait_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after 10 s: the 2.3.5 server has been seen to ignore SIGTERM, and
    one left running holds the ports the next server (a test's or a bench's) needs."""
    for pid in [*_children(proc.pid), proc.pid]:  # the server binary first, then its launcher
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            if not _running(pid) or (pid == proc.pid and proc.poll() is not None):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=wait_s)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _log_tail(base: Path) -> str:
    """The end of the launcher's output and of the server's own logs (where a failure shows)."""
    files = [base / "server.log", *sorted((base / "data" / "logs").glob("milvus-*.log"))]
    return "\n".join(
        f"--- {f.name}: {f.read_text(errors='replace')[-1000:]}" for f in files if f.exists()
    )


def launch(
    exe: Path, base: Path, preferred_port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A server process just started with its data in ``base``, and its URI: it answers only
    once :func:`wait_ready` says so."""
    port = free_port(preferred_port)
    with (base / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(exe), "--data", str(base / "data"), "--proxy-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen[bytes], uri: str, base: Path) -> str | None:
    """None once the launched server answers; else why not, its processes stopped."""
    deadline = time.monotonic() + START_LIMIT_S
    while not answers(uri):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            return f"Milvus did not start on {uri}:\n{_log_tail(base)}"
        time.sleep(1.0)
    return None


def start(
    exe: Path, base: Path, preferred_port: int | None = None
) -> tuple[subprocess.Popen[bytes], str] | str:
    """A started server and its URI, or why it did not start (its processes stopped)."""
    proc, uri = launch(exe, base, preferred_port)
    failure = wait_ready(proc, uri, base)
    return failure if failure is not None else (proc, uri)
