"""Runs the summary over every corpus capture and compares it with tshark's columns.

Context that a later per-flow pass will compute is derived here from the reference itself or
from the capture's bytes, so the summary is measured on its own:
  * TcpContext from tshark's tcp.seq/ack/nxtseq/window_size/analysis.* fields;
  * reassembled_pdu / reassembly_error from tshark's Info ("[TCP segment of a reassembled
    PDU]" with Protocol TCP, "[Reassembly error ...]");
  * app_data by concatenating the payloads of the segments of a PDU (for TLS the PDU start is
    found by walking the records of the direction's byte stream);
  * tls_version with summary.negotiated_version on the connection's Server Hello;
  * http_seen from tshark's http.request.method on an earlier frame of the stream;
  * conversation ("quic"/"gquic") once a packet of the UDP conversation was named so, and
    quic_dcid_len from the SCIDs of the QUIC long headers;
  * request_in with summary.echo_key; ip_payload by reassembling IPv4/IPv6 fragments.

`python -m tests.core.summary.report` prints the agreement figures and the mismatch table.
"""
from __future__ import annotations

import bisect
import re
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass

from scapy.utils import RawPcapNgReader, RawPcapReader

from app.core.summary import (FrameContext, TcpContext, echo_key, negotiated_version,
                              summarize)
from app.core.summary.tls import quic_connection_ids
from tests.reference import CORPUS, capture_names, reference_frames

COLUMNS = {"protocol": "_ws.col.Protocol", "info": "_ws.col.Info", "source": "_ws.col.Source",
           "destination": "_ws.col.Destination", "protocols": "frame.protocols"}
ANALYSIS = ("retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
            "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window",
            "zero_window_probe", "zero_window_probe_ack", "window_update", "window_full",
            "keep_alive", "keep_alive_ack", "reused_ports")
SEGMENT_MARK = "[TCP segment of a reassembled PDU]"
HTTP_START = re.compile(rb"HTTP/1\.[01] \d{3}|[A-Z-]+ \S+ HTTP/1\.[01]\r?\n")
TLS_PORTS = {443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061}


def read_frames(name: str) -> list[tuple[bytes, int, int]]:
    """(bytes, link type, wire length) of every packet; pcapng link types per interface."""
    path = str(CORPUS / name)
    out = []
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"\x0a\x0d\x0d\x0a":
        for data, meta in RawPcapNgReader(path):
            out.append((data, meta.linktype, meta.wirelen))
    else:
        reader = RawPcapReader(path)
        for data, meta in reader:
            out.append((data, reader.linktype, meta.wirelen))
    return out


def _int(v) -> int | None:
    return None if v is None else int(v, 0) if isinstance(v, str) else int(v)


def tcp_context(ref: dict) -> TcpContext | None:
    if ref["tcp.seq"] is None:
        return None
    info = ref["_ws.col.Info"]
    return TcpContext(
        seq=_int(ref["tcp.seq"]), ack=_int(ref["tcp.ack"]), nxtseq=_int(ref["tcp.nxtseq"]),
        window=_int(ref["tcp.window_size"]),
        analysis=[a for a in ANALYSIS if ref.get("tcp.analysis." + a)],
        dup_ack_frame=_int(ref["tcp.analysis.duplicate_ack_frame"]),
        dup_ack_num=_int(ref["tcp.analysis.duplicate_ack_num"]),
        reassembled_pdu=ref["_ws.col.Protocol"] == "TCP" and info.endswith(SEGMENT_MARK),
        reassembly_error="[Reassembly error" in info,
    )


def tcp_payload(frame: bytes, ref: dict) -> bytes | None:
    """The TCP payload, located by the header's ports and raw sequence number."""
    sport, dport, seq = (_int(ref[k]) for k in ("tcp.srcport", "tcp.dstport", "tcp.seq_raw"))
    if seq is None:
        return None
    at = frame.find(struct.pack("!HHI", sport, dport, seq))
    if at < 0:
        return None
    start = at + (frame[at + 12] >> 4) * 4
    return frame[start:start + (_int(ref["tcp.len"]) or 0)]


