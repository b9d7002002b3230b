"""Packet-list columns against tshark 4.0.17 over every corpus capture.

TcpContext/FrameContext are built from the reference and the capture (see corpus.py), so these
figures measure the summary itself.  Run `python -m tests.core.summary.report` for the table of
mismatches.
"""
from __future__ import annotations

import random
import struct
import time
from collections import Counter

import pytest

from app.core.summary import (QUIC_LONG_HEADER_BIT, TCP_HEURISTIC_PREFIXES, TCP_PORTS,
                              UDP_HEURISTIC_PREFIXES, UDP_PORTS, TcpContext, classify_app,
                              summarize)
from tests.core.summary.corpus import (build_contexts, compare_capture, mismatch_kind,
                                       read_frames, tcp_payload)
from tests.reference import capture_names, reference_frames

# The contract asks for >= 0.95; the summary reaches 0.9997, so a regression shows up here.
PROTOCOL_MIN = 0.995
INFO_MIN = 0.995                 # measured 0.9997 (3 of 9099 frames differ, see KNOWN_INFO)
FRAME_PROTOCOLS_MIN = 0.995      # measured 0.998 (x509 certificate sub-protocols not listed)
NO_CONTEXT_PROTOCOL_MIN = 0.92   # measured 0.933 without any TCP/reassembly knowledge

# Source/Destination must match everywhere; (capture, frame) -> reason for an exception.
KNOWN_ADDRESS_DIFFERENCES: dict[tuple[str, int], str] = {}

# Frames whose Info differs, and why (all need state this module is not given).
KNOWN_INFO = {
    ("ftp_ipv4.pcap", 28): "FTP-DATA needs the PASV/LIST state of the FTP control connection",
    ("ftp_ipv4.pcap", 46): "FTP-DATA needs the PASV/RETR state of the FTP control connection",
    ("quic_chromium.pcap", 1): "QUIC Initial packet number and frames need decryption",
}


@pytest.fixture(scope="module")
def corpus():
    total, agree, rows, per_capture = 0, Counter(), [], {}
    for name in capture_names():
        n, a, r = compare_capture(name)
        per_capture[name] = n
        total += n
        agree.update(a)
        rows += r
    return total, agree, rows, per_capture


def _report(column: str, total: int, agree: Counter, rows) -> None:
    print(f"\n{column}: {agree[column]}/{total} = {agree[column] / total:.4%}")
    kinds = Counter(mismatch_kind(r) for r in rows if r.column == column)
    for kind, count in kinds.most_common(15):
        print(f"{count:6}  {kind}")


def test_every_capture_is_summarised(corpus):
    total, _, _, per_capture = corpus
    assert set(per_capture) == set(capture_names())
    assert total == sum(len(reference_frames(n)) for n in capture_names())


def test_protocol_column(corpus):
    total, agree, rows, _ = corpus
    _report("protocol", total, agree, rows)
    assert agree["protocol"] / total >= max(0.95, PROTOCOL_MIN)


@pytest.mark.parametrize("column", ["source", "destination"])
def test_address_columns_exact(corpus, column):
    _, _, rows, _ = corpus
    unexpected = [r for r in rows if r.column == column
                  and (r.capture, r.number) not in KNOWN_ADDRESS_DIFFERENCES]
    assert unexpected == []


def test_info_column(corpus):
    total, agree, rows, _ = corpus
    _report("info", total, agree, rows)
    assert agree["info"] / total >= INFO_MIN
    unexplained = [(r.capture, r.number) for r in rows
                   if r.column == "info" and (r.capture, r.number) not in KNOWN_INFO]
    assert unexplained == []


def test_frame_protocols(corpus):
    total, agree, rows, _ = corpus
    _report("protocols", total, agree, rows)
    assert agree["protocols"] / total >= FRAME_PROTOCOLS_MIN


def test_without_context():
    """No TcpContext at all: raw sequence numbers, addresses exact, Protocol still close."""
    total = agree = 0
    for name in capture_names():
        for (frame, linktype, wire_len), ref in zip(read_frames(name), reference_frames(name)):
            s = summarize(frame, linktype, wire_len=wire_len)
            total += 1
            agree += s.protocol == ref["_ws.col.Protocol"]
            assert (s.source, s.destination) == (ref["_ws.col.Source"] or "",
                                                 ref["_ws.col.Destination"] or "")
    assert agree / total >= NO_CONTEXT_PROTOCOL_MIN


