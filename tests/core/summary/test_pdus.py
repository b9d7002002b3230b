"""The per-flow pass of the index (app/core/pdus): the dissectors' length rules, the pass on
damaged and hostile captures, and its echo matching against the summary's own key.

The pass's effect on the packet list is measured against tshark in tests/core/test_rows_corpus.py.
"""
from __future__ import annotations

import logging
import random
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from app.core import pdus
from app.core.index import build_index
from app.core.pdus import scan, state
from app.core.summary import echo_key
from tests.core.summary.corpus import read_frames
from tests.core.test_rows_corpus import open_view
from tests.reference import CORPUS, capture_names

ONE_MORE, UNTIL_FIN = scan.ONE_MORE, scan.UNTIL_FIN


def _http(data: bytes, method: bytes | None = None, fin: bool = False) -> tuple[int, int]:
    conv = scan.HttpConversation()
    conv.method = method
    off, need, _ = scan.http(data, conv, fin)
    return off, need


@pytest.mark.parametrize("data, expected", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", (27, 0)),
    (b"GET / HTTP/1.1\r\nHost: a\r\n", (0, ONE_MORE)),                 # headers not ended
    (b"GET / HTT", (0, ONE_MORE)),                                      # no line yet
    (b"GET / HTTP/1.1\r", (0, ONE_MORE)),                               # CR may precede LF
    (b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n1234", (0, 6)),
    (b"POST / HTTP/1.1\ncontent-length:  4 \n\nabcdGET /", (41, ONE_MORE)),  # LF lines
    (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\n", (42, ONE_MORE)),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", (41, 0)),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", (0, UNTIL_FIN)),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n", (48, 0)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     (62, 0)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", (0, ONE_MORE)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", (51, 0)),  # bad size
    (b"\x16\x03\x01\x00\x05hello", (10, 0)),                  # binary: HTTP does not wait
    (b"some text line\r\nmore", (20, 0)),                      # Continuation: all of it
])
def test_http_lengths(data, expected):
    assert _http(data) == expected


def test_http_no_body_after_head_and_at_fin():
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
    assert _http(response, method=b"HEAD") == (len(response), 0)
    assert _http(response, fin=True) == (len(response), 0)
    assert _http(response) == (0, 500)


def test_http_chunk_walk_resumes():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    conv = scan.HttpConversation()
    body = head + b"4\r\nabcd\r\n10\r\n0123"
    off, need, chunk = scan.http(body, conv, False)
    assert (off, need) == (0, ONE_MORE) and chunk.pos == len(head) + 9
    more = body + b"456789abcdef\r\n0\r\n\r\n"
    # Resuming reads only from the saved position on.
    off, need, _ = scan.http(more[chunk.pos:], conv, False, chunk, chunk.pos)
    assert (off, need) == (len(more), 0)


