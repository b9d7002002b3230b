"""A browser against a server that needs the token: the login form, the cookie, and pages that
change things (delete, upload) carrying their CSRF token; another site's page cannot."""
from __future__ import annotations

import pytest

from tests.reference import CORPUS
from tests.security.server import Server, upload
from tests.security.test_browser_markup import browser  # noqa: F401 - the shared fixture

DATA = (CORPUS / "dpkt_http.pcap").read_bytes()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("login") / "data", host="0.0.0.0").start()
    try:
        assert server.token
        yield server
    finally:
        server.stop()


def test_login_cookie_and_csrf_in_a_browser(browser, token_server, tmp_path):  # noqa: F811
    server = token_server
    first = upload(server, "first.pcap", DATA)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        response = page.goto(server.base + f"/captures/{first['id']}")
        assert response.status == 401 and page.locator("input[name=token]").count() == 1
        assert "first.pcap" not in page.content()
        page.fill("input[name=token]", "not the token")
        page.click("button[type=submit]")
        assert "not the access token" in page.content()
        page.fill("input[name=token]", server.token)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/captures/{first['id']}")  # back where the visitor was going
        cookie = next(c for c in context.cookies() if c["name"] == "wirelens_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert "wirelens_session" not in page.evaluate("document.cookie")

        # Upload through the page (XHR with the page's CSRF token), then delete with htmx.
        page.goto(server.base + "/")
        path = tmp_path / "second.pcap"
        path.write_bytes(DATA)
        page.set_input_files("#upload-file", str(path))
        page.wait_for_url("**/captures/*", timeout=30000)
        listing = server.json("GET", "/api/captures")[1]["captures"]
        assert {c["name"] for c in listing} == {"first.pcap", "second.pcap"}
        page.goto(server.base + "/")
        page.once("dialog", lambda d: d.accept())
        with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
            page.locator(f"tr[data-capture='{first['id']}'] button[data-delete-row]").click()
        assert deleted.value.status == 204
        assert server.json("GET", f"/api/captures/{first['id']}")[0] == 404

        # A page of another origin, in the same browser with the cookie, cannot change anything.
        other = context.new_page()
        other.route("http://evil.example/", lambda route: route.fulfill(
            status=200, content_type="text/html", body=f"""<form id=f method=post enctype=multipart/form-data
            action="{server.base}/api/captures"><input type=file name=file id=i></form>"""))
        other.goto("http://evil.example/")
        other.set_input_files("#i", str(path))
        with other.expect_response(f"{server.base}/api/captures") as answer:
            other.evaluate("document.getElementById('f').submit()")
        assert answer.value.status in (401, 403)  # SameSite=Strict: no cookie; and cross-site
        assert len(server.json("GET", "/api/captures")[1]["captures"]) == 1

        # Logging out ends the session.
        page.goto(server.base + "/")
        page.click("form.logout button")
        page.wait_for_url("**/login")
        assert page.goto(server.base + "/").status == 401
    finally:
        context.close()
