"""Crash safety: SIGKILL a real server during an upload, during indexing and during a live
capture; after a restart the library is consistent and every page of it works."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from app.core.library import ID_PATTERN
from tests.reference import CORPUS
from tests.security import bigcap
from tests.security.server import Server, multipart, upload

SMALL = (CORPUS / "dpkt_http.pcap").read_bytes()
BIG_PACKETS = 300_000


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> bytes:
    return bigcap.write(tmp_path_factory.mktemp("big") / "big.pcap", BIG_PACKETS).read_bytes()


def _wait(server: Server, capture_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, capture = server.json("GET", f"/api/captures/{capture_id}")
        assert status == 200, capture
        if capture["status"] not in ("indexing", "capturing"):
            return capture
        assert time.monotonic() < deadline, f"still {capture['status']}: {capture}"
        time.sleep(0.1)


def _consistent(server: Server, expect: dict[str, int]) -> None:
    """Every listed capture is one of ``expect`` (id -> packets), finished, and all its pages work;
    nothing half-done is left on disk."""
    status, listing = server.json("GET", "/api/captures")
    assert status == 200
    ids = {c["id"] for c in listing["captures"]}
    assert ids == set(expect), (ids, expect)
    for cid, packets in expect.items():
        capture = _wait(server, cid)
        assert capture["status"] == "ready" and capture["packets"] == packets, capture
        page = server.json("GET", f"/api/captures/{cid}/packets?offset={max(0, packets - 5)}&limit=10")[1]
        assert page["total"] == packets and page["packets"][-1]["number"] == packets
        assert server.json("GET", f"/api/captures/{cid}/packets/{packets}")[0] == 200
        assert server.json("GET", f"/api/flows?capture={cid}&limit=5")[0] == 200
        for url in ("/", f"/captures/{cid}", f"/captures/{cid}/packets/1"):
            assert server.request("GET", url, headers={"Accept": "text/html"})[0] == 200, url
    data = server.data_dir
    assert list((data / "incoming").iterdir()) == []
    for folder in (data / "captures").iterdir():
        assert ID_PATTERN.match(folder.name) and folder.name in expect, folder
        assert sorted(p.name for p in folder.iterdir() if p.name != "capture") in (["index", "original"],), folder


def _half_upload(server: Server, data: bytes) -> socket.socket:
    body, ctype = multipart("big.pcap", data)
    head = (f"POST /api/captures HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(head + body[: len(body) // 2])
    return sock


def test_sigkill_during_an_upload(tmp_path, big):
    server = Server(tmp_path / "data").start()
    try:
        kept = upload(server, "kept.pcap", SMALL)
        sock = _half_upload(server, big)
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size > 1 << 20 for p in (server.data_dir / "incoming").iterdir()):
            assert time.monotonic() < deadline, "the upload never reached the disk"
            time.sleep(0.05)
        server.kill()
        sock.close()
        server.start()
        _consistent(server, {kept["id"]: 43})
    finally:
        server.stop()


def test_sigkill_during_indexing_again_and_again(tmp_path, big):
    server = Server(tmp_path / "data").start()
    try:
        kept = upload(server, "kept.pcap", SMALL)
        body, ctype = multipart("big.pcap", big)
        status, capture = server.json("POST", "/api/captures", body=body, headers={"Content-Type": ctype})
        assert status == 201 and capture["status"] == "indexing"
        # Kill it at several points of the indexing: at once, while reading records, while
        # deriving streams and writing the index. Each restart starts the indexing over. The
        # points are found by the capture's progress, not by time: indexing speed varies.
        killed_while = []
        for progress in (0.0, 0.05, 0.5, 0.99):
            deadline = time.monotonic() + 60
            while True:
                seen = server.json("GET", f"/api/captures/{capture['id']}")[1]
                if seen["status"] != "indexing" or seen["progress"] >= progress or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            killed_while.append(seen["status"])
            server.kill()
            server.start()
            status, again = server.json("GET", f"/api/captures/{capture['id']}")
            assert status == 200 and again["status"] in ("indexing", "ready"), again
            # The library page and the capture's page work while it is indexed again.
            assert server.request("GET", "/", headers={"Accept": "text/html"})[0] == 200
            assert server.request("GET", f"/captures/{capture['id']}", headers={"Accept": "text/html"})[0] == 200
        assert killed_while.count("indexing") >= 3, killed_while  # the kills did land mid-indexing
        _consistent(server, {kept["id"]: 43, capture["id"]: BIG_PACKETS})
        # And once more after it finished: the finished index is reused as it is.
        server.kill()
        server.start()
        _consistent(server, {kept["id"]: 43, capture["id"]: BIG_PACKETS})
    finally:
        server.stop()


def test_sigkill_during_a_live_capture(tmp_path):
    server = Server(tmp_path / "data").start()
    try:
        kept = upload(server, "kept.pcap", SMALL)
        status, live = server.json("POST", "/api/captures/live", body=json.dumps({"interface": "lo"}).encode(),
                                   headers={"Content-Type": "application/json"})
        assert status == 201 and live["status"] == "capturing", live
        for _ in range(20):  # some traffic on the loopback interface
            server.request("GET", "/api/health")
            time.sleep(0.05)
        server.kill()
        server.start()
        # The capture that was running is either finished from what was written, or removed.
        status, listing = server.json("GET", "/api/captures")
        ids = {c["id"] for c in listing["captures"]}
        assert kept["id"] in ids
        expect = {kept["id"]: 43}
        if live["id"] in ids:
            after = _wait(server, live["id"], timeout=60)
            assert after["status"] == "ready" and after["packets"] > 0, after
            expect[live["id"]] = after["packets"]
        _consistent(server, expect)
    finally:
        server.stop()
