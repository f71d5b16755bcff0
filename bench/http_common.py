"""What the HTTP benchmarks share: the real service (``mobileid serve``) in its own process on
a free loopback port, its peak memory with its worker processes, plain HTTP clients, and an
officer with an API token."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp

from mobileid.auth import console_principal
from mobileid.service.context import Context
from mobileid.service.training import certify_operator

PASSWORD = "bench password, never used elsewhere"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def officer_token(
    ctx: Context,
    username: str,
    galleries: list[str],
    scopes: list[str],
    sources: tuple[str, ...] = (),
    *,
    certify: bool = False,
) -> str:
    """An officer entitled to ``galleries`` (and record ``sources``), logged on once for an
    API token with ``scopes``; ``certify`` exempts them from the training record (audited),
    so that they may search live galleries."""
    root = console_principal("bench")
    new = ctx.auth.add_operator(root, username, role="officer", password=PASSWORD)
    for gallery in galleries:
        ctx.auth.grant(root, username, gallery=gallery)
    for source in sources:
        ctx.auth.grant(root, username, source=source)
    if certify:
        from mobileid.service.caller import console_caller

        certify_operator(ctx, console_caller(), username, exempt="benchmark deployment")
    logon = ctx.auth.logon(username, PASSWORD, pyotp.TOTP(new.totp_secret).now())
    issued = ctx.auth.issue_token(logon.principal, scopes, expires_in=timedelta(hours=4))
    ctx.auth.logout(logon.session_token)
    return issued.token


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for name, data in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        parts.append(head + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    body: bytes
    retry_after_s: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    """One request on its own connection; a refused or reset connection is status 0."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        retry = float(answer.getheader("Retry-After") or 0)
        return Answer(answer.status, time.perf_counter() - t0, data, retry)
    except OSError as exc:
        return Answer(0, time.perf_counter() - t0, str(exc).encode())
    finally:
        conn.close()


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


class Service:
    """``mobileid serve`` on ``data_dir`` in a child process, until the ``with`` block ends.

    ``peak_mib()`` reads the kernel's high-water mark of resident memory (VmHWM) of the
    service and of each of its worker processes alive now."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self.started_s = 0.0

    def __enter__(self) -> Service:
        cmd = [sys.executable, "-m", "mobileid.cli.main", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]  # fmt: skip
        t0 = time.perf_counter()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service stopped: {self.log.read_text()[-2000:]}")
            if request(self.port, "GET", "/api/v1/readyz", None, {}).status == 200:
                self.started_s = time.perf_counter() - t0
                return self
            time.sleep(0.25)
        raise RuntimeError("the service was not ready within 600 s")

    def workers(self) -> list[int]:
        assert self.proc is not None
        return [c for c in _children(self.proc.pid) if b"stage_worker" in _cmdline(c)]

    def peak_mib(self) -> tuple[float, float]:
        """(the service's peak RSS, the sum of its worker processes' peak RSS), MiB."""
        assert self.proc is not None
        workers = sum(_status_kib(w, "VmHWM") for w in self.workers())
        return _status_kib(self.proc.pid, "VmHWM") / 1024, workers / 1024

    def __exit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
