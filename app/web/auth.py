"""Who may use the server: the access token, the login form and its cookie, CSRF and Host checks.

A server listening on loopback only needs no token (``auth="auto"``); listening anywhere else
it does, from ``WIRELENS_TOKEN`` or generated at start and printed like Jupyter's. Scripts send
it as ``Authorization: Bearer <token>``; a browser trades it once (the login form, or
``/?token=...``) for an HttpOnly, SameSite=Strict session cookie signed with a key derived
from the token, so changing the token logs every browser out and no server-side session store
is needed.

Requests that change state and are authenticated by that cookie must prove they come from a
Wirelens page: an ``X-CSRF-Token`` header equal to the page's token (htmx sends it from
``hx-headers`` on ``<body>``), or, for plain forms, the browser's ``Sec-Fetch-Site: same-origin``
(or a matching ``Origin`` from browsers without fetch metadata). Whatever the mode, a browser
request that changes state from another site is refused, and a token-less server answers only
to local host names, so a web page cannot reach it through DNS rebinding.

Everything is one ASGI middleware in front of every route, so a route added later is guarded
without doing anything; only the paths in ``OPEN_PATHS``/``OPEN_PREFIXES`` answer without it.
Wrong tokens count against the client's address (``login_limit``): past the limit it gets 429.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Settings
from app.web.errors import error_response, wants_html
from app.web.login_limit import LoginLimiter, client_address
from app.web.templating import templates

COOKIE = "wirelens_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 14 * 24 * 3600
# Health checks and the login itself must work without the token; static files are the same for
# everyone and reveal nothing about the library.
OPEN_PATHS = frozenset({"/api/health", "/login", "/logout", "/favicon.ico"})
OPEN_PREFIXES = ("/static/",)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_LOGIN_BODY = 16 * 1024
# Names no outside party can own, so no web page can rebind them to this machine: localhost and
# the reserved .localhost and .test domains (RFC 6761), and the name Starlette's test client uses.
LOCAL_NAMES = frozenset({"localhost", "testserver"})
LOCAL_SUFFIXES = (".localhost", ".test")


class Access:
    """The token of one running server and the sessions and CSRF tokens derived from it."""

    def __init__(self, settings: Settings) -> None:
        self.required = settings.auth_required
        self.generated = False
        if self.required and not settings.token:
            settings.token = secrets.token_urlsafe(32)
            self.generated = True
        self.token = settings.token or ""
        self._key = hashlib.sha256(b"wirelens session key\0" + self.token.encode()).digest()
        self.limiter = LoginLimiter(settings.login_max_failures, settings.login_window_seconds)

    def check_token(self, candidate: str | None) -> bool:
        if not self.token or not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self.token.encode())

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        body = f"{int(time.time())}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._sign(body)}"

    def session(self, cookie: str | None) -> str | None:
        """The session id of a valid, unexpired cookie value, else None."""
        if not cookie or cookie.count(".") != 2:
            return None
        issued, nonce, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{issued}.{nonce}")):
            return None
        if not issued.isdigit() or time.time() - int(issued) > SESSION_SECONDS:
            return None
        return nonce

    def csrf_token(self, session_id: str) -> str:
        return self._sign("csrf." + session_id)[:40]


# -- request facts -------------------------------------------------------------------------------

def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_matches(origin: str, host_header: str) -> bool:
    # Only the host and port are compared: behind a TLS-terminating proxy the scheme differs.
    return bool(origin) and urlsplit(origin).netloc.lower() == host_header.strip().lower()


def not_cross_site(headers: Headers) -> bool:
    """False for a browser request that another site (or an opaque origin) made."""
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser, or a same-origin GET of an old browser
    if origin == "null":
        # Browsers hide the origin for privacy in some cases (a no-referrer policy); their own
        # fetch metadata, which no page can forge, still says where the request comes from.
        return site == "same-origin"
    return _origin_matches(origin, headers.get("host", ""))


def proven_same_origin(headers: Headers) -> bool:
    """True when the browser itself says the request comes from one of this server's pages."""
    if headers.get("sec-fetch-site") == "same-origin":
        return True
    return "sec-fetch-site" not in headers and _origin_matches(headers.get("origin", ""),
                                                                headers.get("host", ""))