def test_raw_sequence_numbers_without_context():
    (frame, linktype, _), ref = read_frames("testmyids.pcap")[0], reference_frames("testmyids.pcap")[0]
    assert summarize(frame, linktype).info == (
        f"54162 \u2192 80 [SYN] Seq={ref['tcp.seq_raw']} Win=64240 Len=0 MSS=1460 SACK_PERM "
        "TSval=1720316808 TSecr=0 WS=128")
    relative = summarize(frame, linktype, TcpContext(seq=0, window=64240))
    assert relative.info == ref["_ws.col.Info"]


def _transport(frame: bytes, ref: dict):
    """(transport, sport, dport, payload) of the frame's TCP/UDP layer, or None."""
    if ref["tcp.srcport"] is not None:
        payload = tcp_payload(frame, ref)
        return None if payload is None else ("tcp", int(ref["tcp.srcport"]),
                                             int(ref["tcp.dstport"]), payload)
    if ref["udp.srcport"] is not None and ref["udp.length"]:
        sport, dport, ulen = int(ref["udp.srcport"]), int(ref["udp.dstport"]), int(ref["udp.length"])
        at = frame.find(struct.pack("!HHH", sport, dport, ulen))
        return None if at < 0 else ("udp", sport, dport, frame[at + 8:at + ulen])
    return None


def _could_name(transport: str, sport: int, dport: int, payload: bytes) -> bool:
    """The documented pre-filter, from the exported constants only."""
    if transport == "tcp":
        return sport in TCP_PORTS or dport in TCP_PORTS or payload.startswith(TCP_HEURISTIC_PREFIXES)
    return (sport in UDP_PORTS or dport in UDP_PORTS or payload.startswith(UDP_HEURISTIC_PREFIXES)
            or bool(payload[:1]) and bool(payload[0] & QUIC_LONG_HEADER_BIT)
            or payload[:1] and payload[0] & 0x09 == 0x09 and payload[9:11] == b"Q0")


def test_classify_app_agrees_with_summary_and_prefilter():
    checked = 0
    for name in capture_names():
        for (frame, linktype, _), ref in zip(read_frames(name), reference_frames(name)):
            layers = ref["frame.protocols"].split(":")
            if "icmp" in layers or "gre" in layers or "data" == layers[-1] and "ip" in layers[-2:]:
                continue          # quoted, tunnelled or fragmented transport headers
            found = _transport(frame, ref)
            if found is None or not found[3]:
                continue
            transport, sport, dport, payload = found
            named = classify_app(transport, sport, dport, payload)
            expected = summarize(frame, linktype).protocol
            assert named == (None if expected in ("TCP", "UDP") else expected), (name, ref["frame.number"])
            if named is not None:
                assert _could_name(transport, sport, dport, payload), (name, ref["frame.number"])
            checked += 1
    assert checked > 3000


def test_hundred_rows_take_a_few_milliseconds():
    name = "many-protocols.pcap"
    frames, refs = read_frames(name)[:100], reference_frames(name)[:100]
    contexts = build_contexts(name, frames, refs)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for (frame, linktype, wire_len), (tctx, fctx) in zip(frames, contexts):
            summarize(frame, linktype, tctx, context=fctx, wire_len=wire_len)
        best = min(best, time.perf_counter() - start)
    assert best < 0.015


def test_damaged_frames_never_raise():
    rng = random.Random(7)
    for name in ("many-protocols.pcap", "sip_wireshark.pcap", "DnsPackets.pcap", "gre-sample.pcap",
                 "linux_dlt_sll2.pcap", "one_http_stream_rst.pcap", "quic_chromium.pcap"):
        for frame, linktype, _ in read_frames(name)[:40]:
            for cut in range(0, len(frame), 7):
                summarize(frame[:cut], linktype)
            for _ in range(10):
                damaged = bytearray(frame)
                for _ in range(3):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
                s = summarize(bytes(damaged), linktype)
                assert isinstance(s.info, str) and isinstance(s.protocols, str)
