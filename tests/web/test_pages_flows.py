"""The flow, ladder, follow-stream and statistics pages, driven in process.

Each page is compared with its JSON twin (the API) rather than with fixed strings, so the pages
stay a view of the same data; text that came from a capture must always arrive escaped.
"""
from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from base64 import b64decode
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import pytest
from markupsafe import escape

from app.core.follow import as_text
from app.main import create_app
from app.settings import Settings
from app.web import pages_flows

pytestmark = pytest.mark.anyio
HTML = {"accept": "text/html,application/xhtml+xml"}
HOSTILE_NAME = "<svg onload=alert(1)>.pcap"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path / "data"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            yield c


@pytest.fixture
async def capture(client, corpus_dir: Path) -> dict:
    data = (corpus_dir / "dpkt_http.pcap").read_bytes()
    response = await client.post("/api/captures", files={"file": (HOSTILE_NAME, data)})
    assert response.status_code == 201, response.text
    record = response.json()
    deadline = time.monotonic() + 60
    while record["status"] == "indexing":
        assert time.monotonic() < deadline, "indexing did not finish"
        await anyio.sleep(0.05)
        record = (await client.get(f"/api/captures/{record['id']}")).json()
    assert record["status"] == "ready", record
    return record


def esc(text: str) -> str:
    return str(escape(text))


