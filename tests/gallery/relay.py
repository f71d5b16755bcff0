"""A TCP relay in front of a real server, which a test can make hang (bytes are swallowed,
nothing answers) or resume: a network fault between mobileid and a real Milvus or
PostgreSQL, with nothing of either replaced."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from urllib.parse import urlparse


class Relay:
    """Listens on 127.0.0.1:``port``; forwards every connection to ``target`` while passing."""

    def __init__(self, target_uri: str) -> None:
        url = urlparse(target_uri)
        self._target = (url.hostname or "127.0.0.1", int(url.port or 0))
        self._requests_cut = threading.Event()
        self._answers_cut = threading.Event()
        self._vanished = threading.Event()
        self._delay_s = 0.0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.uri = f"{url.scheme}://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self, *, answers_only: bool = False) -> None:
        """From now on nothing reaches the server and nothing comes back (a hung server or a
        dropped network): connections stay open, requests wait for an answer. With
        ``answers_only``, requests still reach the server and are carried out, but their
        answers are lost on the way back."""
        if not answers_only:
            self._requests_cut.set()
        self._answers_cut.set()

    def vanish(self) -> None:
        """From now on the server's host is gone without closing anything (packets dropped):
        open connections get no answer, and a new one is accepted (as a TCP handshake the
        relay's own kernel answers) and never forwarded, so connecting waits out the
        client's connect timeout."""
        self._vanished.set()
        self.hang()

    def slow(self, delay_s: float) -> None:
        """From now on every chunk of bytes, either way, arrives ``delay_s`` late (a slow
        network or a loaded server that still answers): a round trip takes twice as long."""
        self._delay_s = delay_s

    def resume(self) -> None:
        """Pass again, at full speed; connections cut while hung are closed (their streams
        lost bytes), so clients connect afresh."""
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for s in doomed:
            _close(s)
        self._vanished.clear()
        self._requests_cut.clear()
        self._answers_cut.clear()
        self._delay_s = 0.0

    def close(self) -> None:
        _close(self._listener)
        self.resume()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._vanished.is_set():
                with self._lock:
                    self._sockets.append(client)  # held open, read by nobody
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)  # the relay itself never ends a quiet connection
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b, cut in (
                (client, upstream, self._requests_cut),
                (upstream, client, self._answers_cut),
            ):
                threading.Thread(target=self._pump, args=(a, b, cut), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, cut: threading.Event) -> None:
        """Read from ``src`` as bytes come; a second thread sends them on, each chunk once
        its delay has passed since it came (latency, not a narrower pipe: chunks that come
        together leave together)."""
        due: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        threading.Thread(target=self._send, args=(due, src, dst), daemon=True).start()
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if data and cut.is_set():
                continue  # swallowed
            due.put((time.monotonic() + self._delay_s, data))
            if not data:
                return

    def _send(
        self, due: queue.SimpleQueue[tuple[float, bytes]], src: socket.socket, dst: socket.socket
    ) -> None:
        while True:
            at, data = due.get()
            time.sleep(max(0.0, at - time.monotonic()))
            try:
                if data:
                    dst.sendall(data)
                    continue
            except OSError:
                pass
            break
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut by the other side
        s.shutdown(socket.SHUT_RDWR)
    s.close()
