"""The pages in a real browser: upload through the file picker, the three panes, the keyboard.

What the browser shows is compared with what the JSON API says about the same capture.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from playwright import sync_api  # noqa: E402 - a missing Playwright must fail, not skip
expect = sync_api.expect

SCREENSHOT = Path("/tmp/wirelens-ui.png")
CAPTURE_URL = re.compile(r"/captures/([0-9a-f]{16})(\?.*)?$")


def flatten(nodes: list[dict], depth: int = 0):
    for node in nodes:
        yield node, depth
        yield from flatten(node.get("children") or [], depth + 1)


def most_specific(detail: dict, offset: int) -> dict:
    """The field a click on byte ``offset`` must select: the shortest covering, then deepest."""
    best, key = None, None
    for order, (node, depth) in enumerate(flatten(detail["layers"])):
        off, length = node["offset"], node["length"]
        if off is None or not length or not off <= offset < off + length:
            continue
        rank = (-length, depth, order)
        if key is None or rank >= key:
            best, key = node, rank
    return best


def selected_row(page):
    return page.locator(".packets tbody tr.selected")


def expect_packet(page, number: int) -> None:
    """Row ``number`` is selected and its tree and bytes are in the lower panes."""
    expect(selected_row(page)).to_have_attribute("data-number", str(number))
    expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", str(number))
    expect(page.locator("#bytes-pane [data-hex]")).to_have_attribute("data-number", str(number))
    expect(page.locator("[data-selected-status]")).to_have_text(f"Selected: packet {number}")


def active_pane(page) -> str | None:
    return page.evaluate("() => { const p = document.activeElement.closest('[data-pane]'); return p && p.dataset.pane; }")


def test_upload_browse_and_keyboard(server, page, problems, corpus_dir):
    page.goto(f"{server}/")
    expect(page.locator("#upload-form")).to_be_visible()
    expect(page.get_by_text("Choose a file…")).to_be_visible()

    # Upload through the file picker; the page follows the indexing, then opens the capture.
    page.set_input_files("#upload-file", str(corpus_dir / "dpkt_http.pcap"))
    page.wait_for_url(CAPTURE_URL, timeout=30000)
    capture_id = CAPTURE_URL.search(page.url).group(1)
    api = page.request.get(f"{server}/api/captures/{capture_id}/packets?limit=100").json()

    # The packet list shows the API's rows, coloured by their rule.
    rows = page.locator(".packets tbody tr[data-number]")
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(api["total"])
    for i in (0, 3, 17, 42):
        row, packet = rows.nth(i), api["packets"][i]
        expect(row.locator("td.no")).to_have_text(str(packet["number"]))
        expect(row.locator("td.proto")).to_have_text(packet["protocol"])
        expect(row.locator("td.info")).to_have_text(packet["info"])
        expect(row).to_have_class(re.compile(rf"\b{packet['color']}\b"))
    expect(page.locator(".statusbar")).to_contain_text(f"Packets: {api['total']}")
    expect(page.locator("[data-position]")).to_contain_text(f"of {api['total']}")

    # Select a packet: its tree and bytes load.
    page.locator('.packets tr[data-number="4"]').click()
    expect_packet(page, 4)
    assert "packet=4" in page.url
    detail = page.request.get(f"{server}/api/captures/{capture_id}/packets/4").json()

    # Click a field of the tree: exactly its bytes light up in the hex and ASCII columns.
    ip = page.locator('#tree-pane details[data-name="ip"]')
    ip.locator(":scope > summary").click()
    expect(ip).to_have_attribute("open", "")
    source = ip.locator('.node[data-name="ip.src"]').first
    source.locator(":scope > .label").click()
    expect(source).to_have_class(re.compile(r"\bselected\b"))
    start, length = int(source.get_attribute("data-off")), int(source.get_attribute("data-len"))
    assert length == 4
    for column in ("hex-bytes", "hex-ascii"):
        lit = page.locator(f"#bytes-pane .{column} [data-o].hl")
        expect(lit).to_have_count(length)
        assert lit.evaluate_all("els => els.map(e => Number(e.dataset.o))") == list(range(start, start + length))
    expect(page.locator("[data-field-status]")).to_contain_text("ip.src")

    # Click a byte: the most specific field covering it is selected (and revealed).
    port = next(n for n, _ in flatten(detail["layers"]) if n["name"] == "tcp.srcport")
    page.locator(f'#bytes-pane .hex-bytes [data-o="{port["offset"]}"]').click()
    expected = most_specific(detail, port["offset"])
    chosen = page.locator("#tree-pane .node.selected")
    expect(chosen).to_have_count(1)
    expect(chosen).to_have_attribute("data-name", expected["name"])
    expect(chosen).to_have_attribute("data-off", str(expected["offset"]))
    expect(chosen.locator(":scope > .label")).to_be_visible()
    expect(page.locator('#tree-pane details[data-name="tcp"]')).to_have_attribute("open", "")

    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOT))

    # j/k move the selection and load the packet; expanded fields stay expanded.
    page.keyboard.press("j")
    expect_packet(page, 5)
    expect(page.locator('#tree-pane details[data-name="ip"]')).to_have_attribute("open", "")
    expect(page.locator('#tree-pane details[data-name="tcp"]')).to_have_attribute("open", "")
    page.keyboard.press("j")
    expect_packet(page, 6)
    page.keyboard.press("k")
    expect_packet(page, 5)

    # Tab walks the three panes; arrows in the list move the packet, in the tree the field.
    page.locator('.packets tr[data-number="5"]').click()
    assert active_pane(page) == "list"
    page.keyboard.press("ArrowDown")
    expect_packet(page, 6)
    page.keyboard.press("Tab")
    assert active_pane(page) == "tree"
    page.keyboard.press("Tab")
    assert active_pane(page) == "bytes"
    page.keyboard.press("Tab")
    assert active_pane(page) == "list"
    page.keyboard.press("Shift+Tab")
    assert active_pane(page) == "bytes"
    page.keyboard.press("Shift+Tab")
    assert active_pane(page) == "tree"
    before = page.locator("#tree-pane .node.selected").get_attribute("data-name")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#tree-pane .node.selected")).not_to_have_attribute("data-name", before or "")
    expect_packet(page, 6)
    assert active_pane(page) == "tree"

    # g/G: first and last packet.
    page.keyboard.press("G")
    expect_packet(page, api["total"])
    page.keyboard.press("g")
    expect_packet(page, 1)

    # "/" focuses the filter box (without typing the slash), Escape goes back to the list.
    page.keyboard.press("/")
    expect(page.locator("#filter")).to_be_focused()
    assert page.input_value("#filter") == ""
    page.keyboard.press("Escape")
    assert active_pane(page) == "list"

    # "?" opens the key help, Escape closes it.
    page.keyboard.press("?")
    expect(page.locator("#key-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#key-help")).to_be_hidden()

    assert problems == []

    # A filter the server refuses: its message is shown and the page keeps working.
    bad = "tcp.port == == 80"
    message = page.request.get(f"{server}/api/captures/{capture_id}/packets",
                               params={"filter": bad}).json()["error"]
    page.fill("#filter", bad)
    page.keyboard.press("Enter")
    expect(page.locator("#filter-error")).to_be_visible()
    expect(page.locator("#filter-error")).to_contain_text(message)
    expect(page.locator("#filter")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".packets tbody")).to_contain_text("the filter is not valid")
    assert "filter=" in page.url
    expect(page.locator("#tree-pane [data-tree]")).to_be_visible()
    # The only problems allowed are the 400 answer itself and the browser's console note on it.
    assert [p for p in problems if "status of 400" not in p and not p.startswith("HTTP 400: ")] == []
    assert any(p.startswith("HTTP 400: ") and "filter=" in p for p in problems)


def test_filter_then_walk_the_displayed_packets(server, page, problems, corpus_dir):
    with open(corpus_dir / "dpkt_http.pcap", "rb") as f:
        response = page.request.post(f"{server}/api/captures", multipart={
            "file": {"name": "filter.pcap", "mimeType": "application/octet-stream", "buffer": f.read()}})
    capture_id = response.json()["id"]
    page.goto(f"{server}/captures/{capture_id}")   # while indexing, this page follows the status
    expect(page.locator(".packets tbody tr[data-number]")).to_have_count(43)
    api = page.request.get(f"{server}/api/captures/{capture_id}/packets", params={"filter": "http"}).json()
    numbers = [p["number"] for p in api["packets"]]

    # Apply a filter before any packet is selected: the list is swapped, the URL says the filter.
    page.fill("#filter", "http")
    page.keyboard.press("Enter")
    rows = page.locator(".packets tbody tr[data-number]")
    expect(rows).to_have_count(api["matched"])
    assert [int(n) for n in rows.evaluate_all("els => els.map(e => e.dataset.number)")] == numbers
    expect(page.locator(".statusbar")).to_contain_text(f"Displayed: {api['matched']}")
    assert "filter=http" in page.url
    expect(page.locator("#filter-error")).to_be_hidden()

    # j walks the displayed packets only.
    rows.first.click()
    expect(selected_row(page)).to_have_attribute("data-number", str(numbers[0]))
    page.keyboard.press("j")
    expect_packet(page, numbers[1])
    assert f"packet={numbers[1]}" in page.url and "filter=http" in page.url

    # Reloading the URL shows the same filter and selection.
    page.reload()
    expect(page.locator("#filter")).to_have_value("http")
    expect_packet(page, numbers[1])
    assert problems == []