def test_http_request_marks_connection():
    conv = scan.HttpConversation()
    scan.http(b"GET / HTTP/1.1\r\nHost: a\r\n", conv, False)
    assert not conv.seen                     # the line is read once the message is complete
    scan.http(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", conv, False)
    assert conv.seen and conv.method == b"HEAD"


@pytest.mark.parametrize("data, strict, expected", [
    (b"\x16\x03\x01\x00\x02ab\x17\x03\x03\x00\x01x", True, (13, 0)),
    (b"\x16\x03\x01\x00\x10abc", True, (0, 13)),
    (b"\x17\x03\x03\x00\x01x\x17\x03", True, (6, ONE_MORE)),
    (b"GET / HTTP/1.1\r\n", True, (16, 0)),                     # not a record: all of it
    (b"\x17\x7f\x7f\x00\x01x", True, (6, 0)),
    (b"\x17\x7f\x7f\x00\x01x", False, (6, 0)),
])
def test_tls_lengths(data, strict, expected):
    assert scan.tls(data, strict) == expected


def test_length_prefixed_and_smtp():
    assert scan.length_prefixed(b"\x00\x03abc\x00\x05ab") == (5, 3)
    assert scan.length_prefixed(b"\x00") == (0, ONE_MORE)
    conv = scan.SmtpConversation()
    assert scan.smtp(b"EHLO a\r\nMAIL FR", True, conv) == (8, ONE_MORE)
    assert scan.smtp(b"DATA\r\n", True, conv) == (6, 0) and conv.data
    assert scan.smtp(b"Subject: x\r\nno line end", True, conv) == (23, 0)   # mail text
    assert scan.smtp(b"body\r\n.\r\nQUIT\r\n", True, conv) == (15, 0) and not conv.data
    assert scan.smtp(b"250-a\r\n250 b", False, conv) == (7, ONE_MORE)


def test_http_heuristic():
    # As tshark 4.0.17 decides on a port no dissector is registered for.
    assert scan.http_heuristic(b"GET /x HTTP/1.1\r\nHost: a\r\n")
    assert scan.http_heuristic(b"GET /x HTTP/1.0\n\n")
    assert scan.http_heuristic(b"hello HTTP/1.9\r\n")              # claimed, yet no message
    assert scan.http_heuristic(b"http/1.1 200 OK\r\n")
    assert not scan.http_heuristic(b"hello HTTP/2.0\r\n")
    assert not scan.http_heuristic(b"HTTP/1.1\r\n")                # exactly the version
    assert not scan.http_heuristic(b"GET /x\r\n\r\n")
    assert not scan.http_heuristic(b"GET /x HTTP/1.1")               # no complete line
    assert not scan.http_heuristic(b"\r\nGET /x HTTP/1.0\r\n\r\n")


# -- whole captures -------------------------------------------------------------------------

def _ipv4_tcp(src: int, dst: int, sport: int, dport: int, seq: int, flags: int,
              payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 1, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
                     src, dst)
    return b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x02\x08\x00" + ip + tcp + payload


def _write_pcap(path: Path, frames: list[bytes]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k, frame in enumerate(frames):
        out.append(struct.pack("<IIII", k // 1000, k % 1000, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def _flow(src: int, sport: int, dport: int, payloads: list[bytes], isn: int = 1000) -> list[bytes]:
    """A client's segments after a handshake, sequence numbers following the payloads."""
    frames = [_ipv4_tcp(src, 0x0A000001, sport, dport, isn, 0x02, b""),
              _ipv4_tcp(0x0A000001, src, dport, sport, 5000, 0x12, b""),
              _ipv4_tcp(src, 0x0A000001, sport, dport, isn + 1, 0x10, b"")]
    seq = isn + 1
    for p in payloads:
        frames.append(_ipv4_tcp(src, 0x0A000001, sport, dport, seq, 0x18, p))
        seq += len(p)
    return frames


def _rows_of(path: Path, work: Path, caplog) -> list[dict]:
    with caplog.at_level(logging.ERROR, logger="wirelens"):
        view = open_view(path.name, work) if path.parent == CORPUS else None
        if view is None:
            from app.core.capture import CaptureView
            from app.core.library import CaptureRecord
            index = build_index(path, work / (path.name + ".index"))
            view = CaptureView(CaptureRecord(id="0" * 16, name=path.name, size_bytes=0,
                                             format="pcap", status="ready"), index)
        try:
            rows = view.rows(np.arange(view.total))
        finally:
            view.index.close()
    assert not [r for r in caplog.records if "could not be computed" in r.getMessage()]
    return rows


def test_hostile_flows(tmp_path, caplog):
    rng = random.Random(3)
    frames = []
    # Headers that never end, a chunked body with absurd sizes, TLS records claiming 64 KiB,
    # DNS length prefixes cut short, sequence numbers jumping around and overlapping.
    frames += _flow(0x0A000002, 40000, 80, [b"GET / HTTP/1.1\r\n"] + [b"X: " + b"y" * 1400] * 50)
    frames += _flow(0x0A000003, 40001, 80, [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"ffffffffff\r\nabc", b"7fffffff;x\r\n", b"\r\n0\r\n", b"-5\r\n\r\n"])
    frames += _flow(0x0A000004, 40002, 443, [b"\x17\x03\x03\xff\xff" + bytes(100)] * 20
                    + [b"\x16\x03", b"\x03", b"\x00"])
    frames += _flow(0x0A000005, 40003, 53, [b"\x00", b"\xff", b"\xff" * 300, b"\x00\x02ab"])
    frames += _flow(0x0A000006, 40004, 25, [b"EHLO", b" x", b"\r\nDATA\r\n", b"x" * 900,
                                           b"\r\n.\r\n", b"QUIT"])
    for k in range(200):
        seq = rng.choice([1, 2, 1000, 0xFFFFFFF0, rng.randrange(1 << 32)])
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        if k % 3 == 0:
            payload = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n" + payload
        frames.append(_ipv4_tcp(0x0A000007, 0x0A000001, 40005, 8080, seq, 0x18, payload))
    rows = _rows_of(_write_pcap(tmp_path / "hostile.pcap", frames), tmp_path, caplog)
    assert len(rows) == len(frames)
    assert rows[4]["protocol"] == "TCP" and rows[4]["info"].startswith("GET / HTTP/1.1 ")


def test_buffered_bytes_stay_within_budget(tmp_path, monkeypatch):
    # Connections whose HTTP headers never end make the pass keep their bytes for the
    # dissector (8 MiB here); the budget caps what is kept in all, and a connection over it is
    # still taken to wait for its headers.
    frames = []
    for c in range(24):
        frames += _flow(0x0B000000 + c, 41000 + c, 80,
                        [b"GET / HTTP/1.1\r\n"] + [b"X" * 1400] * 250)
    path = _write_pcap(tmp_path / "headers.pcap", frames)
    peaks = {}
    for budget in (0, 1 << 20):
        monkeypatch.setattr(state, "MAX_BUFFERED", budget)
        tracemalloc.start()
        index = build_index(path, tmp_path / f"index{budget}")
        peaks[budget] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        roles = index["pdu_role"][index["pl_len"] > 1000]
        assert (roles & pdus.ROLE_SEGMENT).all() and not (roles & pdus.ROLE_COMPLETE).any()
        index.close()
    assert peaks[1 << 20] - peaks[0] < 3 << 20


@pytest.mark.parametrize("name", ["many-protocols.pcap", "206_example_b.pcap", "sll.pcap",
                                  "tls_ecdhe.pcap", "ip4_fragments.pcap", "quic_chromium.pcap"])
def test_damaged_payloads_never_raise(name, tmp_path, caplog):
    """Random bytes in the transport payloads (headers intact, so flows stay flows)."""
    original = build_index(CORPUS / name, tmp_path / "original")
    raw = bytearray((CORPUS / name).read_bytes())
    rng = random.Random(name)
    has = np.flatnonzero(original["pl_len"] > 0)
    for i in has.tolist():
        start = int(original["offset"][i]) + int(original["pl_off"][i])
        end = min(start + int(original["pl_len"][i]),
                  int(original["offset"][i]) + int(original["caplen"][i]))
        for _ in range(rng.randrange(4)):
            if end > start:
                raw[rng.randrange(start, end)] = rng.randrange(256)
    original.close()
    path = tmp_path / name
    path.write_bytes(bytes(raw))
    rows = _rows_of(path, tmp_path / "work", caplog)
    assert len(rows) == len(read_frames(name))


def test_echo_matching_agrees_with_summary_key(tmp_path):
    """The vectorised matching gives each reply the latest earlier request with the summary's
    echo_key, on every corpus capture."""
    checked = 0
    for name in capture_names():
        index = build_index(CORPUS / name, tmp_path / name)
        requests: dict[tuple, int] = {}
        expected = np.full(index.n, -1)
        for i, (frame, linktype, _) in enumerate(read_frames(name)):
            key = echo_key(frame, linktype)
            if key is None:
                continue
            if key[0] == "request":
                requests[key[1]] = i
            elif key[1] in requests:
                expected[i] = requests[key[1]]
                checked += 1
        assert np.array_equal(index["echo_request"], expected), name
        index.close()
    assert checked > 50


def test_columns_of_an_empty_capture(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes((CORPUS / "dpkt_http.pcap").read_bytes()[:24])  # the file header only
    index = build_index(path, tmp_path / "index")
    cols = {"l4": np.zeros(0, np.uint8)}
    out = {**{name: index[name] for name in pdus.TCP_PDU_COLUMNS},
           **pdus.frame_columns(np.zeros(0, np.uint8), cols)}
    assert len(out) == 9 and all(len(v) == 0 for v in out.values())
