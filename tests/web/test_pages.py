"""The HTML pages, driven in process: library, capture view, packet detail, status line, errors.

Each page is checked against its JSON twin (the API) rather than against fixed strings, so the
pages stay a view of the same data; text from captures must always arrive escaped.
"""
from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import anyio
import httpx
import pytest
from markupsafe import escape

from app.main import create_app
from app.settings import Settings

pytestmark = pytest.mark.anyio
HTML = {"accept": "text/html,application/xhtml+xml"}
HOSTILE_NAME = "<img src=x onerror=alert(1)>.pcap"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(tmp_path: Path):
    return create_app(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
async def client(app):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            yield c


async def upload(client: httpx.AsyncClient, path: Path, name: str) -> dict:
    response = await client.post("/api/captures", files={"file": (name, path.read_bytes())})
    assert response.status_code == 201, response.text
    capture = response.json()
    deadline = time.monotonic() + 60
    while capture["status"] == "indexing":
        assert time.monotonic() < deadline, "indexing did not finish"
        await anyio.sleep(0.05)
        capture = (await client.get(f"/api/captures/{capture['id']}")).json()
    assert capture["status"] == "ready", capture
    return capture


@pytest.fixture
async def capture(client: httpx.AsyncClient, corpus_dir: Path) -> dict:
    return await upload(client, corpus_dir / "dpkt_http.pcap", HOSTILE_NAME)


def esc(text: str) -> str:
    """Text as the templates escape it (Jinja's autoescape)."""
    return str(escape(text))


def alternate_of(response: httpx.Response, page: bool = True) -> str:
    """The JSON twin announced by the Link header and, on a whole page, the <link> tag too."""
    match = re.fullmatch(r'<([^>]+)>; rel="alternate"; type="application/json"', response.headers["link"])
    assert match, response.headers["link"]
    href = match.group(1)
    if page:
        assert f'<link rel="alternate" type="application/json" href="{esc(href)}">' in response.text
    return href


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_no_inline_code(page: str) -> None:
    """Pages run under a strict CSP: scripts only from files, no handlers or style attributes."""
    parser = _Tags()
    parser.feed(page)
    assert parser.tags
    for tag, attrs in parser.tags:
        assert tag != "style"
        assert "style" not in attrs, (tag, attrs)
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert not [v for v in attrs.values() if v and v.strip().lower().startswith("javascript:")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs


async def test_library_lists_captures_and_announces_its_json_twin(client, capture):
    response = await client.get("/", headers=HTML)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert alternate_of(response) == "/api/captures"
    twin = (await client.get("/api/captures")).json()
    assert [c["id"] for c in twin["captures"]] == [capture["id"]]
    page = response.text
    assert_no_inline_code(page)
    # The file name is text from the uploader: escaped, never markup.
    assert esc(HOSTILE_NAME) in page
    assert "<img src=x" not in page
    assert f'href="/captures/{capture["id"]}"' in page
    assert f'hx-delete="/api/captures/{capture["id"]}"' in page
    assert "hx-confirm=" in page
    assert f'href="/api/captures/{capture["id"]}/download"' in page
    assert re.search(r'<input[^>]+type="file"[^>]+name="file"', page)
    assert 'class="capture-status status-ready"' in page
    assert f">{capture['packets']}<" in page


async def test_library_rows_block_for_htmx(client, capture):
    response = await client.get("/", headers={"hx-request": "true", "hx-target": "capture-rows"})
    assert response.status_code == 200
    assert "<html" not in response.text and "<tbody" not in response.text
    assert response.text.count("<tr data-capture=") == 1


async def test_capture_page_shows_the_rows_of_its_twin(client, capture):
    cid = capture["id"]
    response = await client.get(f"/captures/{cid}", headers=HTML)
    assert response.status_code == 200
    twin_url = alternate_of(response)
    assert twin_url == f"/api/captures/{cid}/packets?offset=0&limit=100"
    twin = (await client.get(twin_url)).json()
    page = response.text
    assert_no_inline_code(page)
    rows = re.findall(r'<tr class="(c-[a-z-]+)[^"]*" data-index="(\d+)" data-number="(\d+)"', page)
    assert len(rows) == twin["total"] == 43
    for (color, index, number), packet in zip(rows, twin["packets"]):
        assert int(number) == packet["number"] == int(index) + 1
        assert color == packet["color"]
        # Every column of the row, escaped exactly as Jinja escapes it.
        for value in (f"{packet['time']:.6f}", packet["source"], packet["destination"], packet["protocol"],
                      str(packet["length"]), packet["info"]):
            assert esc(value) in page
    # Frame 18's Info is a URL with '&': it must arrive as an entity.
    info18 = twin["packets"][17]["info"]
    assert "&" in info18 and esc(info18) in page
    # Three panes, the filter form, the status bar and the keyboard help.
    assert re.search(r'<form id="filter-form"[^>]+method="get"', page)
    assert 'hx-push-url="true"' in page
    assert 'id="tree-pane"' in page and 'id="bytes-pane"' in page
    assert re.search(r"Packets: <strong>43</strong>", page)
    assert 'id="key-help"' in page
    for script in ("packets.js", "tree.js", "keys.js", "htmx-2.0.11.min.js"):
        assert f"{script}\"" in page


async def test_capture_page_pages_with_offset_and_limit(client, capture):
    cid = capture["id"]
    response = await client.get(f"/captures/{cid}?offset=40&limit=10", headers=HTML)
    assert response.status_code == 200
    assert alternate_of(response) == f"/api/captures/{cid}/packets?offset=40&limit=10"
    numbers = [int(n) for n in re.findall(r'data-index="\d+" data-number="(\d+)"', response.text)]
    assert numbers == [41, 42, 43]
    assert "Rows 41–43 of 43" in response.text


async def test_selected_packet_is_rendered_with_its_tree_and_bytes(client, capture):
    cid = capture["id"]
    response = await client.get(f"/captures/{cid}?packet=6", headers=HTML)
    assert response.status_code == 200
    page = response.text
    detail = (await client.get(f"/api/captures/{cid}/packets/6")).json()
    assert re.search(r'<tr class="c-[a-z-]+ selected" data-index="5" data-number="6"', page)
    assert 'data-tree data-number="6"' in page
    assert_tree_and_bytes(page, detail)


async def test_packet_detail_partial_for_htmx_and_page_otherwise(client, capture):
    cid = capture["id"]
    detail = (await client.get(f"/api/captures/{cid}/packets/6")).json()
    partial = await client.get(f"/captures/{cid}/packets/6", headers={"hx-request": "true", "hx-target": "tree-pane"})
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert '<section id="bytes-pane" hx-swap-oob="innerHTML">' in partial.text
    assert_tree_and_bytes(partial.text, detail)

    page = await client.get(f"/captures/{cid}/packets/6", headers=HTML)
    assert page.status_code == 200 and "<html" in page.text
    assert alternate_of(page) == f"/api/captures/{cid}/packets/6"
    assert_no_inline_code(page.text)
    assert_tree_and_bytes(page.text, detail)


def flatten(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from flatten(node.get("children") or [])


def assert_tree_and_bytes(page: str, detail: dict) -> None:
    nodes = list(flatten(detail["layers"]))
    for node in nodes:
        assert esc(node["label"]) in page, node["label"]
        if node["offset"] is not None and node["length"] is not None:
            assert (f'data-name="{esc(node["name"])}" data-off="{node["offset"]}" '
                    f'data-len="{node["length"]}"') in page
    data = bytes.fromhex(detail["bytes"])
    hex_cells = re.findall(r'<span data-o="(\d+)">([0-9a-f]{2})</span>', page)
    assert [(int(o), h) for o, h in hex_cells] == [(i, f"{b:02x}") for i, b in enumerate(data)]
    ascii_part = "".join(re.findall(r'<span class="hex-ascii">(.*?)</span></div>', page))
    ascii_cells = re.findall(r'<span data-o="\d+">(.*?)</span>', ascii_part)
    expected = [esc(chr(b) if 0x20 <= b < 0x7F else ".") for b in data]
    assert ascii_cells == expected


async def test_payload_bytes_are_escaped(client, capture):
    """Frame 38 carries the HTML of a web page: its '<' appear as &lt; in the ASCII column."""
    cid = capture["id"]
    detail = (await client.get(f"/api/captures/{cid}/packets/38")).json()
    assert b"<" in bytes.fromhex(detail["bytes"])
    response = await client.get(f"/captures/{cid}/packets/38", headers={"hx-request": "true"})
    ascii_part = "".join(re.findall(r'<span class="hex-ascii">(.*?)</span></div>', response.text))
    assert '<span data-o="' in ascii_part and "&lt;" in ascii_part
    assert not re.search(r"<(?!/?span\b)", ascii_part), "raw markup from the packet in the page"


async def test_bad_filter_keeps_the_page_and_shows_the_servers_message(client, capture):
    cid = capture["id"]
    bad = "tcp.port == == <b>"
    api = await client.get(f"/api/captures/{cid}/packets", params={"filter": bad})
    assert api.status_code == 400
    message = api.json()["error"]

    response = await client.get(f"/captures/{cid}", params={"filter": bad}, headers=HTML)
    assert response.status_code == 400
    page = response.text
    assert 'id="filter-form"' in page and 'id="tree-pane"' in page
    assert f'value="{esc(bad)}"' in page
    assert esc(message) in page
    assert 'aria-invalid="true"' in page
    assert "<b>" not in page
    assert "No packets: the filter is not valid." in page

    partial = await client.get(f"/captures/{cid}", params={"filter": bad},
                               headers={"hx-request": "true", "hx-target": "list-pane"})
    assert partial.status_code == 400
    assert "<html" not in partial.text and esc(message) in partial.text
    assert 'data-filter-error="true"' in partial.text
    assert '<footer id="statusbar" hx-swap-oob="innerHTML">' in partial.text


async def test_valid_filter_lists_the_matching_rows(client, capture):
    cid = capture["id"]
    api = await client.get(f"/api/captures/{cid}/packets", params={"filter": "http"})
    assert api.status_code == 200
    twin = api.json()
    partial = await client.get(f"/captures/{cid}", params={"filter": "http"},
                               headers={"hx-request": "true", "hx-target": "list-pane"})
    assert partial.status_code == 200
    numbers = [int(n) for n in re.findall(r'data-index="\d+" data-number="(\d+)"', partial.text)]
    assert numbers == [p["number"] for p in twin["packets"]]
    assert f'data-matched="{twin["matched"]}"' in partial.text


async def test_filter_form_with_no_selected_packet(client, capture):
    """The form sends an empty `packet` before any packet is selected: that is not an error."""
    response = await client.get(f"/captures/{capture['id']}", params={"filter": "", "packet": ""},
                                headers={"hx-request": "true", "hx-target": "list-pane"})
    assert response.status_code == 200
    assert len(re.findall(r'data-index="\d+" data-number="\d+"', response.text)) == 43


async def test_status_line_follows_a_ready_capture_to_its_page(client, capture):
    cid = capture["id"]
    response = await client.get(f"/captures/{cid}/status", params={"follow": 1, "filter": "tcp"})
    assert response.status_code == 200
    assert alternate_of(response, page=False) == f"/api/captures/{cid}"
    assert response.headers["hx-redirect"] == f"/captures/{cid}?filter=tcp"
    assert response.headers["hx-trigger"] == "capture-ready"
    assert 'data-status="ready"' in response.text and "hx-get" not in response.text


async def test_indexing_capture_page_polls_its_status(app, client, capture):
    cid = capture["id"]
    # Mark it as indexing again, as just after an upload, and look at the page.
    app.state.captures.library.update(cid, status="indexing", progress=0.25)
    response = await client.get(f"/captures/{cid}", headers=HTML)
    assert response.status_code == 200
    assert alternate_of(response) == f"/api/captures/{cid}"
    assert "Indexing 25%" in response.text
    assert f'hx-get="/captures/{cid}/status?follow=1"' in response.text
    assert 'hx-trigger="load delay:600ms"' in response.text
    assert "data-packet-list" not in response.text


async def test_upload_form_without_javascript_redirects_to_the_capture(client, corpus_dir):
    data = (corpus_dir / "dpkt_http.pcap").read_bytes()
    response = await client.post("/captures", files={"file": ("plain.pcap", data)}, headers=HTML)
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/captures/[0-9a-f]{16}", location)


async def test_unknown_capture_is_an_escaped_error_page(client):
    response = await client.get("/captures/0123456789abcdef", headers=HTML)
    assert response.status_code == 404
    assert "<html" in response.text and "0123456789abcdef" in response.text
    evil = await client.get("/captures/%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers=HTML)
    assert evil.status_code == 404
    assert "<script>alert" not in evil.text and "&lt;script&gt;alert(1)" in evil.text


async def test_static_assets_referenced_by_the_pages_exist(client, capture):
    pages = [await client.get(url, headers=HTML) for url in
             ("/", f"/captures/{capture['id']}", f"/captures/{capture['id']}/packets/1")]
    assets = set()
    for page in pages:
        assets.update(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
    assert "/static/vendor/htmx-2.0.11.min.js" in assets and "/static/css/wirelens.css" in assets
    for asset in sorted(assets):
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 200, asset


async def test_pages_of_a_login_session_carry_its_csrf_token(tmp_path, corpus_dir):
    """With a token, the pages hand htmx (hx-headers) and the upload script (meta) the CSRF token."""
    app = create_app(Settings(data_dir=tmp_path / "data", auth="on", token="the-token"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            assert (await c.get("/", headers=HTML)).status_code == 401
            assert (await c.get("/?token=the-token")).status_code == 303   # sets the session cookie
            page = await c.get("/", headers=HTML)
            assert page.status_code == 200
            match = re.search(r"""<body class="page-doc" hx-headers='\{"X-CSRF-Token": "([^"]+)"\}'>""", page.text)
            assert match, page.text[:2000]
            csrf = match.group(1)
            assert f'<meta name="csrf-token" content="{csrf}">' in page.text
            assert 'action="/logout"' in page.text
            data = (corpus_dir / "cloudshark-arp.pcap").read_bytes()
            refused = await c.post("/api/captures", files={"file": ("a.pcap", data)})
            assert refused.status_code == 403
            created = await c.post("/api/captures", files={"file": ("a.pcap", data)},
                                   headers={"X-CSRF-Token": csrf})
            assert created.status_code == 201
            deleted = await c.delete(f"/api/captures/{created.json()['id']}", headers={"X-CSRF-Token": csrf})
            assert deleted.status_code == 204
