"""What every answer carries and every request is held to: security headers, body limits
enforced while the body streams, and a per-address limit on login attempts."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mobileid.api.problems import PROBLEM

# No inline script anywhere: the phone app loads its scripts from files; its service worker
# is a same-origin file too (worker-src 'self').
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class PayloadTooLarge(HTTPException):
    """The body grew past its limit while streaming; the rest is never read."""

    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: expected at most {limit} bytes, got more")


class SecurityHeaders:
    """Adds the security headers to every answer (a route may set its own CSP)."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"x-frame-options": b"DENY",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"permissions-policy": b"camera=(self), microphone=(), geolocation=(self)",
                }
                if api:
                    extra[b"cache-control"] = b"no-store"
                if self.tls:
                    extra[b"strict-transport-security"] = HSTS.encode()
                headers += [(k, v) for k, v in extra.items() if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses a body over its route's limit: at once from Content-Length, else as soon as the
    streamed bytes pass it (413 problem+json), before the whole body is read."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "payload too large",
        "status": 413,
        "code": "payload_too_large",
        "detail": f"body: expected at most {limit} bytes, got more (refused before reading)",
        "field": "body",
    }
    data = json.dumps(body).encode()
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(data)).encode())]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class LoginLimiter:
    """At most ``attempts`` logins per ``window_s`` from one address (sliding window)."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str) -> float | None:
        """None if this attempt may go ahead; else seconds until one may."""
        now = time.monotonic()
        with self._lock:
            times = self._seen.setdefault(address, deque())
            while times and now - times[0] > self.window_s:
                times.popleft()
            if len(times) >= self.attempts:
                return self.window_s - (now - times[0])
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses; keeps memory bounded
                for key in [k for k, v in self._seen.items() if not v][:5_000]:
                    del self._seen[key]
            return None
