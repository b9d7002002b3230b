"""Packet bytes are never markup: every view of hostile captures shows their HTML as text.

The captures (see hostile.py) put script-running markup into every field a view can show. Every
GET route of the application (walked from ``app.routes``, with each value of its query parameters
and a hostile string for the free ones) is fetched from a real server for every packet and flow
of them, as a page and as an htmx fragment; no response may contain the markup unescaped, and
the views that show packet text must show it escaped (so the test cannot pass by showing nothing).
"""
from __future__ import annotations

import re
import time
import urllib.request
from urllib.parse import quote, urlencode

from app.main import create_app
from app.settings import Settings
from tests.security import hostile
from tests.security.routes import all_routes, fill, query_variants

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {**HTML, "HX-Request": "true"}
SKIP = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/login")
JS_URL = re.compile(r"""(href|src|action|formaction|xlink:href|data)\s*=\s*["']?\s*javascript:""", re.I)
ESCAPED = ("&lt;script&gt;__pwned", "&lt;img src=x onerror", "&lt;svg/onload")
FILTERS = (hostile.PAYLOADS[0], 'http.request.uri contains "<script>"', 'dns.qry.name contains "<img"')


def check(where: str, status: int, headers: dict, body: bytes) -> str:
    assert status < 500, f"{where}: {status} {body[:300]!r}"
    ctype = headers.get("content-type", headers.get("Content-Type", ""))
    if "json" in ctype or "octet-stream" in ctype or status in (301, 302, 303, 307):
        return ""
    assert headers.get("x-content-type-options", headers.get("X-Content-Type-Options")) == "nosniff", where
    text = body.decode("utf-8", "replace")
    for fragment in hostile.MARKUP:
        assert fragment.lower() not in text.lower(), f"{where} ({ctype}) shows markup: {fragment}"
    assert not JS_URL.search(text), f"{where}: javascript: URL in an attribute"
    return text


def _get(server, url: str, headers: dict) -> tuple[int, dict, bytes]:
    status, response_headers, body = server.request("GET", url, headers=headers)
    return status, {k.lower(): v for k, v in response_headers.items()}, body


def _events(server, url: str, seconds: float = 10) -> bytes:
    """An event stream's text until ``done`` (an indexed capture's stream ends there)."""
    req = urllib.request.Request(server.base + url, headers={"Accept": "text/event-stream"})
    out = b""
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(req, timeout=seconds) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        while time.monotonic() < deadline and b"event: done" not in out:
            line = r.readline()
            if not line:
                break
            out += line
    return out


def test_every_view_shows_hostile_packets_as_text(hostile_server, tmp_path):
    server, captures = hostile_server
    app = create_app(Settings(data_dir=tmp_path / "routes"))
    seen: dict[str, int] = {}
    visited = 0
    for capture in captures:
        cid = capture["id"]
        status, flows = server.json("GET", f"/api/flows?capture={cid}")
        assert status == 200 and len(flows["flows"]) >= 4, flows  # HTTP, TLS, DNS, UDP at least
        values = [{"capture_id": cid, "number": str(n), "flow_id": f["id"]}
                  for n, f in zip(range(1, capture["packets"] + 1),
                                  (flows["flows"] * capture["packets"])[: capture["packets"]])]
        for route in all_routes(app):
            if route.method != "GET" or route.open or route.path in SKIP:
                continue
            if route.path.endswith("/events"):
                body = _events(server, fill(route.path, values[0]))
                if not route.html:
                    continue  # JSON rows: data for scripts, never parsed as HTML
                text = check(route.path, 200, {"content-type": "text/event-stream",
                                                "x-content-type-options": "nosniff"}, body)
                seen[route.path] = sum(text.count(e) for e in ESCAPED)
                continue
            # Every packet and flow for routes that take one, the first for the others.
            per = values if ("{number}" in route.path or "{flow_id}" in route.path) else values[:1]
            for value in per:
                base = fill(route.path, value)
                for query in query_variants(app, route.path, "GET", hostile.PAYLOADS[1]):
                    url = base + ("?" + urlencode(query) if query else "")
                    for headers in ((HTML, HTMX) if route.html else ({},)):
                        text = check(f"GET {url} {headers}", *_get(server, url, headers))
                        seen[route.path] = seen.get(route.path, 0) + sum(text.count(e) for e in ESCAPED)
                        visited += 1
    assert visited > 100
    # The views that show packet text, names or comments did show them (escaped).
    for path in ("/", "/captures/{capture_id}", "/captures/{capture_id}/packets/{number}",
                 "/flows/{flow_id}/follow", "/captures/{capture_id}/events"):
        assert seen.get(path, 0) > 0, f"{path} never showed the hostile text: {seen}"


def test_filters_error_pages_and_names_show_markup_as_text(hostile_server):
    server, captures = hostile_server
    cid = captures[0]["id"]
    urls = [f"/captures/{cid}?{urlencode({'filter': f})}" for f in FILTERS]
    urls += [f"/captures/{quote(p, safe='')}" for p in hostile.PAYLOADS]
    urls += [f"/flows/{quote(p, safe='')}/ladder" for p in hostile.PAYLOADS[:3]]
    urls += [f"/captures/{cid}/packets/{quote(hostile.PAYLOADS[1], safe='')}", f"/{quote(hostile.PAYLOADS[0])}"]
    for url in urls:
        for headers in (HTML, HTMX, {}):
            status, response_headers, body = _get(server, url, headers)
            assert status in (200, 400, 404, 422), (url, status, body[:200])
            check(f"GET {url} {headers}", status, response_headers, body)
    page = check("/", *_get(server, "/", HTML))
    assert "&lt;img src=x onerror=__pwned=9&gt;" in page  # the uploaded file's name, as text
    status, headers, _ = _get(server, f"/api/captures/{cid}/download", {})
    disposition = headers["content-disposition"]
    assert status == 200 and "<" not in disposition and '"' not in disposition.split("filename", 1)[1][2:-1]


def test_json_and_exports_are_not_served_as_html(hostile_server):
    server, captures = hostile_server
    cid = captures[0]["id"]
    status, headers, body = _get(server, f"/api/captures/{cid}/packets/4", HTML)
    assert status == 200 and headers["content-type"] == "application/json"
    assert b"<script>__pwned=1" in body  # JSON carries the bytes as data; the browser will not run it
    assert headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in headers["content-security-policy"]
    flows = server.json("GET", f"/api/flows?capture={cid}&protocol=tcp")[1]["flows"]
    for flow in flows:
        status, headers, body = _get(server, f"/flows/{flow['id']}/ladder.svg", {})
        assert status == 200 and headers["content-type"].startswith("image/svg+xml")
        assert "script-src 'self'" in headers["content-security-policy"] and b"<script" not in body
        status, headers, body = _get(server, f"/flows/{flow['id']}/ladder.mmd", {})
        assert status == 200 and b"<" not in body.replace(b"<<", b"").replace(b"->>", b"")