def safe_next(target: str | None) -> str:
    """A local path to go back to after the login (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    # Browsers drop tabs and newlines from URLs ("/\t/evil" is "//evil") and read "\" as "/".
    if any(ord(ch) < 0x20 or ch in "\x7f\\" for ch in target) or urlsplit(target).netloc:
        return "/"
    return target


def _cookie(value: str, max_age: int, secure: bool) -> str:
    parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _cookie_value(headers: Headers) -> str | None:
    for chunk in headers.get("cookie", "").split(";"):
        name, _, value = chunk.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _secure(scope: Scope, headers: Headers) -> bool:
    return scope.get("scheme") in ("https", "wss") or headers.get("x-forwarded-proto") == "https"


# -- the middleware ------------------------------------------------------------------------------

class AccessMiddleware:
    """Guards every route but the open ones (see the module docstring)."""

    def __init__(self, app: ASGIApp, access: Access, settings: Settings) -> None:
        self.app = app
        self.access = access
        # Only a token-less server reachable by name needs the Host check; with the token a
        # rebinding page has no credentials, and "off" is an explicit choice (e.g. containers).
        self.check_host = settings.auth == "auto" and not access.required
        self.allowed_hosts = frozenset({settings.host.lower(), *(h.lower() for h in settings.allowed_hosts)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        state.setdefault("csrf_token", "")
        state.setdefault("auth", "")  # "bearer" or "cookie" once authenticated (pages read it)
        method = scope.get("method", "GET")
        changes_state = method in UNSAFE_METHODS or scope["type"] == "websocket"

        if self.check_host and not self._host_allowed(headers.get("host", "")):
            await self._deny(scope, receive, send, 403,
                             "This server answers only to local names (localhost, 127.0.0.1); "
                             "add other names to WIRELENS_ALLOWED_HOSTS or set an access token.")
            return
        if changes_state and not not_cross_site(headers):
            await self._deny(scope, receive, send, 403,
                             "Request refused: it was sent by another site.")
            return
        path = scope.get("path", "")
        if not self.access.required or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return

        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if await self._refused_while_blocked(scope, receive, send, authorization.strip()):
                return
            if scheme.lower() == "bearer" and self.access.check_token(value.strip()):
                self.access.limiter.succeeded(client_address(scope))
                state["auth"] = "bearer"
                await self.app(scope, receive, send)
                return
            if authorization.strip():
                self.access.limiter.failed(client_address(scope))
            await self._unauthorized(scope, receive, send, "The access token is not valid.")
            return

        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token = next((v for k, v in query if k == "token"), None)
        if token is not None and method in ("GET", "HEAD") and scope["type"] == "http":
            if await self._refused_while_blocked(scope, receive, send, token):
                return
            if not self.access.check_token(token):
                if token:
                    self.access.limiter.failed(client_address(scope))
                await self._unauthorized(scope, receive, send, "The access token is not valid.")
                return
            self.access.limiter.succeeded(client_address(scope))
            # Trade the token for a cookie and drop it from the address bar (and history).
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            target = safe_next(quote(path) + ("?" + rest if rest else ""))
            response = RedirectResponse(target, status_code=303)
            response.headers["set-cookie"] = _cookie(self.access.new_session(), SESSION_SECONDS,
                                                     _secure(scope, headers))
            response.headers["cache-control"] = "no-store"
            await response(scope, receive, send)
            return

        session_id = self.access.session(_cookie_value(headers))
        if session_id is None:
            await self._unauthorized(scope, receive, send, "Authentication required: "
                                     "send the access token as 'Authorization: Bearer <token>' "
                                     "or log in at /login.")
            return
        csrf = state["csrf_token"] = self.access.csrf_token(session_id)
        if changes_state:
            sent = headers.get(CSRF_HEADER, "")
            if not (sent and hmac.compare_digest(sent, csrf)) and not proven_same_origin(headers):
                await self._deny(scope, receive, send, 403,
                                 "Request refused: it carries no valid X-CSRF-Token header.")
                return
        state["auth"] = "cookie"
        await self.app(scope, receive, send)

    def _host_allowed(self, host_header: str) -> bool:
        name = _host_name(host_header)
        if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES) or name in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)  # an address literal cannot be rebound by DNS
            return True
        except ValueError:
            return False

    async def _refused_while_blocked(self, scope: Scope, receive: Receive, send: Send,
                                     credential: str) -> bool:
        """Answer 429 (and True) when the client may not try a token now; the token it sent
        is not even checked, so a right guess during the wait is worth nothing."""
        wait = self.access.limiter.retry_after(client_address(scope)) if credential else 0
        if not wait:
            return False
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return True
        request = Request(scope, receive)
        here = safe_next(scope.get("path", "/"))
        response = too_many_attempts(request, wait, here, page=wants_html(request))
        await response(scope, receive, send)
        return True

    async def _deny(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = error_response(Request(scope, receive), status, message)
        response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope, receive)
        here = scope.get("path", "/") + ("?" + scope["query_string"].decode("latin-1")
                                          if scope.get("query_string") else "")
        here = safe_next(here)
        if wants_html(request):
            response: Response = login_page(request, here, status=401)
        else:
            response = JSONResponse({"error": message}, status_code=401)
        response.headers["www-authenticate"] = 'Bearer realm="wirelens"'
        response.headers["cache-control"] = "no-store"
        if request.headers.get("hx-request") == "true":
            current = urlsplit(request.headers.get("hx-current-url", ""))
            back = safe_next(current.path + ("?" + current.query if current.query else ""))
            response.headers["hx-redirect"] = "/login?" + urlencode({"next": back})
        await response(scope, receive, send)


# -- the login form ------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def login_page(request: Request, next_url: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next_url), "error": error},
                                      status_code=status)


def too_many_attempts(request: Request, wait: int, next_url: str, page: bool) -> Response:
    """429 for an address that sent too many wrong tokens: the login page with the message
    for a browser, the API's JSON error shape otherwise; Retry-After says when to try again."""
    message = (f"Too many wrong access tokens from your address: wait {wait} s before trying "
               "again.")
    if page:
        response: Response = login_page(request, next_url, status=429, error=message)
    else:
        response = JSONResponse({"error": message, "detail": {"retry_after": wait}}, status_code=429)
    response.headers["retry-after"] = str(wait)
    response.headers["cache-control"] = "no-store"
    return response


