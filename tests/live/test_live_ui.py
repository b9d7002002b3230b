"""The live-capture pages in Chromium: start from the library, rows arriving, following, stopping."""
from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
from playwright import sync_api
from playwright.sync_api import expect

CHROMIUM = os.environ.get("WIRELENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page():
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.problems = problems
        yield page
        browser.close()


AT_END = "l => l.scrollHeight - l.scrollTop - l.clientHeight < 24"


def _until(check, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.05)


def test_start_watch_follow_and_stop_a_live_capture(server, page):
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(count: int) -> None:
        for i in range(count):
            sender.sendto(b"ui %d" % i, ("127.0.0.1", port))

    try:
        page.goto(server.base_url + "/")
        form = page.locator("form.live-start")
        form.wait_for()
        form.locator("select[name=interface]").select_option("lo")
        form.locator("input[name=capture_filter]").fill(f"udp dst port {port}")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/captures/[0-9a-f]{16}/live$"))
        rows = page.locator("#live-rows tr[data-number]")
        listing = page.locator("[data-live-list]")

        send(30)
        expect(rows).to_have_count(30)
        expect(rows.first).to_have_attribute("data-number", "1")
        expect(rows.nth(29).locator("td.proto")).to_have_text("UDP")
        expect(page.locator("#live-progress")).to_contain_text("30 packets")

        # Following: the newest row stays in view while the list is at its end.
        send(200)
        expect(rows).to_have_count(230)
        _until(lambda: listing.evaluate(AT_END), "the list follows the newest row")
        # Scrolled up, it stays where it is and offers to follow again.
        listing.evaluate("l => { l.scrollTop = 0; }")
        expect(page.locator("[data-follow]")).to_be_visible()
        send(50)
        expect(rows).to_have_count(280)
        assert listing.evaluate("l => l.scrollTop") == 0
        page.locator("[data-follow]").click()
        _until(lambda: listing.evaluate(AT_END), "the list follows again")
        expect(page.locator("[data-follow]")).to_be_hidden()
        numbers = rows.evaluate_all("trs => trs.map(t => Number(t.dataset.number))")
        assert numbers == list(range(1, 281))
        expect(page.locator("[data-live-count]")).to_have_text("280")

        # A click shows the packet's tree below.
        rows.nth(4).click()
        expect(page.locator("#tree-pane")).to_contain_text("User Datagram Protocol")

        page.locator("[data-live-stop] button").click()
        page.wait_for_url(re.compile(r"/captures/[0-9a-f]{16}$"))
        expect(page.locator("#statusbar")).to_contain_text("Packets: 280")
        assert not page.problems, page.problems
    finally:
        sink.close()
        sender.close()
