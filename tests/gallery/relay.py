"""A TCP relay in front of a real server, which a test can make hang (bytes are swallowed,
nothing answers) or resume: a network fault between mobileid and a real Milvus or
PostgreSQL, with nothing of either replaced."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlparse


class Relay:
    """Listens on 127.0.0.1:``port``; forwards every connection to ``target`` while passing."""

    def __init__(self, target_uri: str) -> None:
        url = urlparse(target_uri)
        self._target = (url.hostname or "127.0.0.1", int(url.port or 0))
        self._hung = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.uri = f"{url.scheme}://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        """From now on nothing reaches the server and nothing comes back (a hung server or a
        dropped network): connections stay open, requests wait for an answer."""
        self._hung.set()

    def resume(self) -> None:
        """Pass again; connections cut while hung are closed (their streams lost bytes), so
        clients connect afresh."""
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for s in doomed:
            _close(s)
        self._hung.clear()

    def close(self) -> None:
        _close(self._listener)
        self.resume()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)  # the relay itself never ends a quiet connection
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    break
                if not self._hung.is_set():
                    dst.sendall(data)
            except OSError:
                break
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut by the other side
        s.shutdown(socket.SHUT_RDWR)
    s.close()
