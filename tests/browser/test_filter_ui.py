"""The display-filter box in a real browser: checked while typing, completed, remembered, and fed
from the packet details (Apply / Prepare as Filter). Verdicts and counts come from the JSON API.
"""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from playwright import sync_api  # noqa: E402 - a missing Playwright must fail, not skip
expect = sync_api.expect

RED, GREEN, YELLOW = "rgb(255, 217, 217)", "rgb(217, 247, 212)", "rgb(255, 243, 184)"


def upload(server: str, path, name: str) -> dict:
    with httpx.Client(base_url=server, timeout=60) as client:
        capture = client.post("/api/captures", files={"file": (name, path.read_bytes())}).json()
        deadline = time.monotonic() + 60
        while capture["status"] == "indexing" and time.monotonic() < deadline:
            time.sleep(0.1)
            capture = client.get(f"/api/captures/{capture['id']}").json()
    assert capture["status"] == "ready", capture
    return capture


@pytest.fixture(scope="module")
def capture(server, corpus_dir) -> dict:
    return upload(server, corpus_dir / "dpkt_http.pcap", "filters.pcap")


def matched(page, server: str, cid: str, text: str) -> int:
    return page.request.get(f"{server}/api/captures/{cid}/packets", params={"filter": text, "limit": 0}).json()["matched"]


def check(page, server: str, text: str) -> dict:
    return page.request.get(f"{server}/api/filter/check", params={"filter": text}).json()


def wait_filter(page, text: str | None) -> None:
    """The page's URL says that filter ``text`` is applied (none when None)."""
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("filter", [None])[0] == text)


def retype(page, text: str) -> None:
    box = page.locator("#filter")
    box.fill("")
    box.press_sequentially(text, delay=15)


def background(page) -> str:
    return page.locator("#filter").evaluate("el => getComputedStyle(el).backgroundColor")


def rows(page):
    return page.locator(".packets tbody tr[data-number]")


def test_filter_box_checks_while_typing(server, page, problems, capture):
    cid = capture["id"]
    page.goto(f"{server}/captures/{cid}")
    expect(rows(page)).to_have_count(capture["packets"])
    box, hint = page.locator("#filter"), page.locator("[data-filter-hint]")

    # Invalid: red, the server's message, and a caret under the place it broke.
    bad = "tcp.port == "
    verdict = check(page, server, bad)
    assert not verdict["valid"]
    retype(page, bad)
    expect(box).to_have_attribute("data-state", "invalid")
    assert background(page) == RED
    expect(hint).to_be_visible()
    expect(hint).to_contain_text(verdict["error"])
    expect(hint.locator(".caret")).to_have_text(" " * verdict["position"] + "^")
    page.screenshot(path="/tmp/wirelens-filter-invalid.png")

    # Valid: green, no message; applying it shows fewer rows, as many as the API matches.
    good = "tcp.stream == 1"
    assert check(page, server, good)["valid"]
    retype(page, good)
    expect(box).to_have_attribute("data-state", "valid")
    assert background(page) == GREEN
    expect(hint).to_be_hidden()
    box.press("Enter")
    wait_filter(page, good)
    count = matched(page, server, cid, good)
    assert 0 < count < capture["packets"]
    expect(rows(page)).to_have_count(count)
    expect(page.locator("#statusbar strong[data-matched]")).to_have_text(str(count))

    # Valid but suspicious: yellow, with the server's warning.
    odd = "ip.addr != 10.0.0.1"
    verdict = check(page, server, odd)
    assert verdict["valid"] and verdict["warnings"]
    retype(page, odd)
    expect(box).to_have_attribute("data-state", "warning")
    assert background(page) == YELLOW
    expect(hint).to_contain_text(verdict["warnings"][0]["message"])
    page.screenshot(path="/tmp/wirelens-filter-warning.png")
    assert problems == []


def test_completion_recent_filters_and_the_back_button(server, page, problems, capture):
    cid = capture["id"]
    page.goto(f"{server}/captures/{cid}")
    box = page.locator("#filter")
    suggestions = page.locator(".filter-suggest li")

    # Field names complete the word at the caret, from the server's registry.
    fields = page.request.get(f"{server}/api/filter/fields", params={"prefix": "tcp.fl", "limit": 12}).json()["fields"]
    retype(page, "tcp.fl")
    expect(suggestions.first).to_be_visible()
    expect(suggestions.locator(".name")).to_have_text([f["name"] for f in fields])
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value(fields[0]["name"])
    expect(box).to_have_attribute("data-state", "valid")

    # Two filters applied one after the other; the back button returns to the first.
    for text in ("dns", "tcp.stream == 1"):
        retype(page, text)
        box.press("Enter")
        wait_filter(page, text)
        expect(rows(page)).to_have_count(matched(page, server, cid, text))
    page.go_back()
    wait_filter(page, "dns")
    expect(box).to_have_value("dns")
    expect(rows(page)).to_have_count(matched(page, server, cid, "dns"))
    # The view links carry the filter the list shows.
    expect(page.locator("nav.views a", has_text="Flows")).to_have_attribute("href", f"/captures/{cid}/flows?filter=dns")

    # An empty box offers the filters applied before, most recent first (going back to "dns"
    # applied it again).
    box.fill("")
    box.blur()
    box.focus()
    expect(suggestions.filter(has=page.locator(".note", has_text="recent")).locator(".name")).to_have_text(
        ["dns", "tcp.stream == 1"])
    box.press("ArrowDown")
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("tcp.stream == 1")
    expect(box).to_have_attribute("data-state", "valid")
    assert problems == []


