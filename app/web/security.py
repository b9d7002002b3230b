"""Response hardening and request limits, as ASGI middleware around the whole application.

* Every response carries a Content-Security-Policy that runs scripts from this server's files
  only (``script-src 'self'``, no inline script, no ``eval``), so even markup that slipped into a
  page could not run, plus ``nosniff``, no framing and no referrer to other sites (a ``?token=``
  URL never leaks through a Referer header).
* The API documentation pages (``/docs``, ``/redoc``) load their viewer from a CDN and start it
  with one inline script; they get a policy that allows that CDN and exactly that script, by
  hash, and nothing else.
* Uploads are limited in number at once (``max_concurrent_uploads``): one more is refused with
  429 before its body is read, so a burst of uploads cannot fill the disk or the memory.

``install`` puts the guards in order: headers outermost (so refusals carry them too), then the
access check (``auth``), then the upload limit (only authenticated uploads take a slot).
"""
from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings
from app.web import auth
from app.web.errors import error_response

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_PATHS = frozenset({"/docs", "/redoc"})
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # No referrer to other sites (a URL never leaks); same-origin requests keep theirs, and
    # with it a real Origin header on form posts (with no-referrer, Chromium sends "null").
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
UPLOAD_PATHS = frozenset({"/api/captures", "/captures"})
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def docs_policy(html: bytes) -> str:
    """The policy of a documentation page: its CDN plus its own inline scripts, by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in INLINE_SCRIPT.findall(html)
    )
    return (f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}; "
            f"style-src 'self' {DOCS_CDN} https://fonts.googleapis.com 'unsafe-inline'; "
            "font-src https://fonts.gstatic.com; img-src 'self' data: https:; worker-src blob:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def _set_missing(message: Message, values: dict[str, str]) -> None:
    present = {k.lower() for k, _ in message.get("headers", [])}
    extra = [(k.encode(), v.encode()) for k, v in values.items() if k.encode() not in present]
    message["headers"] = list(message.get("headers", [])) + extra


class SecurityHeaders:
    """Adds the policy and hardening headers to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _set_missing(message, {"content-security-policy": CSP, **HEADERS})
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The page is small and made by FastAPI: hold it to hash its inline script.
        start: Message | None = None
        body = b""

        async def hold(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            assert start is not None
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-security-policy"]
            start["headers"] = headers + [(b"content-security-policy", docs_policy(body).encode())]
            _set_missing(start, HEADERS)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)


class UploadLimit:
    """Refuses an upload beyond ``limit`` running at once, before reading its body (429)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = max(1, limit)
        self.active = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            response = error_response(
                Request(scope, receive), 429,
                f"Too many uploads at once: {self.active} are being received and the limit is "
                f"{self.limit}. Try again when one has finished.",
                {"limit": self.limit},
            )
            response.headers["retry-after"] = "5"
            await response(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


def install(app: FastAPI, settings: Settings) -> auth.Access:
    """Install the upload limit, the access check and the headers, innermost first."""
    app.add_middleware(UploadLimit, limit=settings.max_concurrent_uploads)
    access = auth.install(app, settings)
    app.add_middleware(SecurityHeaders)
    return access
