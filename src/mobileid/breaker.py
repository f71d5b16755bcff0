"""A circuit breaker per backend server (a database URL, a Milvus URI), per process.

A server whose host vanished without closing its connections (packets dropped) cannot say so:
each request would wait out the whole bound (a ping, a connection attempt, a Milvus request)
before failing. After one failure of that kind, the breaker opens: requests fail at once with
the same BackendUnavailable and advice, saying when the next try comes (``retry_after_s``:
HTTP ``Retry-After``). When the cool-down ends, one request at a time goes through as a probe;
its success closes the breaker at once, its failure opens it again for twice as long (up to
``CAP_S``).

Only a failure that cost a wait opens it (the backend's module decides which: a server that
did not answer within its bound). A server that answers, even with an error (a refused
connection, a statement or lock timeout of one slow query, a constraint violation), is
reachable: failing fast would only delay its recovery, so such an answer closes the breaker.
"""

from __future__ import annotations

import math
import os
import threading
import time

from mobileid.errors import BackendUnavailable

FIRST_S = 2.0  # the first cool-down: short, since a blip of the network is the common case
CAP_S = 30.0  # the longest: a server back after an outage is found within this
# A probe that never reports (its thread died before an answer) must not keep the breaker
# half-open for ever: after this long another request is let through.
PROBE_LEASE_S = 60.0


class Breaker:
    """The state of one backend: closed (every request goes), open until a time, or probing
    (one request is out; the others fail fast until it reports)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._next_try: float | None = None  # None: closed
        self._cooldown = 0.0
        self._probing = False
        self._failure: BackendUnavailable | None = None

    @property
    def closed(self) -> bool:
        return self._next_try is None

    def admit(self) -> None:
        """Let a request go to the server, or raise BackendUnavailable at once while the
        breaker is open (or another request is probing)."""
        if self._next_try is None:  # closed: the common case, without the lock
            return
        with self._lock:
            now = time.monotonic()
            if self._next_try is None:
                return
            if now >= self._next_try:
                self._probing = True  # this request is the probe; the others wait for it
                self._next_try = now + PROBE_LEASE_S
                return
            wait = self._next_try - now
            failure, probing = self._failure, self._probing
        raise _fail_fast(failure, self.name, wait, probing)

    def failed(self, failure: BackendUnavailable) -> None:
        """The server did not answer within its bound: open for the first cool-down, or
        (the probe failed) for twice the last one."""
        with self._lock:
            if self._next_try is not None and not self._probing:
                return  # a request sent before it opened, ending now: already counted
            grown = self._cooldown * 2 if self._next_try is not None else FIRST_S
            self._cooldown = min(CAP_S, max(FIRST_S, grown))
            self._next_try = time.monotonic() + self._cooldown
            self._probing = False
            self._failure = failure

    def answered(self) -> None:
        """The server answered (a success, or an error of its own): close."""
        if self._next_try is None:
            return
        with self._lock:
            self._next_try, self._cooldown, self._probing = None, 0.0, False
            self._failure = None

    def retry_in_s(self) -> float:
        """Seconds until the next request goes to the server (0: closed or due)."""
        at = self._next_try
        return 0.0 if at is None or self._probing else max(0.0, at - time.monotonic())


def _fail_fast(
    failure: BackendUnavailable | None, name: str, wait: float, probing: bool
) -> BackendUnavailable:
    first = failure.message if failure is not None else f"{name}: no answer within its bound"
    when = "once the request trying it now answers" if probing else f"in {wait:.1f} s"
    return BackendUnavailable(
        f"{first}; not tried again at once: {name} did not answer, so requests fail "
        f"without waiting until the next try {when}",
        field=failure.field if failure is not None else None,
        retry_after_s=max(1, math.ceil(wait if not probing else FIRST_S)),
    )


_lock = threading.Lock()
_breakers: dict[str, Breaker] = {}


def breaker_for(key: str, name: str) -> Breaker:
    """The process's breaker for the server ``key`` (a URL as the engine uses it), named in
    messages as ``name`` (without a password)."""
    with _lock:
        found = _breakers.get(key)
        if found is None:
            found = _breakers[key] = Breaker(name)
        return found


def _forget_after_fork() -> None:
    # A child opens its own connections: what the parent saw of a server says nothing of them.
    global _lock
    _lock = threading.Lock()
    _breakers.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
