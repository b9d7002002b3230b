"""The packet list of a very long capture: the browser holds a few hundred rows, not 500,000.

The capture is made here (one UDP datagram per packet, numbered) because no corpus capture is
long enough to need virtual pages: 500,000 rows of 20 px are taller than the list's scroll range.
"""
from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import httpx
import pytest

from playwright import sync_api  # noqa: E402 - a missing Playwright must fail, not skip
expect = sync_api.expect

PACKETS = 500_000
MAX_ROWS_IN_DOM = 400
POSITION = re.compile(r"Rows ([\d,]+)–([\d,]+) of ([\d,]+)")


def write_udp_capture(path: Path, count: int) -> None:
    """A classic pcap of ``count`` Ethernet/IPv4/UDP packets, one millisecond apart."""
    eth = bytes.fromhex("000001000000" "000002000001" "0800")
    chunks = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(count):
        payload = struct.pack(">I", i) * 4
        udp = struct.pack(">HHHH", 20000 + i % 20000, 40000, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
        frame = eth + ip
        chunks.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
        chunks.append(frame)
    path.write_bytes(b"".join(chunks))


@pytest.fixture(scope="module")
def long_capture(server, tmp_path_factory) -> str:
    """Upload the long capture through the API and wait until it is indexed; its id."""
    path = tmp_path_factory.mktemp("long") / "long.pcap"
    write_udp_capture(path, PACKETS)
    with httpx.Client(base_url=server, timeout=120) as client:
        with path.open("rb") as f:
            response = client.post("/api/captures", files={"file": ("long.pcap", f, "application/octet-stream")})
        assert response.status_code == 201, response.text
        capture = response.json()
        deadline = time.monotonic() + 120
        while capture["status"] == "indexing" and time.monotonic() < deadline:
            time.sleep(0.2)
            capture = client.get(f"/api/captures/{capture['id']}").json()
    assert capture["status"] == "ready" and capture["packets"] == PACKETS, capture
    return capture["id"]


def rows_in_dom(page) -> int:
    return page.locator(".packets tbody tr[data-index]").count()


def position(page) -> tuple[int, int, int]:
    text = page.locator("[data-position]").inner_text()
    match = POSITION.search(text)
    assert match, text
    return tuple(int(g.replace(",", "")) for g in match.groups())


def test_long_capture_scrolls_with_few_rows(server, page, problems, long_capture):
    page.goto(f"{server}/captures/{long_capture}")
    listing = page.locator("[data-packet-list]")
    rows = page.locator(".packets tbody tr[data-number]")
    expect(rows.first).to_have_attribute("data-number", "1")
    assert position(page)[2] == PACKETS
    assert rows_in_dom(page) <= MAX_ROWS_IN_DOM

    # Drag the scrollbar to the middle: the rows there are fetched and shown.
    listing.evaluate("el => { el.scrollTop = (el.scrollHeight - el.clientHeight) / 2; }")
    # The list moves on the scroll event, which may come after this line: first that, then
    # no row waiting for its data.
    expect(page.locator("[data-position]")).not_to_contain_text("Rows 1–")
    expect(page.locator(".packets tbody tr.pending")).to_have_count(0)
    first, last, total = position(page)
    assert abs(first - PACKETS / 2) < PACKETS * 0.01, first
    shown = [int(n) for n in rows.evaluate_all("els => els.map(e => e.dataset.number)")]
    assert first in shown and last in shown
    assert shown == list(range(shown[0], shown[0] + len(shown)))   # contiguous, in order
    assert rows_in_dom(page) <= MAX_ROWS_IN_DOM

    # The wheel scrolls row by row there too (10 rows of 20 px).
    box = listing.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 200)
    expect(page.locator("[data-position]")).to_contain_text(f"Rows {first + 10:,}–")

    # G: the last packet, selected and detailed; g: back to the first.
    rows.first.click()
    page.keyboard.press("G")
    expect(page.locator(".packets tbody tr.selected")).to_have_attribute("data-number", str(PACKETS))
    expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", str(PACKETS))
    assert position(page)[1] == PACKETS
    assert rows_in_dom(page) <= MAX_ROWS_IN_DOM
    page.keyboard.press("g")
    expect(page.locator(".packets tbody tr.selected")).to_have_attribute("data-number", "1")
    expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", "1")

    # "Go to packet" jumps anywhere without loading another page.
    page.fill(".goto input[name=packet]", "123456")
    page.keyboard.press("Enter")
    expect(page.locator(".packets tbody tr.selected")).to_have_attribute("data-number", "123456")
    expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", "123456")
    assert rows_in_dom(page) <= MAX_ROWS_IN_DOM
    assert problems == []
