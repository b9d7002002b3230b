"""Flows, ladder and follow stream in a real browser, checked against the JSON API.

From the capture page to its flows, to the ladder of the HTTP connection: the handshake arrows,
the lanes' TCP states, relative and raw numbers, explanations and the keyboard, and an arrow that
opens its packet on the capture page. Screenshots go to /tmp for a look.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest

from playwright import sync_api  # noqa: E402 - a missing Playwright must fail, not skip
expect = sync_api.expect

SHOTS = "/tmp/wirelens-{}.png"


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
    return upload(server, corpus_dir / "dpkt_http.pcap", "http-exchange.pcap")


def arrow_labels(page):
    return page.locator("svg.ladder a.ev text.lbl")


def test_ladder_of_the_http_connection(server, page, problems, capture):
    cid = capture["id"]
    flows = page.request.get(f"{server}/api/flows?capture={cid}").json()["flows"]
    first_tcp = next(f for f in flows if f["protocol"] == "tcp")
    twin = page.request.get(f"{server}/api/flows/{first_tcp['id']}/ladder").json()
    events = twin["events"]

    # Capture page -> Flows -> the first TCP flow's ladder, by the links a user follows.
    page.goto(f"{server}/captures/{cid}")
    page.locator("nav.views").get_by_role("link", name="Flows").click()
    expect(page).to_have_url(re.compile(rf"/captures/{cid}/flows$"))
    rows = page.locator("table.flows tbody tr")
    expect(rows).to_have_count(len(flows))
    page.screenshot(path=SHOTS.format("flows"), full_page=True)
    page.locator(f'tr[data-flow="{first_tcp["id"]}"]').get_by_role("link", name="Ladder").click()
    expect(page).to_have_url(re.compile(rf"/flows/{first_tcp['id']}/ladder$"))

    # One arrow per segment; the handshake is SYN, SYN-ACK, ACK with relative numbers.
    labels = arrow_labels(page)
    expect(labels).to_have_count(len(events))
    expect(labels.nth(0)).to_have_text("#1 [SYN] Seq=0 Len=0")
    expect(labels.nth(1)).to_have_text("#2 [SYN, ACK] Seq=0 Ack=1 Len=0")
    expect(labels.nth(2)).to_have_text("#3 [ACK] Seq=1 Ack=1 Len=0")
    for i in range(3):
        expect(labels.nth(i)).to_have_text(f"#{events[i]['number']} {events[i]['label']}")
    # The lanes show the states: the client is ESTABLISHED after the SYN-ACK, the server after the ACK.
    states = page.locator("svg.ladder text.st")
    expect(states.filter(has_text=re.compile(r"^ESTABLISHED$"))).to_have_count(2)
    expect(states.filter(has_text=re.compile(r"^SYN-SENT$"))).to_have_count(1)
    expect(states.filter(has_text=re.compile(r"^SYN-RECEIVED$"))).to_have_count(1)
    page.screenshot(path=SHOTS.format("ladder"), full_page=False)

    # Raw sequence numbers, then back to relative ones.
    page.get_by_role("link", name="Raw seq", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]raw=1"))
    expect(labels.nth(0)).to_have_text(f"#1 [SYN] Seq={events[0]['seq_raw']} Len=0")
    expect(labels.nth(1)).to_have_text(
        f"#2 [SYN, ACK] Seq={events[1]['seq_raw']} Ack={events[1]['ack_raw']} Len=0")
    page.get_by_role("link", name="Relative seq", exact=True).click()
    expect(labels.nth(0)).to_have_text("#1 [SYN] Seq=0 Len=0")

    # Explain mode: j walks the arrows, the focused one's explanation lights up.
    page.get_by_role("link", name="Explain", exact=True).click()
    expect(page.locator("[data-explanations] li")).to_have_count(len(events))
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.locator("svg.ladder a.ev:focus")
    expect(focused).to_have_attribute("data-number", str(events[1]["number"]))
    expect(page.locator("#ev-2")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.locator("[data-ladder-status]")).to_contain_text(events[1]["explain"])
    page.keyboard.press("ArrowDown")
    expect(focused).to_have_attribute("data-number", str(events[2]["number"]))
    expect(page.locator("#ev-3")).to_contain_text("the handshake is complete")
    page.keyboard.press("k")
    expect(focused).to_have_attribute("data-number", str(events[1]["number"]))
    page.screenshot(path=SHOTS.format("ladder-explain"), full_page=False)
    # Enter opens the focused arrow's packet.
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/captures/{cid}\?packet={events[1]['number']}$"))
    expect(page.locator("#tree-pane [data-tree]")).to_have_attribute("data-number", str(events[1]["number"]))

    # Click an arrow: the capture page opens with that packet's details.
    page.go_back()
    data_arrow = next(e for e in events if e["len"] > 0)
    page.locator(f'svg.ladder a.ev[data-number="{data_arrow["number"]}"] text.lbl').click()
    expect(page).to_have_url(re.compile(rf"/captures/{cid}\?packet={data_arrow['number']}$"))
    expect(page.locator(".packets tbody tr.selected")).to_have_attribute("data-number", str(data_arrow["number"]))
    tree = page.locator("#tree-pane [data-tree]")
    expect(tree).to_have_attribute("data-number", str(data_arrow["number"]))
    expect(tree).to_contain_text("Hypertext Transfer Protocol")
    expect(page.locator("[data-selected-status]")).to_have_text(f"Selected: packet {data_arrow['number']}")
    assert problems == []


def test_follow_stream_colours_both_directions(server, page, problems, capture):
    cid = capture["id"]
    flow_id = f"{cid}-tcp-0"
    stream = page.request.get(f"{server}/api/flows/{flow_id}/stream").json()
    page.goto(f"{server}/flows/{flow_id}/ladder")
    page.get_by_role("link", name="Follow stream", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/flows/{flow_id}/follow$"))

    runs = page.locator("[data-stream] .run")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_contain_text("GET /download.html HTTP/1.1")
    expect(runs.nth(0)).to_contain_text("Host: www.ethereal.com")
    expect(runs.nth(1)).to_contain_text("HTTP/1.1 200 OK")
    # The page served as text: its markup is shown, never rendered.
    expect(runs.nth(1)).to_contain_text("<title>Ethereal: Download</title>")
    assert page.locator("[data-stream] title").count() == 0
    colour = lambda loc: loc.evaluate("el => getComputedStyle(el).color")  # noqa: E731
    client, server_side = colour(runs.nth(0).locator("pre")), colour(runs.nth(1).locator("pre"))
    assert client != server_side
    red, _, blue = (int(x) for x in re.findall(r"\d+", client)[:3])
    assert red > blue, client                       # the client red-ish
    red, _, blue = (int(x) for x in re.findall(r"\d+", server_side)[:3])
    assert blue > red, server_side                  # the server blue-ish
    expect(page.locator("[data-stream] .chunk")).to_have_count(len(stream["segments"]))
    page.screenshot(path=SHOTS.format("follow"), full_page=False)

    # Hovering a packet link lights up its bytes; the link opens the packet.
    link = runs.nth(1).locator(".frames a").nth(1)
    number = link.get_attribute("data-number")
    link.hover()
    expect(runs.nth(1).locator(f'.chunk[data-number="{number}"]')).to_have_class(re.compile(r"\bhl\b"))

    page.get_by_role("link", name="Hex dump", exact=True).click()
    expect(runs.nth(0)).to_contain_text("00000000  47 45 54 20 2f 64 6f 77 6e 6c 6f 61 64 2e 68 74  GET /download.ht")
    page.screenshot(path=SHOTS.format("follow-hex"), full_page=False)
    link = page.locator("[data-stream] .frames a").first
    link.click()
    expect(page).to_have_url(re.compile(rf"/captures/{cid}\?packet={stream['segments'][0]['number']}$"))
    assert problems == []


def test_statistics_and_flow_graph(server, page, problems, capture):
    cid = capture["id"]
    conversations = page.request.get(f"{server}/api/captures/{cid}/conversations?type=ipv4").json()["conversations"]
    page.goto(f"{server}/captures/{cid}")
    page.locator("nav.views").get_by_role("link", name="Conversations").click()
    page.locator(".tabs").get_by_role("link", name=re.compile("^IPv4")).click()
    rows = page.locator("table.stats tbody tr")
    expect(rows).to_have_count(len(conversations))
    # Sorting by bytes, largest first, then smallest first.
    page.get_by_role("link", name="Bytes", exact=True).click()
    expect(rows.first.locator("td.addr").nth(1)).to_have_text(max(conversations, key=lambda c: c["bytes"])["b"])
    page.get_by_role("link", name="Bytes", exact=True).click()
    expect(rows.first.locator("td.addr").nth(1)).to_have_text(min(conversations, key=lambda c: c["bytes"])["b"])
    page.screenshot(path=SHOTS.format("conversations"), full_page=False)
    # A conversation's Packets link filters the list to it.
    smallest = min(conversations, key=lambda c: c["bytes"])
    rows.first.get_by_role("link", name="Packets").click()
    expect(page.locator("#filter")).to_have_value(f"ip.addr=={smallest['a']} && ip.addr=={smallest['b']}")
    expect(page.locator(".packets tbody tr[data-number]")).to_have_count(smallest["packets"])

    # The flow graph link carries the filter: the ladders of the flows in that conversation.
    page.locator("nav.views").get_by_role("link", name="Flow graph").click()
    expect(page.locator("#filter")).to_have_value(f"ip.addr=={smallest['a']} && ip.addr=={smallest['b']}")
    flows = page.request.get(f"{server}/api/flows", params={
        "capture": cid, "filter": f"ip.addr=={smallest['a']} && ip.addr=={smallest['b']}"}).json()["flows"]
    expect(page.locator("section.graph")).to_have_count(len(flows))
    expect(page.locator("svg.ladder a.ev")).to_have_count(sum(f["packets"] for f in flows))
    page.screenshot(path=SHOTS.format("flow-graph"), full_page=False)

    # Every packet of the capture between its addresses; an arrow opens its packet.
    page.locator("form.page-filter").get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="All packets", exact=True).click()
    arrows = page.locator("svg.flowgraph a.ev")
    expect(arrows).to_have_count(capture["packets"])
    expect(page.locator("svg.flowgraph text.ep")).to_have_count(4)
    page.screenshot(path=SHOTS.format("flow-graph-packets"), full_page=False)
    arrows.nth(12).locator("text.lbl").click()
    expect(page).to_have_url(re.compile(rf"/captures/{cid}\?packet=13$"))
    expect(page.locator("#tree-pane [data-tree]")).to_contain_text("Domain Name System")
    assert problems == []
