"""Access: the token, the login form and cookie, CSRF, cross-site and Host checks, on every route."""
from __future__ import annotations

import http.cookiejar
import urllib.request
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.auth import COOKIE
from tests.reference import CORPUS
from tests.security.conftest import SECRET_NAME
from tests.security.routes import all_routes, fill
from tests.security.server import Server

HTML = {"Accept": "text/html,application/xhtml+xml"}
UNKNOWN_ID = "0123456789abcdef"


def _values(capture_id: str) -> dict[str, str]:
    return {"capture_id": capture_id, "number": "1", "flow_id": f"{capture_id}-tcp-0"}


def _login(client: TestClient, token: str) -> str:
    """Trade the token for the session cookie like a browser following ``/?token=``."""
    r = client.get(f"/?token={token}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return client.cookies.get(COOKIE)


def _csrf(app, cookie: str) -> str:
    return app.state.access.csrf_token(app.state.access.session(cookie))


def test_loopback_default_needs_no_token(open_app):
    app, client = open_app
    assert not app.state.access.required
    assert client.get("/api/captures").status_code == 200
    assert client.get("/", headers=HTML).status_code == 200


def test_binding_beyond_loopback_requires_a_generated_token(tmp_path):
    for host in ("0.0.0.0", "::", "192.168.1.20", "wirelens.example.org"):
        settings = Settings(data_dir=tmp_path / "d", host=host, auth="auto", token=None)
        app = create_app(settings)
        assert app.state.access.required and app.state.access.generated, host
        assert len(app.state.access.token) >= 32
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert not Settings(data_dir=tmp_path / "d", host=host, auth="auto", token=None).auth_required


def test_token_from_environment_and_auth_off(tmp_path, monkeypatch):
    monkeypatch.setenv("WIRELENS_TOKEN", "s3cret-token-from-env")
    settings = Settings(data_dir=tmp_path / "d", host="0.0.0.0")
    app = create_app(settings)
    assert app.state.access.token == "s3cret-token-from-env" and not app.state.access.generated
    monkeypatch.setenv("WIRELENS_AUTH", "off")
    app = create_app(Settings(data_dir=tmp_path / "d2", host="0.0.0.0"))
    assert not app.state.access.required
    with TestClient(app) as client:
        assert client.get("/api/captures").status_code == 200
    monkeypatch.setenv("WIRELENS_AUTH", "maybe")
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path / "d3")


def test_every_route_is_guarded_and_nothing_leaks(token_app):
    app, client, token, capture = token_app
    routes = all_routes(app)
    guarded = [r for r in routes if not r.open]
    assert len(guarded) >= 10, routes
    for route in guarded:
        bodies = []
        for capture_id in (capture["id"], UNKNOWN_ID):
            url = fill(route.path, _values(capture_id))
            for headers in ({}, HTML):
                r = client.request(route.method, url, headers=headers, follow_redirects=False)
                where = f"{route.method} {url} {headers}"
                assert r.status_code == 401, f"{where}: {r.status_code} {r.text[:200]}"
                assert SECRET_NAME not in r.text and "SECRET" not in str(r.headers), where
                assert r.headers["www-authenticate"].startswith("Bearer")
                if headers and route.html:
                    assert 'name="token"' in r.text and "<table" not in r.text, where
                else:
                    assert r.headers["content-type"] == "application/json", where
                    assert set(r.json()) == {"error"}, where
                bodies.append(r.text.replace(capture_id, "ID"))
        # A known and an unknown capture get the same answer: not even existence leaks.
        assert bodies[:2] == bodies[2:], route


def test_open_routes_reveal_nothing(token_app):
    app, client, token, capture = token_app
    r = client.get("/api/health")
    assert r.status_code == 200 and set(r.json()) == {"status", "version"}
    page = client.get("/login", headers=HTML)
    assert page.status_code == 200 and 'name="token"' in page.text and SECRET_NAME not in page.text
    assert client.get("/static/css/wirelens.css").status_code == 200


