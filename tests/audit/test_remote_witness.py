"""Signed heads reach a remote witness (HTTP endpoint or syslog over TCP) over real sockets,
in order, and a remote that was down gets the heads it missed once it is back."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from mobileid.audit import open_audit_log
from mobileid.audit.remote import RemoteWitness
from mobileid.errors import InvalidArgument
from tests.audit.conftest import StepClock, sample_event


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_http(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def http_port() -> Iterator[int]:
    _Collector.received = []
    yield _free_port()


def _local_lines(data: Path) -> list[dict]:
    text = (data / "audit-witness" / "heads.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_http_witness_gets_every_head_and_catches_up(tmp_path: Path, http_port: int) -> None:
    """Each signed head is POSTed; heads signed while the endpoint was down are resent, in
    order, after the next one; the log never stopped."""
    server = _serve_http(http_port)
    url = f"http://127.0.0.1:{http_port}/witness"
    log = open_audit_log(tmp_path / "data", clock=StepClock(), witness_url=url)
    for i in range(3):
        log.record(sample_event(i))
    assert [h["sequence"] for h in _Collector.received] == [1, 2, 3]
    server.shutdown()
    server.server_close()
    for i in range(3, 5):
        log.record(sample_event(i))  # the remote is down: recorded anyway
    server = _serve_http(http_port)
    log.record(sample_event(5))
    log.close()
    server.shutdown()
    server.server_close()
    assert [h["sequence"] for h in _Collector.received] == [1, 2, 3, 4, 5, 6]
    assert _Collector.received == _local_lines(tmp_path / "data")


class _SyslogHandler(socketserver.StreamRequestHandler):
    frames: ClassVar[list[bytes]] = []

    def handle(self) -> None:
        while True:
            length = b""
            while (c := self.rfile.read(1)) not in (b" ", b""):
                length += c
            if not length:
                return
            type(self).frames.append(self.rfile.read(int(length)))


def test_syslog_witness_gets_octet_counted_rfc5424_messages(tmp_path: Path) -> None:
    """Over syslog+tcp each head is one RFC 5424 message whose MSG is the witness line."""
    _SyslogHandler.frames = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SyslogHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    log = open_audit_log(
        tmp_path / "data", clock=StepClock(), witness_url=f"syslog+tcp://127.0.0.1:{port}"
    )
    for i in range(2):
        log.record(sample_event(i))
    log.close()
    server.shutdown()
    server.server_close()
    assert len(_SyslogHandler.frames) == 2
    first = _SyslogHandler.frames[0].decode()
    assert first.startswith("<37>1 ") and " mobileid-audit " in first
    assert json.loads(first[first.index("{") :]) == _local_lines(tmp_path / "data")[0]


@pytest.mark.parametrize("url", ["ftp://host/x", "syslog+tcp://host", "http://"])
def test_bad_witness_url_is_refused(url: str) -> None:
    """A remote witness URL that cannot work is refused naming the setting."""
    with pytest.raises(InvalidArgument, match="MOBILEID_AUDIT_WITNESS_URL"):
        RemoteWitness.parse(url)
