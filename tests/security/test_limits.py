"""Limits, on a real server: upload size, uploads at once, filter length, live capture size and
duration, and a disk that fills up during an upload."""
from __future__ import annotations

import contextlib
import json
import resource
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from app.settings import Settings
from tests.reference import CORPUS
from tests.security.server import Server, multipart, post_while_reading, upload

SMALL = (CORPUS / "dpkt_http.pcap").read_bytes()  # 25 kB
BIG = (CORPUS / "206_example_b.pcap").read_bytes()  # 1.5 MB


def _library_is_clean(server: Server, expected_ids: set[str]) -> None:
    """The library lists exactly ``expected_ids``, each readable, and nothing is left half-done."""
    status, listing = server.json("GET", "/api/captures")
    assert status == 200 and {c["id"] for c in listing["captures"]} == expected_ids, listing
    for capture in listing["captures"]:
        assert capture["status"] == "ready", capture
        assert server.json("GET", f"/api/captures/{capture['id']}/packets?limit=5")[0] == 200
        assert server.request("GET", f"/captures/{capture['id']}", headers={"Accept": "text/html"})[0] == 200
    assert list((server.data_dir / "incoming").iterdir()) == []
    folders = {p.name for p in (server.data_dir / "captures").iterdir()}
    assert folders == expected_ids, folders


def test_upload_size_limit(tmp_path):
    with Server(tmp_path / "data", env={"WIRELENS_MAX_UPLOAD_BYTES": "200000"}) as server:
        kept = upload(server, "small.pcap", SMALL)
        body, ctype = multipart("big.pcap", BIG)
        for chunked in (False, True):  # with a Content-Length (refused at once) and without
            status, answer = post_while_reading(server, "/api/captures", body, {"Content-Type": ctype}, chunked)
            assert status == 413 and "larger than the limit of 200000 bytes" in answer["error"], answer
        _library_is_clean(server, {kept["id"]})