def test_bearer_token_opens_every_guarded_get_route(token_app):
    app, client, token, capture = token_app
    bearer = {"Authorization": f"Bearer {token}"}
    for route in all_routes(app):
        if route.open or route.method != "GET" or route.path.endswith("/events"):
            continue
        url = fill(route.path, _values(capture["id"]))
        r = client.get(url, headers=bearer)
        assert r.status_code not in (401, 403) and r.status_code < 500, f"{url}: {r.status_code} {r.text[:300]}"
    with client.stream("GET", f"/api/captures/{capture['id']}/events", headers=bearer) as r:
        assert r.status_code == 200


def test_wrong_tokens_are_refused(token_app):
    app, client, token, capture = token_app
    for value in (f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer ", f"Basic {token}", token):
        assert client.get("/api/captures", headers={"Authorization": value}).status_code == 401, value
    assert client.get(f"/?token={token}0", follow_redirects=False).status_code == 401
    client.cookies.set(COOKIE, "1.2.3")
    assert client.get("/api/captures").status_code == 401
    client.cookies.clear()


def test_query_token_sets_a_strict_httponly_cookie(token_app):
    app, client, token, capture = token_app
    r = client.get(f"/captures/{capture['id']}?token={token}&filter=tcp", follow_redirects=False)
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == f"/captures/{capture['id']}" and parse_qs(target.query) == {"filter": ["tcp"]}
    cookie = SimpleCookie(r.headers["set-cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert token not in cookie.value
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and SECRET_NAME in page.text


def test_login_form(token_app):
    app, client, token, capture = token_app
    r = client.post("/login", data={"token": "wrong", "next": "/"}, follow_redirects=False)
    assert r.status_code == 401 and "not the access token" in r.text and COOKIE not in r.headers.get("set-cookie", "")
    r = client.post("/login", data={"token": token, "next": f"/captures/{capture['id']}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/captures/{capture['id']}"
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    assert client.get("/api/captures").json()["captures"][0]["name"] == SECRET_NAME
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                 "/\t/evil.example", "/\n/evil.example", "\\\\evil.example"):
        r = client.post("/login", data={"token": token, "next": evil}, follow_redirects=False)
        assert r.headers["location"] == "/", evil
    r = client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]


def test_htmx_request_without_the_token_is_sent_to_the_login(token_app):
    app, client, token, capture = token_app
    r = client.get(f"/captures/{capture['id']}", headers={
        **HTML, "HX-Request": "true", "HX-Current-URL": f"http://testserver/captures/{capture['id']}?filter=tcp"})
    assert r.status_code == 401
    assert r.headers["hx-redirect"] == f"/login?next=%2Fcaptures%2F{capture['id']}%3Ffilter%3Dtcp"


def test_cookie_requests_that_change_state_need_the_csrf_token(token_app):
    app, client, token, capture = token_app
    cookie = _login(client, token)
    url = f"/api/captures/{capture['id']}"
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    refused = [
        {}, {"X-CSRF-Token": "0" * 40}, {"Origin": "http://evil.example"}, {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"}, {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"X-CSRF-Token": _csrf(app, cookie), "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in refused:
        assert client.delete(url, headers=headers).status_code == 403, headers
        r = client.post("/api/captures", files={"file": ("x.pcap", data)}, headers=headers)
        assert r.status_code == 403 and set(r.json()) == {"error"}, headers
    assert len(client.get("/api/captures").json()["captures"]) == 1
    # The page's token (htmx sends it from hx-headers), or the browser's own same-origin proof.
    ok = client.post("/api/captures", files={"file": ("x.pcap", data)}, headers={"X-CSRF-Token": _csrf(app, cookie)})
    assert ok.status_code == 201
    ok = client.post("/api/captures", files={"file": ("y.pcap", data)}, headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 201
    ok = client.post("/api/captures", files={"file": ("z.pcap", data)}, headers={"Origin": "http://testserver"})
    assert ok.status_code == 201
    assert client.delete(url, headers={"X-CSRF-Token": _csrf(app, cookie)}).status_code == 204
    # Bearer requests carry no ambient credential: no CSRF token needed.
    client.cookies.clear()
    assert client.delete(f"/api/captures/{ok.json()['id']}", headers={"Authorization": f"Bearer {token}"}).status_code == 204


def test_requests_from_other_sites_are_refused_without_a_token_too(open_app):
    app, client = open_app
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        r = client.post("/api/captures", files={"file": ("x.pcap", data)}, headers=headers)
        assert r.status_code == 403, headers
        r = client.post("/captures", files={"file": ("x.pcap", data)}, headers={**HTML, **headers})
        assert r.status_code == 403 and "another site" in r.text
    assert client.get("/api/captures").json()["captures"] == []
    r = client.post("/api/captures", files={"file": ("x.pcap", data)},
                    headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201


def test_token_less_server_answers_only_to_local_names(open_app, tmp_path):
    app, client = open_app
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.nip.io", "localhost.evil.example"):
        r = client.get("/api/captures", headers={"Host": host})
        assert r.status_code == 403 and "WIRELENS_ALLOWED_HOSTS" in r.json()["error"], host
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "wirelens.localhost", "10.1.2.3"):
        assert client.get("/api/captures", headers={"Host": host}).status_code == 200, host
    settings = Settings(data_dir=tmp_path / "d", auth="auto", token=None, allowed_hosts=["wirelens.lan"])
    with TestClient(create_app(settings)) as other:
        assert other.get("/api/captures", headers={"Host": "wirelens.lan:8000"}).status_code == 200


def test_security_headers_on_every_response(token_app):
    app, client, token, capture = token_app
    bearer = {"Authorization": f"Bearer {token}"}
    for route in all_routes(app):
        if route.method != "GET" or route.path.endswith("/events"):
            continue
        url = fill(route.path, _values(capture["id"]))
        for headers in ({}, bearer):
            r = client.get(url, headers=headers)
            policy = r.headers.get("content-security-policy", "")
            script = next((d for d in policy.split(";") if d.strip().startswith("script-src")), "")
            assert "'self'" in script and "unsafe-inline" not in script and "unsafe-eval" not in script, (url, policy)
            assert r.headers["x-content-type-options"] == "nosniff", url
            assert "frame-ancestors 'none'" in policy and r.headers["referrer-policy"] == "same-origin", url
            if route.path not in ("/docs", "/redoc", "/docs/oauth2-redirect"):
                assert script.strip() == "script-src 'self'", (url, policy)


def test_cli_prints_the_token_and_the_server_requires_it(tmp_path):
    with Server(tmp_path / "data", host="0.0.0.0") as server:
        assert server.token and f"Open http://127.0.0.1:{server.port}/?token={server.token}" in server.output()
        assert server.request("GET", "/api/captures", headers={"Authorization": ""})[0] == 401
        assert server.json("GET", "/api/captures") == (200, {"captures": []})
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(f"{server.base}/?token={server.token}", timeout=10) as r:
            assert r.status == 200 and r.url == f"{server.base}/"  # redirected, with the cookie
    env = {"WIRELENS_TOKEN": "token-from-the-environment-123"}
    with Server(tmp_path / "data2", host="0.0.0.0", env=env) as server:
        assert "token-from-the-environment-123" not in server.output()
        assert "WIRELENS_TOKEN" in server.output()
        assert server.json("GET", "/api/captures")[0] == 200
    with Server(tmp_path / "data3", host="0.0.0.0", env={"WIRELENS_AUTH": "off"}) as server:
        assert "token=" not in server.output()
        assert server.request("GET", "/api/captures")[0] == 200