def _access(request: Request) -> Access:
    return request.app.state.access


def _logged_in(request: Request) -> bool:
    return _access(request).session(request.cookies.get(COOKIE)) is not None


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    if not _access(request).required or _logged_in(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, next)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token from the form and set the session cookie."""
    access = _access(request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            return error_response(request, 413, "The login form is larger than a login form can be.")
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    target = safe_next(form.get("next"))
    if not access.required:
        return RedirectResponse(target, status_code=303)
    client = client_address(request.scope)
    wait = access.limiter.retry_after(client)
    if wait:
        return too_many_attempts(request, wait, target, page=True)
    if not access.check_token(form.get("token", "").strip()):
        # Counted before the pause, so guesses sent side by side are all counted at once.
        access.limiter.failed(client)
        # A pause makes guessing slow; the generated token is far too long to guess anyway.
        await asyncio.sleep(0.3)
        return login_page(request, target, status=401, error="That is not the access token of this server.")
    access.limiter.succeeded(client)
    response = RedirectResponse(target, status_code=303)
    response.headers["set-cookie"] = _cookie(access.new_session(), SESSION_SECONDS,
                                             _secure(request.scope, request.headers))
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login" if _access(request).required else "/", status_code=303)
    response.headers["set-cookie"] = _cookie("", 0, _secure(request.scope, request.headers))
    return response


def install(app: FastAPI, settings: Settings) -> Access:
    """Add the access middleware and the login routes; ``app.state.access`` holds the token."""
    access = Access(settings)
    app.state.access = access
    app.include_router(router)
    app.add_middleware(AccessMiddleware, access=access, settings=settings)
    return access