class _Direction:
    """The byte stream of one direction of a TCP connection, by relative sequence number."""

    def __init__(self) -> None:
        self.starts: list[int] = []          # sorted segment starts
        self.data: dict[int, bytes] = {}
        self.run_start: int | None = None
        self.run_end = 0
        self.records: list[int] = []         # TLS record starts found so far
        self.next_record: int | None = None

    def add(self, seq: int, data: bytes) -> None:
        if data and seq not in self.data:
            bisect.insort(self.starts, seq)
            self.data[seq] = data
            if self.next_record is None:
                self.next_record = seq

    def assemble(self, start: int, end: int) -> bytes | None:
        out = bytearray()
        pos = start
        while pos < end:
            i = bisect.bisect_right(self.starts, pos) - 1
            if i < 0:
                return None
            s = self.starts[i]
            d = self.data[s]
            if pos >= s + len(d):
                return None
            out += d[pos - s:end - s]
            pos = s + len(d)
        return bytes(out)

    def tls_record_start(self, seq: int) -> int:
        """Start of the TLS record containing seq, walking records from the stream start."""
        while self.next_record is not None and self.next_record <= seq:
            head = self.assemble(self.next_record, self.next_record + 5)
            if head is None or not 20 <= head[0] <= 24 or head[1] != 3:
                break
            self.records.append(self.next_record)
            self.next_record += 5 + int.from_bytes(head[3:5], "big")
        if self.next_record is not None and self.next_record > seq and self.records:
            i = bisect.bisect_right(self.records, seq) - 1
            if i >= 0:
                return self.records[i]
        return seq


def build_contexts(name: str, frames: list[tuple[bytes, int, int]], refs: list[dict]):
    """(TcpContext | None, FrameContext) per frame."""
    streams: dict[tuple, _Direction] = defaultdict(_Direction)
    tls_versions: dict[str, int] = {}
    requests: dict[tuple, int] = {}
    conversations: dict[str, str] = {}
    scids: dict[tuple, int] = {}
    fragments: dict[tuple, dict[int, bytes]] = defaultdict(dict)
    http_requests: set[str] = set()
    out = []
    for (frame, linktype, _), ref in zip(frames, refs):
        number = int(ref["frame.number"])
        fctx = FrameContext()
        key = echo_key(frame, linktype)
        if key is not None:
            if key[0] == "request":
                requests[key[1]] = number
            else:
                fctx.request_in = requests.get(key[1])
        fctx.ip_payload = _reassemble_ip(frame, linktype, ref, fragments)
        _udp_conversation(fctx, frame, linktype, ref, conversations, scids)
        tctx = tcp_context(ref)
        if tctx is not None:
            _tcp_stream_context(tctx, frame, ref, streams, tls_versions)
            # HTTP calls other data "Continuation" once it dissected a request on the stream.
            tctx.http_seen = ref["tcp.stream"] in http_requests
            if ref["http.request.method"] is not None:
                http_requests.add(ref["tcp.stream"])
        out.append((tctx, fctx))
    return out


def _tcp_stream_context(tctx: TcpContext, frame: bytes, ref: dict, streams, tls_versions) -> None:
    payload = tcp_payload(frame, ref)
    stream = ref["tcp.stream"]
    sport, dport = int(ref["tcp.srcport"]), int(ref["tcp.dstport"])
    direction = streams[(stream, sport, dport)]
    is_tls = sport in TLS_PORTS or dport in TLS_PORTS
    if payload and tctx.seq is not None:
        direction.add(tctx.seq, payload)
        skip = {"retransmission", "spurious_retransmission", "out_of_order", "keep_alive"}
        if tctx.reassembled_pdu:
            if HTTP_START.match(payload):
                direction.run_start = None        # a new HTTP message starts a new PDU
            if direction.run_start is None:
                direction.run_start = direction.tls_record_start(tctx.seq) if is_tls else tctx.seq
            if direction.run_start < tctx.seq:
                tctx.app_data = direction.assemble(direction.run_start, tctx.seq + len(payload))
            direction.run_end = max(direction.run_end, tctx.seq + len(payload))
        elif direction.run_start is not None and tctx.seq > direction.run_end:
            pass      # beyond a gap: dissected on its own, the pending PDU stays open
        elif not skip & set(tctx.analysis) or "fast_retransmission" in tctx.analysis:
            # The PDU completing here started with the first segment of the run of
            # "segment of a reassembled PDU" frames; TLS records may also start inside the
            # previous dissected segment, which the record walk finds.
            start = direction.run_start
            if start is None:
                start = direction.tls_record_start(tctx.seq) if is_tls else tctx.seq
            if start < tctx.seq:
                tctx.app_data = direction.assemble(start, tctx.seq + len(payload))
            direction.run_start = None
        if stream not in tls_versions and sport in TLS_PORTS:
            version = negotiated_version(tctx.app_data or payload)
            if version is not None:
                tls_versions[stream] = version
    tctx.tls_version = tls_versions.get(stream)


