"""Guessing the token: wrong tokens from one address, past a limit, make that address wait (429
with Retry-After) whatever it sends, while other addresses and logged-in browsers carry on."""
from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.auth import COOKIE
from app.web.login_limit import LoginLimiter
from tests.security.server import Server

HTML = {"Accept": "text/html,application/xhtml+xml"}
TOKEN = "the-right-token-0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the limiter ---------------------------------------------------------------------------------

def test_limit_failures_block_the_address_for_a_window():
    clock = Clock()
    limiter = LoginLimiter(3, 10, clock=clock)
    assert [limiter.failed("10.0.0.1") for _ in range(2)] == [0, 0]
    assert limiter.retry_after("10.0.0.1") == 0
    assert limiter.failed("10.0.0.1") == 10  # the third within the window
    clock.now += 9.5
    assert limiter.retry_after("10.0.0.1") == 1  # whole seconds, rounded up
    limiter.succeeded("10.0.0.1")  # a success cannot lift a block (it is not even checked)
    assert limiter.retry_after("10.0.0.1") == 1
    clock.now += 0.5
    assert limiter.retry_after("10.0.0.1") == 0
    assert [limiter.failed("10.0.0.1") for _ in range(3)] == [0, 0, 10]  # counted afresh


def test_failures_older_than_the_window_do_not_count():
    clock = Clock()
    limiter = LoginLimiter(3, 10, clock=clock)
    for _ in range(6):
        assert limiter.failed("10.0.0.1") == 0
        clock.now += 6  # never three within ten seconds
    assert len(limiter) == 1
    clock.now += 10
    assert limiter.retry_after("10.0.0.1") == 0 and len(limiter) == 0  # forgotten


def test_a_success_resets_only_its_own_address():
    limiter = LoginLimiter(3, 10, clock=Clock())
    for host in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"):
        limiter.failed(host)
    limiter.succeeded("10.0.0.1")
    assert [limiter.failed("10.0.0.1") for _ in range(2)] == [0, 0]
    assert limiter.failed("10.0.0.2") == 10


def test_the_table_is_bounded_and_drops_the_oldest():
    limiter = LoginLimiter(2, 60, max_clients=100, clock=Clock())
    limiter.failed("10.0.0.0")
    for k in range(1, 1000):
        limiter.failed(f"10.0.{k // 256}.{k % 256}")
    assert len(limiter) == 100
    assert limiter.failed("10.0.0.0") == 0, "its first failure was dropped with the oldest entries"
    assert limiter.failed("10.0.3.231") == 60, "a recent address is still counted"


def test_ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4():
    limiter = LoginLimiter(3, 60, clock=Clock())
    limiter.failed("2001:db8::1")
    limiter.failed("2001:db8::ffff:2")
    assert limiter.failed("2001:db8::3") == 60
    assert limiter.retry_after("2001:db8:0:1::1") == 0  # another /64
    limiter.failed("::ffff:192.0.2.7")
    limiter.failed("192.0.2.7")
    assert limiter.failed("::ffff:192.0.2.7") == 60


def test_zero_turns_the_limit_off():
    limiter = LoginLimiter(0, 60, clock=Clock())
    assert all(limiter.failed("10.0.0.1") == 0 for _ in range(100))
    assert len(limiter) == 0


# -- in process: every way a token is sent, and what stays open ------------------------------------

@pytest.fixture
def limited(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", host="0.0.0.0", token=TOKEN,
                        login_max_failures=3, login_window_seconds=60)
    app = create_app(settings)
    with TestClient(app, client=("192.0.2.10", 40000)) as client:
        yield app, client