class Tags(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


def checked_page(response: httpx.Response, twin: str, status: int = 200) -> str:
    """A whole page: its status, its JSON twin (header and tag), and no inline code (strict CSP).

    ``twin`` is the path and query the twin must have (query parameters compared as a set)."""
    assert response.status_code == status, response.text[:500]
    match = re.fullmatch(r'<([^>]+)>; rel="alternate"; type="application/json"', response.headers["link"])
    assert match, response.headers["link"]
    href = match.group(1)
    got, want = urlsplit(href), urlsplit(twin)
    assert (got.path, parse_qs(got.query)) == (want.path, parse_qs(want.query))
    assert f'<link rel="alternate" type="application/json" href="{esc(href)}">' in response.text
    tags = Tags(response.text)
    for tag, attrs in tags.tags:
        assert tag != "style", "inline <style> is refused by the page's CSP"
        assert "style" not in attrs, (tag, attrs)
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs
    assert "<svg onload" not in response.text and esc(HOSTILE_NAME) in response.text
    return response.text


async def flows_of(client, capture: dict, **params) -> list[dict]:
    return (await client.get("/api/flows", params={"capture": capture["id"], **params})).json()["flows"]


# -- the flow table --------------------------------------------------------------------------------

async def test_flows_page_lists_the_flows_of_its_twin_with_their_links(client, capture):
    cid = capture["id"]
    page = checked_page(await client.get(f"/captures/{cid}/flows", headers=HTML), f"/api/flows?capture={cid}")
    flows = await flows_of(client, capture)
    rows = Tags(page).find("tr")
    assert [r["data-flow"] for r in rows if "data-flow" in r] == [f["id"] for f in flows]
    for f in flows:
        assert f'href="/flows/{f["id"]}/ladder"' in page and f'href="/flows/{f["id"]}/follow"' in page
        packets = f"/captures/{cid}?" + urlencode({"filter": f"{f['protocol']}.stream == {f['stream']}"})
        assert f'href="{esc(packets)}"' in page
    tcp0 = flows[0]
    assert f"{tcp0['a']['address']}:{tcp0['a']['port']}" in page
    assert f"{tcp0['handshake']['rtt']:.6f}" in page
    assert f"{tcp0['state']['a']} / {tcp0['state']['b']}" in page
    assert "·FDASS" in page  # completeness 31: SYN, SYN-ACK, ACK, data, FIN


async def test_flows_page_sorts_on_the_server(client, capture):
    cid = capture["id"]
    flows = await flows_of(client, capture)
    for order, expected in (("desc", sorted(flows, key=lambda f: -f["bytes"])),
                            ("asc", sorted(flows, key=lambda f: f["bytes"]))):
        page = (await client.get(f"/captures/{cid}/flows?sort=bytes&order={order}", headers=HTML)).text
        assert re.findall(r'data-flow="([^"]+)"', page) == [f["id"] for f in expected]
        assert f'aria-sort="{"descending" if order == "desc" else "ascending"}"' in page
    # Flows without a value (no handshake, no RTT) come last in either order.
    for order in ("asc", "desc"):
        page = (await client.get(f"/captures/{cid}/flows?sort=rtt&order={order}", headers=HTML)).text
        shown = re.findall(r'data-flow="([^"]+)"', page)
        timed = [f["id"] for f in flows if (f.get("handshake") or {}).get("rtt") is not None]
        assert 0 < len(timed) < len(flows) and shown[: len(timed)] == timed
    # A header link toggles the order of its own column only.
    page = (await client.get(f"/captures/{cid}/flows?sort=bytes&order=desc", headers=HTML)).text
    assert 'href="/captures/%s/flows?sort=bytes&amp;order=asc"' % cid in page
    assert 'href="/captures/%s/flows?sort=start&amp;order=asc"' % cid in page


async def test_flows_page_filters_like_its_twin(client, capture):
    cid = capture["id"]
    for params in ({"filter": "dns"}, {"filter": "http.host contains \"ethereal\""}, {"protocol": "udp"}):
        response = await client.get(f"/captures/{cid}/flows", params=params, headers=HTML)
        page = checked_page(response, f"/api/flows?{urlencode({'capture': cid, **params})}")
        expected = [f["id"] for f in await flows_of(client, capture, **params)]
        assert re.findall(r'data-flow="([^"]+)"', page) == expected
        assert 0 < len(expected) < 3


async def test_flows_page_explains_a_bad_filter(client, capture):
    cid = capture["id"]
    response = await client.get(f"/captures/{cid}/flows", params={"filter": "tcp.port == <b>"}, headers=HTML)
    check = (await client.get("/api/filter/check", params={"filter": "tcp.port == <b>"})).json()
    assert response.status_code == 400 and not check["valid"]
    assert esc(check["error"]) in response.text
    assert "<b>" not in response.text.split("<main", 1)[1]
    assert "No flows: the filter is not valid." in response.text


# -- the ladder of one flow -----------------------------------------------------------------------

async def test_ladder_page_draws_every_event_as_a_link_to_its_packet(client, capture):
    cid = capture["id"]
    flow_id = f"{cid}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/ladder")).json()
    page = checked_page(await client.get(f"/flows/{flow_id}/ladder", headers=HTML),
                        f"/api/flows/{flow_id}/ladder?limit={pages_flows.LADDER_PAGE}")
    links = Tags(page).find("a", class_="ev")
    assert [int(a["data-number"]) for a in links] == [e["number"] for e in twin["events"]]
    assert [a["href"] for a in links] == [f"/captures/{cid}?packet={e['number']}" for e in twin["events"]]
    for e in twin["events"]:
        assert f"#{e['number']} {esc(e['label'])}</text>" in page
    first = twin["events"][:3]
    assert [e["label"] for e in first] == ["[SYN] Seq=0 Len=0", "[SYN, ACK] Seq=0 Ack=1 Len=0", "[ACK] Seq=1 Ack=1 Len=0"]
    # Lanes show the TCP states as they change; the SVG's styles come from a file, not inline.
    assert page.count(">ESTABLISHED</text>") == 2 and ">SYN-SENT</text>" in page
    assert "<style>" not in page and 'href="/static/css/flows.css"' in page
    assert 'id="arrow-flow"' in page and 'url(#arrow-flow)' in page and 'id="arrow"' not in page


async def test_ladder_options_raw_numbers_time_spacing_and_explanations(client, capture):
    cid = capture["id"]
    flow_id = f"{cid}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/ladder")).json()
    syn = twin["events"][0]
    raw = (await client.get(f"/flows/{flow_id}/ladder?raw=1", headers=HTML)).text
    assert f"#1 [SYN] Seq={syn['seq_raw']} Len=0</text>" in raw
    assert f'href="/flows/{flow_id}/ladder.svg?raw=1"' in raw and 'aria-current="true" data-option="raw"' in raw

    order = (await client.get(f"/flows/{flow_id}/ladder", headers=HTML)).text
    timed = (await client.get(f"/flows/{flow_id}/ladder?spacing=time", headers=HTML)).text
    height = lambda page: int(re.search(r'<svg[^>]* height="(\d+)"', page).group(1))  # noqa: E731
    assert height(timed) != height(order)

    assert "data-explanations" not in order
    explained = (await client.get(f"/flows/{flow_id}/ladder?explain=1", headers=HTML)).text
    items = Tags(explained).find("li")
    assert [int(li["data-number"]) for li in items if "data-number" in li] == [e["number"] for e in twin["events"]]
    for e in twin["events"]:
        assert esc(e["explain"]) in explained
    assert "Now: client SYN-SENT, server LISTEN" in explained
    assert 'href="/flows/%s/ladder?raw=1&amp;explain=1"' % flow_id in explained


