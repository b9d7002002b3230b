"""Paths: capture ids, flow ids and uploaded file names never reach the filesystem unchecked."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from app.core.library import ID_PATTERN
from app.main import create_app
from app.settings import Settings
from tests.reference import CORPUS
from tests.security.routes import all_routes, fill

DATA = (CORPUS / "dpkt_http.pcap").read_bytes()
# (Bare "." and ".." segments are resolved by the HTTP client itself; their encoded forms are not.)
HOSTILE_IDS = ["../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2e", "~root",
               "%00", "0123456789abcde%00", "0123456789ABCDEF", "a" * 5000, "ÿ" * 16,
               "0123456789abcdef/../0123456789abcdef", "/etc/passwd", "C:%5Cwindows", "captures",
               "0123456789abcdef-tcp-99999999999", "0123456789abcdef-tcp--1", "NUL", "con.pcap"]
ODD_NAMES = [
    "../../../../tmp/evil.pcap", "..\\..\\windows\\evil.pcap", "/etc/passwd", "C:\\x\\y.pcap",
    "a\x00b.pcap", "line\r\nX-Injected: 1.pcap", "\u202egnp.pcap", "пакеты 日本語 🦈.pcap",
    "x" * 1000 + ".pcap", "я" * 1000 + ".pcap", ".", "..", "", " ", "CON", "nul.pcap", "%2e%2e%2fescape.pcap",
    'quote".pcap', "semi;colon.pcap", "\t\x1b[31mred.pcap",
]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _layout_ok(data_dir: Path) -> None:
    """Only the library's own files: the db, incoming/, captures/<16 hex>/... and nothing else."""
    for p in data_dir.rglob("*"):
        rel = p.relative_to(data_dir).parts
        if rel[0] in ("incoming",) and len(rel) == 1:
            continue
        if rel[0].startswith("wirelens.db"):
            continue
        assert rel[0] == "captures", p
        if len(rel) >= 2:
            assert ID_PATTERN.match(rel[1]), p
        if len(rel) >= 3:
            # An index still being built lives in index.building-<process>-<thread>.
            assert rel[2] in ("original", "capture", "index", "capture.inflating") or \
                rel[2].startswith("index.building-"), p


def test_hostile_ids_never_reach_the_filesystem(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    before = _files(tmp_path)
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        real = client.post("/api/captures", files={"file": ("a.pcap", DATA)}).json()["id"]
        for route in all_routes(app):
            if "{capture_id}" not in route.path and "{flow_id}" not in route.path:
                continue
            for bad in HOSTILE_IDS:
                url = fill(route.path, {"capture_id": bad, "flow_id": bad, "number": "1"})
                r = client.request(route.method, url, headers={"Origin": "http://testserver"})
                assert r.status_code in (400, 404, 405, 422), f"{route.method} {url}: {r.status_code} {r.text[:200]}"
                assert "root:" not in r.text
        assert client.get(f"/api/captures/{real}").status_code == 200
    after = _files(tmp_path) - before
    assert all(p.startswith("data") for p in after), after
    _layout_ok(tmp_path / "data")


def test_odd_upload_names_are_stored_and_shown_safely(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data"))
    cwd_before = set(os.listdir("."))
    with TestClient(app) as client:
        stored = {}
        for name in ODD_NAMES:
            r = client.post("/api/captures", files={"file": (name, DATA)})
            assert r.status_code == 201, (name, r.text)
            stored[name] = r.json()
        raw = client.post("/api/captures", content=DATA,
                          headers={"X-Filename": "../../raw\\evil.pcap", "Content-Type": "application/octet-stream"})
        assert raw.status_code == 201 and raw.json()["name"] == "evil.pcap"
        for name, capture in stored.items():
            shown = capture["name"]
            assert shown and len(shown) <= 200, (name, shown)
            assert not any(c in shown for c in "/\\\x00\r\n\t\x1b\u202e"), (name, shown)
            r = client.get(f"/api/captures/{capture['id']}/download")
            assert r.status_code == 200 and r.content == DATA, name
            disposition = r.headers["content-disposition"]
            assert "\r" not in disposition and "\n" not in disposition and disposition.startswith("attachment")
            page = client.get(f"/captures/{capture['id']}", headers={"Accept": "text/html"})
            assert page.status_code == 200, name
        # Unicode survives as it was sent; the same name twice is two captures, neither overwritten.
        assert stored["пакеты 日本語 🦈.pcap"]["name"] == "пакеты 日本語 🦈.pcap"
        assert stored["../../../../tmp/evil.pcap"]["name"] == "evil.pcap"
        twice = client.post("/api/captures", files={"file": ("пакеты 日本語 🦈.pcap", DATA[:24] + DATA[24:400])}).json()
        assert twice["id"] != stored["пакеты 日本語 🦈.pcap"]["id"]
        assert client.get(f"/api/captures/{stored['пакеты 日本語 🦈.pcap']['id']}/download").content == DATA
        # A part header longer than any file system's name (over 4 kB) is refused, clearly.
        r = client.post("/api/captures", files={"file": ("x" * 5000 + ".pcap", DATA)})
        assert r.status_code == 400 and "malformed" in r.json()["error"]
        listed = client.get("/api/captures").json()["captures"]
        assert len(listed) == len(ODD_NAMES) + 2
    assert not (tmp_path / "evil.pcap").exists() and not Path("/tmp/evil.pcap").exists()
    assert set(os.listdir(".")) == cwd_before
    _layout_ok(tmp_path / "data")
    # Only ids made by the library name folders; every name lives in the database only.
    assert len(list((tmp_path / "data" / "captures").iterdir())) == len(ODD_NAMES) + 2


def test_id_pattern_is_checked_before_any_path_is_built(tmp_path):
    from app.core.errors import NotFound  # noqa: PLC0415
    from app.core.library import Library  # noqa: PLC0415

    library = Library(tmp_path / "lib")
    for bad in ["..", "../x", "0123456789abcdef/..", "0123456789abcde\x00", "", "0" * 17]:
        for method in (library.folder, library.original_path, library.index_dir, library.get):
            try:
                method(bad)
            except NotFound:
                continue
            raise AssertionError(f"{method.__name__}({bad!r}) did not refuse")
    assert quote("..") == ".."
