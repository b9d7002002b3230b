"""A real browser visits every view of the hostile captures on a real server: no script runs.

Each payload would set ``window.__pwned``, retitle the page PWNED or open a dialog. Every page
(walked from ``app.routes`` for every packet and flow) is loaded twice: once as served, where any
markup that reached the DOM would also show up as a Content-Security-Policy violation, and once
with the policy bypassed, so escaping alone is proven. Rows are clicked so the htmx fragments
are swapped in too. A control page proves the detector sees a payload that does run.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from app.main import create_app
from app.settings import Settings
from tests.security import hostile
from tests.security.routes import all_routes, fill, query_variants

CHROMIUM = os.environ.get("WIRELENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TRAP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""
SKIP = ("/docs", "/redoc", "/docs/oauth2-redirect", "/login", "/openapi.json")


@pytest.fixture(scope="module")
def browser():
    # Missing Chromium or Playwright is a failure, not a skip: this test is the proof.
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Probe:
    """A browser context (policy enforced or bypassed) that records everything a payload does."""

    def __init__(self, browser, bypass_csp: bool) -> None:
        self.context = browser.new_context(bypass_csp=bypass_csp)
        self.context.add_init_script(TRAP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.events: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: self.events.append(f"console: {m.text}") if "PWNED" in m.text else None)
        self.page.on("pageerror", lambda e: self.events.append(f"pageerror: {e}"))

    def _dialog(self, dialog) -> None:
        self.events.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def state(self) -> dict:
        return self.page.evaluate(
            "() => ({pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),"
            " title: document.title, violations: window.__violations || [],"
            " text: document.body ? document.body.innerText : ''})")

    def visit(self, url: str) -> dict:
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status < 500, f"{url}: {response and response.status}"
        self.page.wait_for_load_state("networkidle")
        return self.check(url)

    def check(self, where: str) -> dict:
        state = self.state()
        assert state["pwned"] is None, f"{where}: a payload ran (__pwned={state['pwned']})"
        assert "PWNED" not in state["title"], f"{where}: a payload retitled the page"
        assert not state["violations"], f"{where}: markup reached the page: {state['violations']}"
        assert not self.events, f"{where}: {self.events}"
        return state

    def close(self) -> None:
        self.context.close()


def _urls(server, captures, tmp_path) -> list[str]:
    app = create_app(Settings(data_dir=tmp_path / "routes"))
    urls = ["/"]
    # Every packet and flow of the pcapng capture (it also has the comments); the pcap twin's
    # packets are the same bytes, so its pages without a packet or flow are enough.
    for k, capture in enumerate(captures):
        cid = capture["id"]
        flows = server.json("GET", f"/api/flows?capture={cid}")[1]["flows"]
        assert len(flows) >= 4
        for route in all_routes(app):
            if (route.method != "GET" or not route.html or route.open or route.path in SKIP
                    or route.path.endswith("/events") or route.path == "/"):
                continue
            if k and ("{number}" in route.path or "{flow_id}" in route.path):
                continue
            if "{number}" in route.path:
                values = [{"capture_id": cid, "number": str(n)} for n in range(1, capture["packets"] + 1)]
            elif "{flow_id}" in route.path:
                values = [{"flow_id": f["id"]} for f in flows]
            else:
                values = [{"capture_id": cid}]
            headers = server.request("GET", fill(route.path, values[0]), headers={"Accept": "text/html"})[1]
            if "attachment" in {k.lower(): v for k, v in headers.items()}.get("content-disposition", ""):
                continue  # a download (SVG, Mermaid): test_markup checks its text
            urls += [fill(route.path, value) for value in values]
            # Each choice of a query parameter (follow as ASCII or hex, raw numbers...) once.
            for query in query_variants(app, route.path, "GET", hostile.PAYLOADS[1])[1:]:
                urls.append(fill(route.path, values[0]) + "?" + urlencode(query))
        urls.append(f"/captures/{cid}?filter=" + 'http.request.uri contains "<"')
    return list(dict.fromkeys(urls))


def test_detector_sees_a_payload_that_runs_and_the_policy_blocks_it(browser, hostile_server):
    server, _ = hostile_server
    policy = server.request("GET", "/")[1]["content-security-policy"]
    html = "<!doctype html><title>probe</title>" + "".join(hostile.PAYLOADS[:3])
    for bypass, runs in ((True, True), (False, False)):
        probe = Probe(browser, bypass_csp=bypass)
        probe.page.route(f"{server.base}/__probe", lambda route: route.fulfill(
            status=200, body=html, headers={"content-type": "text/html", "content-security-policy": policy}))
        probe.page.goto(f"{server.base}/__probe")
        probe.page.wait_for_timeout(300)
        state = probe.state()
        assert (state["pwned"] is not None) == runs, (bypass, state)
        if not runs:
            assert state["violations"], "the policy did not report the blocked inline script"
        probe.close()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["policy-enforced", "policy-bypassed"])
def test_no_script_runs_in_any_view(browser, hostile_server, tmp_path, bypass_csp):
    server, captures = hostile_server
    urls = _urls(server, captures, tmp_path)
    assert len(urls) > 40, urls
    print(f"{len(urls)} pages")
    probe = Probe(browser, bypass_csp=bypass_csp)
    shown = 0
    try:
        for url in urls:
            state = probe.visit(server.base + url)
            shown += state["text"].count("<script>__pwned") + state["text"].count("<img src=x onerror")
        # The markup was on screen, as text, in the library, the list, the tree and the bytes.
        assert shown > 20, shown
        state = probe.visit(server.base + "/")
        assert "<img src=x onerror=__pwned=9>" in state["text"]
        for capture in captures:
            state = probe.visit(f"{server.base}/captures/{capture['id']}")
            rows = probe.page.locator("tr[data-number]")
            assert rows.count() == capture["packets"]
            for n in range(rows.count()):
                rows.nth(n).click()
                probe.page.wait_for_load_state("networkidle")
                probe.check(f"{capture['id']} row {n + 1} (htmx)")
    finally:
        probe.close()