def test_every_way_of_sending_a_token_counts_and_is_refused_while_blocked(limited):
    app, client = limited
    assert client.get("/?token=x", headers=HTML, follow_redirects=False).status_code == 401
    assert client.post("/login", data={"token": "y", "next": "/"}).status_code == 401
    # Without a credential nothing is guessed: such requests are never counted.
    for _ in range(5):
        assert client.get("/api/captures").status_code == 401
        assert client.get("/api/captures", headers={"Authorization": ""}).status_code == 401
    assert client.get("/api/captures", headers={"Authorization": "Bearer z"}).status_code == 401

    r = client.get("/api/captures", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json() == {"error": r.json()["error"], "detail": {"retry_after": int(r.headers["retry-after"])}}
    assert "Too many wrong access tokens" in r.json()["error"]
    page = client.get(f"/captures?token={TOKEN}", headers=HTML, follow_redirects=False)
    assert page.status_code == 429 and 'name="token"' in page.text and "Too many wrong" in page.text
    assert TOKEN not in page.text and page.headers["retry-after"]
    form = client.post("/login", data={"token": TOKEN, "next": "/captures"}, follow_redirects=False)
    assert form.status_code == 429 and "Too many wrong" in form.text
    assert COOKIE not in form.headers.get("set-cookie", "")
    assert 'value="/captures"' in form.text

    # Another address is not affected, and its success lifts nothing here.
    with TestClient(app, client=("192.0.2.11", 40000)) as other:
        assert other.get("/api/captures", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/api/captures", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429


def test_a_logged_in_browser_at_a_blocked_address_keeps_working(limited):
    app, client = limited
    assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    assert client.cookies.get(COOKIE)
    for _ in range(3):
        assert client.get("/api/captures", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/captures", headers={"Authorization": "Bearer nope"}).status_code == 429
    assert client.get("/api/captures").status_code == 200  # the cookie is not a guess
    assert client.get("/", headers=HTML).status_code == 200


# -- a real server: real client addresses, the real clock ------------------------------------------

WINDOW = 3
LIMIT = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"WIRELENS_TOKEN": TOKEN, "WIRELENS_LOGIN_MAX_FAILURES": str(LIMIT),
           "WIRELENS_LOGIN_WINDOW": str(WINDOW)}
    with Server(tmp_path_factory.mktemp("limit") / "data", host="0.0.0.0", env=env) as s:
        yield s


def _send(server: Server, source: str, path: str, token: str | None = None, method: str = "GET",
          body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """A request from ``source`` (any 127.x.y.z is this machine, each a different client)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    try:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_over_http_wrong_tokens_then_429_until_the_window_passes(server):
    here, elsewhere = "127.0.0.2", "127.0.0.3"
    for _ in range(LIMIT):
        assert _send(server, here, "/api/captures", "wrong")[0] == 401
    status, headers, body = _send(server, here, "/api/captures", "wrong")
    assert status == 429 and 1 <= int(headers["retry-after"]) <= WINDOW
    assert set(json.loads(body)) == {"error", "detail"} and "Too many" in json.loads(body)["error"]
    # Blocked means not checked: the right token is refused too, on the API and in the form.
    assert _send(server, here, "/api/captures", TOKEN)[0] == 429
    form = urlencode({"token": TOKEN, "next": "/"}).encode()
    status, headers, body = _send(server, here, "/login", method="POST", body=form, headers=FORM)
    assert status == 429 and b"Too many wrong access tokens" in body and "set-cookie" not in headers

    # Another client is counted on its own.
    assert _send(server, elsewhere, "/api/captures", TOKEN)[0] == 200
    assert _send(server, elsewhere, "/api/captures", "wrong")[0] == 401

    status, headers, _ = _send(server, here, "/api/captures", TOKEN)
    assert status == 429
    time.sleep(int(headers["retry-after"]) + 0.2)
    assert _send(server, here, "/api/captures", TOKEN)[0] == 200
    assert _send(server, here, "/api/captures", "wrong")[0] == 401  # counted afresh


def test_over_http_the_login_form_counts_too(server):
    here = "127.0.0.4"
    form = urlencode({"token": "wrong", "next": "/"}).encode()
    # Side by side, as a script would guess: each is counted as it arrives, not after its pause.
    with ThreadPoolExecutor(LIMIT) as pool:
        answers = list(pool.map(lambda _: _send(server, here, "/login", method="POST", body=form,
                                                headers=FORM), range(LIMIT)))
    for status, _, body in answers:
        assert status == 401 and b"not the access token" in body
    status, headers, body = _send(server, here, "/login", method="POST", body=form, headers={**FORM, **HTML})
    assert status == 429 and b"Too many wrong access tokens" in body and int(headers["retry-after"]) >= 1
    assert _send(server, "127.0.0.5", "/api/captures", TOKEN)[0] == 200