async def test_ladder_pages_through_long_flows(client, capture, monkeypatch):
    monkeypatch.setattr(pages_flows, "LADDER_PAGE", 10)
    flow_id = f"{capture['id']}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/ladder")).json()
    first = (await client.get(f"/flows/{flow_id}/ladder", headers=HTML)).text
    assert len(Tags(first).find("a", class_="ev")) == 10
    assert f'href="/flows/{flow_id}/ladder?offset=10" rel="next"' in first
    second = (await client.get(f"/flows/{flow_id}/ladder?offset=10", headers=HTML)).text
    numbers = [int(a["data-number"]) for a in Tags(second).find("a", class_="ev")]
    assert numbers == [e["number"] for e in twin["events"][10:20]]
    assert f'href="/flows/{flow_id}/ladder" rel="prev"' in second


async def test_ladder_downloads_svg_and_mermaid(client, capture):
    cid = capture["id"]
    flow_id = f"{cid}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/ladder")).json()
    response = await client.get(f"/flows/{flow_id}/ladder.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"] == f'attachment; filename="{flow_id}.svg"'
    root = ET.fromstring(response.content)  # well-formed XML, a standalone SVG with its own styles
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.find(f"{ns}style") is not None
    hrefs = [a.get("href") for a in root.iter(f"{ns}a")]
    assert hrefs == [f"http://127.0.0.1/captures/{cid}?packet={e['number']}" for e in twin["events"]]

    mmd = await client.get(f"/flows/{flow_id}/ladder.mmd")
    assert mmd.status_code == 200 and mmd.headers["content-type"].startswith("text/plain")
    assert mmd.headers["content-disposition"] == f'attachment; filename="{flow_id}.mmd"'
    lines = mmd.text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant A as 145.254.160.237:3372" in lines
    assert "    A->>B: #1 [SYN] Seq=0 Len=0" in lines
    assert "    B->>A: #2 [SYN, ACK] Seq=0 Ack=1 Len=0" in lines
    assert len([line for line in lines if "->>" in line]) == len(twin["events"])
    raw = (await client.get(f"/flows/{flow_id}/ladder.mmd?raw=1")).text
    assert f"#1 [SYN] Seq={twin['events'][0]['seq_raw']} Len=0" in raw


async def test_flow_graph_draws_one_ladder_per_matching_flow(client, capture):
    cid = capture["id"]
    page = checked_page(await client.get(f"/captures/{cid}/ladder", headers=HTML), f"/api/flows?capture={cid}")
    flows = sorted(await flows_of(client, capture), key=lambda f: f["first_packet"])
    assert re.findall(r'<section class="graph"[^>]*data-flow="([^"]+)"', page) == [f["id"] for f in flows]
    markers = re.findall(r'<marker id="([^"]+)"', page)
    assert len(markers) == len(flows) == len(set(markers))
    dns = (await client.get(f"/captures/{cid}/ladder", params={"filter": "dns"}, headers=HTML)).text
    assert re.findall(r'<section class="graph"[^>]*data-flow="([^"]+)"', dns) == [f"{cid}-udp-0"]
    assert "#13 UDP Len=" in dns