def test_apply_and_prepare_as_filter_from_the_tree(server, page, problems, capture):
    cid = capture["id"]
    page.goto(f"{server}/captures/{cid}?packet=4")
    tree = page.locator("#tree-pane [data-tree]")
    expect(tree).to_have_attribute("data-number", "4")

    # Prepare as Filter on a string field: quoted, in the box, not applied.
    page.locator('#tree-pane details[data-name="http"] > summary').click()
    host = page.locator('#tree-pane .node[data-name="http.host"] > .label')
    host.click(button="right")
    menu = page.locator(".ctx-menu")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name=re.compile("Prepare as Filter")).click()
    box = page.locator("#filter")
    expect(box).to_have_value('http.host == "www.ethereal.com"')
    expect(box).to_have_attribute("data-state", "valid")
    expect(rows(page)).to_have_count(capture["packets"])
    assert "filter=" not in page.url

    # Apply as Filter on a number: the list is filtered at once.
    page.locator('#tree-pane details[data-name="tcp"] > summary').click()
    port = page.locator('#tree-pane .node[data-name="tcp.srcport"] > .label')
    expect(port).to_have_text("Source Port: 3372")
    port.click(button="right")
    page.locator(".ctx-menu").get_by_role("menuitem", name=re.compile("Apply as Filter")).click()
    expect(box).to_have_value("tcp.srcport == 3372")
    wait_filter(page, "tcp.srcport == 3372")
    count = matched(page, server, cid, "tcp.srcport == 3372")
    assert 0 < count < capture["packets"]
    expect(rows(page)).to_have_count(count)
    page.screenshot(path="/tmp/wirelens-apply-as-filter.png")

    # The keyboard: "a" on the selected field applies it too.
    page.locator('#tree-pane .node[data-name="tcp.dstport"] > .label').click()
    page.keyboard.press("a")
    expect(box).to_have_value("tcp.dstport == 80")
    expect(rows(page)).to_have_count(matched(page, server, cid, "tcp.dstport == 80"))

    # The packet page has no filter box: Apply opens the capture with the filter applied.
    page.goto(f"{server}/captures/{cid}/packets/13")
    page.locator('#tree-pane details[data-name="dns"] > summary').click()
    page.locator('#tree-pane .node[data-name="dns.id"] > .label').click(button="right")
    menu = page.locator(".ctx-menu")
    expect(menu.get_by_role("menuitem")).to_have_count(1)
    menu.get_by_role("menuitem", name=re.compile("Apply as Filter")).click()
    wait_filter(page, "dns.id == 35")
    expect(rows(page)).to_have_count(matched(page, server, cid, "dns.id == 35"))
    assert problems == []


def test_a_field_read_from_the_packets_shows_its_progress(server, page, problems, tmp_path):
    from tests.browser.test_upload_stream import big_capture  # noqa: PLC0415

    path = tmp_path / "many-http.pcap"
    big_capture(path, 1000)  # 43,000 packets: reading http.host from them takes seconds
    big = upload(server, path, "many-http.pcap")
    page.goto(f"{server}/captures/{big['id']}")
    box, busy = page.locator("#filter"), page.locator("#filter-form .busy")
    retype(page, "http.host")
    box.press("Enter")
    # While the pass runs, the bar says what is read and how far it has got.
    expect(busy).to_contain_text(re.compile(r"Reading (frame\.protocols|http\.host) from [\d,]+ packets… \d+%"),
                                 timeout=30_000)
    wait_filter(page, "http.host")
    expect(rows(page).first).to_be_visible(timeout=60_000)
    # Copies of one connection overlap in sequence space, so most repeats are retransmissions,
    # not HTTP: the count is whatever the filter says, as long as it is what the list shows.
    count = matched(page, server, big["id"], "http.host")
    assert 0 < count < big["packets"]
    expect(page.locator("strong[data-matched]")).to_contain_text(f"{count:,}")
    expect(busy).not_to_contain_text("Reading")
    progress = page.request.get(f"{server}/api/captures/{big['id']}/extraction").json()
    assert progress["field"] == "http.host" and not progress["running"]
    assert problems == []