def _stalled_upload(server: Server, name: str) -> tuple[socket.socket, bytes]:
    """Start an upload and stop half-way; returns the socket and the rest of the request."""
    body, ctype = multipart(name, SMALL)
    head = (f"POST /api/captures HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(head + body[: len(body) // 2])
    return sock, body[len(body) // 2 :]


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_concurrent_uploads_limit(tmp_path):
    with Server(tmp_path / "data", env={"WIRELENS_MAX_UPLOADS": "2"}) as server:
        stalled = [_stalled_upload(server, f"slow{i}.pcap") for i in range(2)]
        time.sleep(0.5)  # both are being received
        body, ctype = multipart("third.pcap", SMALL)
        status, headers, raw = server.request("POST", "/api/captures", body=body, headers={"Content-Type": ctype})
        answer = json.loads(raw)
        assert status == 429 and "Too many uploads at once" in answer["error"] and answer["detail"] == {"limit": 2}
        assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "5"
        ids = set()
        for sock, rest in stalled:
            sock.sendall(rest)
            status, capture = _answer(sock)
            sock.close()
            assert status == 201, capture
            ids.add(capture["id"])
        ids.add(upload(server, "fourth.pcap", SMALL)["id"])  # a slot is free again
        time.sleep(0.5)
        for cid in ids:
            deadline = time.monotonic() + 30
            while server.json("GET", f"/api/captures/{cid}")[1]["status"] == "indexing":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        _library_is_clean(server, ids)


def test_filter_length_limit(tmp_path):
    with Server(tmp_path / "data", env={"WIRELENS_MAX_FILTER_LENGTH": "200"}) as server:
        cid = upload(server, "small.pcap", SMALL)["id"]
        ok = "tcp.port == 80 || " * 5 + "udp"
        assert server.json("GET", f"/api/captures/{cid}/packets?" + urllib.parse.urlencode({"filter": ok}))[0] == 200
        long = "tcp.port == 80 || " * 12 + "udp"  # 219 characters
        status, answer = server.json("GET", f"/api/captures/{cid}/packets?" + urllib.parse.urlencode({"filter": long}))
        assert status == 400 and "200" in answer["error"] and answer["detail"]["filter"] == long, answer
        status, _, page = server.request("GET", f"/captures/{cid}?" + urllib.parse.urlencode({"filter": long}),
                                         headers={"Accept": "text/html"})
        assert status == 400 and b"Invalid filter" in page
        status, _, _ = server.request("GET", f"/api/captures/{cid}/packets?filter={'a' * 70000}")
        assert status in (400, 413, 414, 422), status


def test_live_capture_limits_are_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("WIRELENS_LIVE_MAX_BYTES", "123456")
    monkeypatch.setenv("WIRELENS_LIVE_MAX_SECONDS", "7")
    settings = Settings(data_dir=tmp_path)
    assert (settings.live_max_bytes, settings.live_max_seconds) == (123456, 7)
    assert Settings(data_dir=tmp_path, live_max_seconds=1).live_max_seconds == 1


def test_live_capture_stops_at_its_duration_limit(tmp_path):
    with Server(tmp_path / "data", env={"WIRELENS_LIVE_MAX_SECONDS": "2"}) as server:
        status, capture = server.json("POST", "/api/captures/live", body=json.dumps({"interface": "lo"}).encode(),
                                      headers={"Content-Type": "application/json"})
        assert status == 201 and capture["status"] == "capturing", capture
        deadline = time.monotonic() + 30
        while capture["status"] in ("capturing", "indexing"):
            assert time.monotonic() < deadline, "the live capture did not stop at its time limit"
            server.request("GET", "/api/health")  # some loopback traffic to capture
            time.sleep(0.2)
            capture = server.json("GET", f"/api/captures/{capture['id']}")[1]
        assert capture["status"] == "ready", capture


@contextlib.contextmanager
def small_disk(path: Path, size: str = "3m"):
    """A filesystem of ``size`` at ``path`` (tmpfs, as root); yields (data dir, preexec for the
    server). Without mount permission the server's file size is limited instead (RLIMIT_FSIZE):
    its writes then fail the same way, with an OSError, where a full disk would."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    limit = 3 << 20

    def preexec():
        if not mounted:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    try:
        yield path / "data", preexec
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_during_upload_is_a_clear_error_and_the_library_is_unharmed(tmp_path):
    with small_disk(tmp_path / "disk") as (data_dir, preexec):
        with Server(data_dir, preexec_fn=preexec) as server:
            kept = upload(server, "small.pcap", SMALL)
            body, ctype = multipart("big.pcap", BIG * 3)  # 4.5 MB onto a 3 MB disk
            status, answer = post_while_reading(server, "/api/captures", body, {"Content-Type": ctype})
            assert status == 507, (status, answer, server.output()[-2000:])
            assert "disk" in answer["error"].lower() and "full" in answer["error"].lower(), answer
            _library_is_clean(server, {kept["id"]})
            # The space came back: uploads work again.
            again = upload(server, "again.pcap", SMALL)
            _library_is_clean(server, {kept["id"], again["id"]})
            assert "Traceback" not in server.output()


def test_regex_filter_time_bound(tmp_path):
    from tests.security import hostile  # noqa: PLC0415

    # Packets whose payload makes a nested repetition backtrack for hours in a naive engine.
    frame = hostile.ether(hostile.SERVER_MAC, hostile.CLIENT_MAC, 0x0800, hostile.ipv4(
        hostile.CLIENT_IP, hostile.SERVER_IP, 17, hostile.udp(5000, 5001, b"a" * 1400 + b"!")))
    records = b"".join(struct.pack("<IIII", 1_700_000_000 + n, 0, len(frame), len(frame)) + frame
                       for n in range(20))
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1) + records
    with Server(tmp_path / "data") as server:
        cid = upload(server, "redos.pcap", data)["id"]
        text = 'frame matches "(a+)+$"'
        start = time.monotonic()
        status, answer = server.json("GET", f"/api/captures/{cid}/packets?" + urllib.parse.urlencode({"filter": text}),
                                     timeout=120)
        took = time.monotonic() - start
        assert status == 400 and answer["detail"]["filter"] == text, answer
        assert took < 30, f"the regular expression ran {took:.0f} s"
        assert server.json("GET", "/api/health")[0] == 200