async def test_flow_graph_of_all_packets_draws_the_packet_list(client, capture, monkeypatch):
    cid = capture["id"]
    monkeypatch.setattr(pages_flows, "GRAPH_PACKETS", 20)
    twin = f"/api/captures/{cid}/packets?filter=tcp&offset=0&limit=20"
    page = checked_page(await client.get(f"/captures/{cid}/ladder?mode=packets&filter=tcp", headers=HTML), twin)
    rows = (await client.get(twin)).json()
    arrows = Tags(page).find("a", class_="ev")
    assert [int(a["data-number"]) for a in arrows] == [r["number"] for r in rows["packets"]]
    assert [a["href"] for a in arrows] == [f"/captures/{cid}?filter=tcp&packet={r['number']}" for r in rows["packets"]]
    for r in rows["packets"]:
        assert f"<title>Frame {r['number']}: {esc(r['protocol'])} {esc(r['info'])}</title>" in page
    lanes = re.findall(r'<text class="ep"[^>]*><title>([^<]+)</title>', page)
    assert lanes == list(dict.fromkeys(a for r in rows["packets"] for a in (r["source"], r["destination"])))
    assert f'href="/captures/{cid}/ladder?filter=tcp&amp;mode=packets&amp;offset=20" rel="next"' in page
    assert '<input type="hidden" name="mode" value="packets">' in page
    # The last page, and a filter nothing matches.
    at = (rows["matched"] - 1) // 20 * 20
    last = (await client.get(f"/captures/{cid}/ladder?mode=packets&filter=tcp&offset={at}", headers=HTML)).text
    assert len(Tags(last).find("a", class_="ev")) == rows["matched"] - at
    assert 'rel="next"' not in last and 'rel="prev"' in last
    none = (await client.get(f"/captures/{cid}/ladder?mode=packets&filter=arp", headers=HTML)).text
    assert "<svg" not in none and "0 packets matching" in none


# -- follow stream ---------------------------------------------------------------------------------

async def test_follow_page_shows_both_directions_escaped(client, capture):
    cid = capture["id"]
    flow_id = f"{cid}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/stream")).json()
    page = checked_page(await client.get(f"/flows/{flow_id}/follow", headers=HTML), f"/api/flows/{flow_id}/stream")
    spans = Tags(page).find("span", class_="chunk")
    assert [int(s["data-number"]) for s in spans] == [s["number"] for s in twin["segments"]]
    for seg in twin["segments"]:
        assert f'href="/captures/{cid}?packet={seg["number"]}"' in page
    request, response = b64decode(twin["segments"][0]["data_base64"]), b64decode(twin["segments"][1]["data_base64"])
    assert esc(as_text(request)) in page and "GET /download.html HTTP/1.1" in page
    assert esc(as_text(response)) in page
    # The response is an HTML page: it must arrive as text, never as markup.
    assert "&lt;title&gt;Ethereal: Download&lt;/title&gt;" in page and "<title>Ethereal" not in page
    assert re.findall(r'<div class="run (a2b|b2a)">', page) == ["a2b", "b2a"]
    assert f"Entire conversation ({twin['bytes']:,} bytes)" in page


async def test_follow_page_hex_raw_and_one_direction(client, capture):
    flow_id = f"{capture['id']}-tcp-0"
    twin = (await client.get(f"/api/flows/{flow_id}/stream")).json()
    request = b64decode(twin["segments"][0]["data_base64"])
    hexpage = (await client.get(f"/flows/{flow_id}/follow?format=hex", headers=HTML)).text
    assert "00000000  47 45 54 20 2f 64 6f 77 6e 6c 6f 61 64 2e 68 74  GET /download.ht" in hexpage
    raw = (await client.get(f"/flows/{flow_id}/follow?format=raw", headers=HTML)).text
    assert request.hex() in raw
    server = (await client.get(f"/flows/{flow_id}/follow?side=b", headers=HTML)).text
    assert "GET /download.html" not in server and "HTTP/1.1 200 OK" in server
    assert re.findall(r'<div class="run (a2b|b2a)">', server) == ["b2a"]