def _udp_conversation(fctx: FrameContext, frame: bytes, linktype: int, ref: dict,
                      conversations: dict, scids: dict) -> None:
    """Conversation protocol and QUIC connection-ID length from earlier packets."""
    stream = ref.get("udp.stream")
    if stream is None:
        return
    fctx.conversation = conversations.get(stream)
    src = (ref["ip.src"] or ref["ipv6.src"], ref["udp.srcport"])
    dst = (ref["ip.dst"] or ref["ipv6.dst"], ref["udp.dstport"])
    fctx.quic_dcid_len = scids.get((stream, dst))
    s = summarize(frame, linktype, context=fctx)
    if s.protocol in ("QUIC", "GQUIC") and stream not in conversations:
        conversations[stream] = s.protocol.lower()
    payload = frame[-(int(ref["udp.length"]) - 8):] if ref["udp.length"] else b""
    ids = quic_connection_ids(payload)
    if ids is not None:
        scids[(stream, src)] = len(ids[1])


def _reassemble_ip(frame: bytes, linktype: int, ref: dict, fragments) -> bytes | None:
    """Reassembled payload when this frame completes a fragmented IPv4/IPv6 datagram."""
    if linktype != 1:
        return None
    off = 14
    etype = int.from_bytes(frame[12:14], "big")
    while etype == 0x8100:
        etype = int.from_bytes(frame[off + 2:off + 4], "big")
        off += 4
    if etype == 0x0800:
        ip = frame[off:]
        flags = int.from_bytes(ip[6:8], "big")
        more, offset = flags & 0x2000, (flags & 0x1FFF) * 8
        if not more and not offset:
            return None
        ihl = (ip[0] & 15) * 4
        key = (ip[12:20], ip[4:6], ip[9])
        data = ip[ihl:int.from_bytes(ip[2:4], "big")]
    elif etype == 0x86DD and frame[off + 6] == 44:
        ip = frame[off:]
        fh = ip[40:48]
        fo = int.from_bytes(fh[2:4], "big")
        more, offset = fo & 1, fo & 0xFFF8
        key = (ip[8:40], fh[4:8])
        data = ip[48:40 + int.from_bytes(ip[4:6], "big")]
    else:
        return None
    parts = fragments[key]
    parts[offset] = data
    if more:
        parts["more"] = parts.get("more", b"")
        return None
    parts["last"] = offset + len(data)
    whole = bytearray()
    pos = 0
    while pos < parts["last"]:
        piece = parts.get(pos)
        if piece is None:
            return None
        whole += piece
        pos += len(piece)
    del fragments[key]
    return bytes(whole)


@dataclass
class Row:
    capture: str
    number: int
    column: str
    expected: str
    got: str


def compare_capture(name: str):
    """(frame count, agreeing count per column, mismatch rows) for one capture."""
    frames = read_frames(name)
    refs = reference_frames(name)
    assert len(frames) == len(refs), name
    contexts = build_contexts(name, frames, refs)
    agree = Counter()
    rows: list[Row] = []
    for (frame, linktype, wire_len), ref, (tctx, fctx) in zip(frames, refs, contexts):
        s = summarize(frame, linktype, tctx, context=fctx, wire_len=wire_len)
        got = {"protocol": s.protocol, "info": s.info, "source": s.source,
               "destination": s.destination, "protocols": s.protocols}
        for col, field in COLUMNS.items():
            expected = ref[field] or ""
            if got[col] == expected:
                agree[col] += 1
            else:
                rows.append(Row(name, int(ref["frame.number"]), col, expected, got[col]))
    return len(frames), agree, rows


def compare_corpus():
    total = 0
    agree = Counter()
    rows: list[Row] = []
    for name in capture_names():
        n, a, r = compare_capture(name)
        total += n
        agree.update(a)
        rows += r
    return total, agree, rows


def mismatch_kind(row: Row) -> str:
    """A short, number-free description of how two texts differ (for the report table)."""
    exp, got = row.expected, row.got
    i = 0
    while i < min(len(exp), len(got)) and exp[i] == got[i]:
        i += 1
    start = max(0, i - 12)

    def norm(text: str) -> str:
        return re.sub(r"[0-9a-f]{4,}|\d+", "N", text[start:i + 24])
    return f"{row.column}: …{norm(exp)!r} vs …{norm(got)!r}"