# -- statistics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["eth", "ipv4", "ipv6", "tcp", "udp"])
async def test_conversations_and_endpoints_pages_match_their_twins(client, capture, kind):
    cid = capture["id"]
    conv_twin = f"/api/captures/{cid}/conversations?type={kind}"
    page = checked_page(await client.get(f"/captures/{cid}/conversations?type={kind}", headers=HTML), conv_twin)
    conversations = (await client.get(conv_twin)).json()["conversations"]
    tbody = page.split("<tbody>", 1)[1] if conversations else ""
    assert tbody.count("<tr>") == len(conversations)
    flows = {frozenset((f"{f['a']['address']}:{f['a']['port']}", f"{f['b']['address']}:{f['b']['port']}")): f
             for f in await flows_of(client, capture)}
    for c in conversations:
        assert f"{c['a_to_b']['bytes']:,}" in page and f"{c['b_to_a']['packets']:,}" in page
        if kind in ("tcp", "udp"):
            flow = flows[frozenset((c["a"], c["b"]))]
            flt = f"{kind}.stream=={flow['stream']}"
            assert f'href="/flows/{flow["id"]}/ladder"' in page
        else:
            field = {"eth": "eth.addr", "ipv4": "ip.addr", "ipv6": "ipv6.addr"}[kind]
            flt = f"{field}=={c['a']} && {field}=={c['b']}"
        matched = (await client.get(f"/api/captures/{cid}/packets", params={"filter": flt, "limit": 0})).json()["matched"]
        assert matched == c["packets"], flt
        assert f'title="{esc(flt)}"' in page

    ep_twin = f"/api/captures/{cid}/endpoints?type={kind}"
    page = checked_page(await client.get(f"/captures/{cid}/endpoints?type={kind}", headers=HTML), ep_twin)
    endpoints = (await client.get(ep_twin)).json()["endpoints"]
    assert page.count('<td class="actions">') == len(endpoints)
    for e in endpoints:
        address, _, port = e["address"].rpartition(":") if kind in ("tcp", "udp") else (e["address"], "", "")
        assert f'<td class="addr">{address}</td>' in page


async def test_statistics_tabs_and_sorting(client, capture):
    cid = capture["id"]
    page = (await client.get(f"/captures/{cid}/conversations?type=ipv4&sort=bytes&order=asc", headers=HTML)).text
    conversations = (await client.get(f"/api/captures/{cid}/conversations?type=ipv4")).json()["conversations"]
    shown = re.findall(r'<td class="addr">([^<]+)</td>\s*<td class="addr">([^<]+)</td>', page)
    assert shown == [(c["a"], c["b"]) for c in sorted(conversations, key=lambda c: c["bytes"])]
    for kind in ("eth", "ipv4", "ipv6", "tcp", "udp"):
        assert f'href="/captures/{cid}/conversations?type={kind}"' in page
    assert re.search(r'aria-current="page" data-kind="ipv4">IPv4 <span class="count">3</span>', page)


# -- navigation and errors -------------------------------------------------------------------------

async def test_capture_page_links_to_the_other_views(client, capture):
    cid = capture["id"]
    page = (await client.get(f"/captures/{cid}", params={"filter": "tcp"}, headers=HTML)).text
    nav = page.split('<nav class="views"', 1)[1].split("</nav>", 1)[0]
    hrefs = re.findall(r'href="([^"]+)"', nav)
    assert hrefs == [f"/captures/{cid}?filter=tcp", f"/captures/{cid}/flows?filter=tcp",
                     f"/captures/{cid}/conversations", f"/captures/{cid}/endpoints", f"/captures/{cid}/ladder?filter=tcp"]
    assert '/static/js/filterbar.js' in page


async def test_unknown_flows_are_escaped_error_pages(client, capture):
    for url in (f"/flows/{capture['id']}-tcp-99/ladder", "/flows/%3Cscript%3E/follow", "/flows/nope/ladder.svg"):
        response = await client.get(url, headers=HTML)
        assert response.status_code == 404, url
        assert "<script>" not in response.text


async def test_static_assets_of_the_flow_pages_exist(client, capture):
    cid = capture["id"]
    assets = set()
    for url in (f"/captures/{cid}/flows", f"/flows/{cid}-tcp-0/ladder", f"/flows/{cid}-tcp-0/follow",
                f"/captures/{cid}/conversations", f"/captures/{cid}/ladder", f"/captures/{cid}"):
        page = (await client.get(url, headers=HTML)).text
        assets.update(re.findall(r'(?:src|href)="(/static/[^"]+)"', page))
    assert {"/static/js/ladder.js", "/static/js/follow.js", "/static/js/filterbar.js", "/static/js/fieldfilter.js",
            "/static/css/flows.css"} <= assets
    for asset in sorted(assets):
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 200, asset


def test_flow_links_quote_filters_in_urls():
    """The packet-list link of a flow carries its filter in the query string, encoded."""
    row = pages_flows.flow_row({"id": "0123456789abcdef-udp-3", "capture": "0123456789abcdef", "protocol": "udp",
                                "stream": 3, "a": {"address": "::1", "port": 53}, "b": {"address": "10.0.0.1", "port": 9}})
    assert parse_qs(urlsplit(row["packets"]).query) == {"filter": ["udp.stream == 3"]}
    assert row["a"] == "[::1]:53" and row["sides"] == ("A", "B")
