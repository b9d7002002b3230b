"""What the summary and the protocol tree of a packet need from earlier packets, read from the
index: TCP relative numbers and analysis flags, TCP reassembly (``app.core.pdus``), IP
reassembly, ICMP echo matching and QUIC conversations.

Reassembled bytes are never stored: they are read back from the capture here, for the one row
being shown, from the packets the PDU pass recorded.
"""
from __future__ import annotations

import numpy as np

from app.core import layers
from app.core.indexview import CaptureIndex
from app.core.pdus import (ROLE_COMPLETE, ROLE_ERROR, ROLE_HTTP_SEEN, ROLE_HTTP_UNSEEN,
                           ROLE_MEMBER, ROLE_READ, ROLE_SEGMENT)
from app.core.pdus.frames import CONV_GQUIC, CONV_QUIC, fragment_facts
from app.core.summary.context import FrameContext, TcpContext
from app.core.tcp.flags import flag_names

# A completed PDU's bytes are rebuilt in full up to HEAD; of a bigger one the middle is left as
# zeros up to FULL_LIMIT (lengths stay right: the summary reads headers and the start of a
# body, and a message that may follow it), and left out beyond.  Of a PDU still incomplete the
# summary reads only the first line.
HEAD = 64 * 1024
SEGMENT_HEAD = 8 * 1024
FULL_LIMIT = 1 << 20
TREE_LIMIT = 16 << 20           # the protocol tree shows the reassembled bytes themselves
WINDOW = 4096          # packets examined at a time when looking for a PDU's segments


def context(idx: CaptureIndex, i: int, reassembly: bool = False) -> TcpContext | None:
    """Relative numbers and analysis flags of packet ``i``, or None when it is not TCP.

    reassembly: also what the PDU pass found (reassembled PDU bytes, TLS version, ...) as the
    packet-list summary takes it; the protocol tree gets its share through ``as_dict``."""
    if int(idx["l4"][i]) != 6 or "tcp_seq" not in idx.cols:
        return None
    dup_num = int(idx["tcp_dup_num"][i])
    dup_frame = int(idx["tcp_dup_frame"][i])
    ctx = TcpContext(
        seq=int(idx["tcp_seq"][i]),
        ack=int(idx["tcp_ack"][i]),
        nxtseq=int(idx["tcp_nxtseq"][i]),
        window=int(idx["tcp_window"][i]),
        analysis=flag_names(int(idx["tcp_analysis"][i])),
        dup_ack_frame=dup_frame if dup_frame > 0 else None,
        dup_ack_num=dup_num if dup_num > 0 else None,
    )
    if reassembly and "pdu_role" in idx.cols:
        role = int(idx["pdu_role"][i])
        version = int(idx["tls_version"][i])
        ctx.tls_version = version or None
        ctx.reassembly_error = bool(role & ROLE_ERROR)
        ctx.reassembled_pdu = bool(role & ROLE_SEGMENT)
        ctx.http_seen = (True if role & ROLE_HTTP_SEEN else False if role & ROLE_HTTP_UNSEEN
                         else None)
        first = int(idx["pdu_first"][i])
        start = int(idx["pdu_seq"][i])
        if role & ROLE_SEGMENT:
            # Only a dissector that read the PDU here shows something of it: its first line.
            ctx.pdu_dissected = bool(role & ROLE_READ)
            if ctx.pdu_dissected and first >= 0 and start != ctx.seq:
                ctx.app_data = pdu_bytes(idx, i, first, start, SEGMENT_HEAD)
        elif role & ROLE_COMPLETE and first >= 0 and start != ctx.seq:
            ctx.app_data = pdu_bytes(idx, i, first, start, HEAD)
        tail = int(idx["pdu_tail"][i]) if "pdu_tail" in idx.cols else 0
        if tail and not role & ROLE_SEGMENT:
            length = len(ctx.app_data) if ctx.app_data is not None else int(idx["pl_len"][i])
            ctx.pdu_tail = max(0, length - tail)
    return ctx


def frame_context(idx: CaptureIndex, i: int) -> FrameContext | None:
    """IP reassembly, echo matching and QUIC conversation facts of packet ``i`` (None: none)."""
    if "echo_request" not in idx.cols:
        return None
    request = int(idx["echo_request"][i])
    conv = int(idx["udp_conv"][i])
    first = int(idx["ip_frag_first"][i])
    if request < 0 and conv == 0 and first < 0:
        return None
    return FrameContext(
        ip_payload=datagram_payload(idx, i, first) if first >= 0 else None,
        request_in=request + 1 if request >= 0 else None,
        conversation={CONV_QUIC: "quic", CONV_GQUIC: "gquic"}.get(conv),
        quic_dcid_len=int(idx["quic_dcid"][i]) or None,
    )


def contexts(idx: CaptureIndex, i: int) -> tuple[TcpContext | None, FrameContext | None]:
    """Everything ``summarize`` takes besides the frame."""
    return context(idx, i, reassembly=True), frame_context(idx, i)


def _payload(idx: CaptureIndex, j: int) -> bytes:
    off = int(idx["pl_off"][j])
    frame = idx.frame(j)
    return frame[off:off + int(idx["pl_len"][j])] if off >= 0 else b""


def pdu_bytes(idx: CaptureIndex, i: int, first: int, start: int, head: int) -> bytes:
    """The PDU's bytes from sequence number ``start`` through the end of packet ``i``'s payload,
    of which at most ``head`` bytes before that payload (see HEAD).

    The segments are those of the same direction the PDU pass put into a PDU, from packet
    ``first`` on."""
    payload = _payload(idx, i)
    end = int(idx["tcp_seq"][i]) + len(payload)
    total = end - start
    if total <= len(payload) or total > 1 << 32:
        return payload
    head_end = start + min(total - len(payload), head)
    buf = bytearray(head_end - start)
    stream, direction = int(idx["tcp_stream"][i]), int(idx["tcp_dir"][i])
    covered = 0
    lo = first
    while lo < i and covered < len(buf):
        hi = min(i, lo + WINDOW)
        sl = slice(lo, hi)
        seqs = idx["tcp_seq"][sl].astype(np.int64)
        ends = seqs + idx["pl_len"][sl]
        rows = np.flatnonzero((idx["tcp_stream"][sl] == stream) & (idx["tcp_dir"][sl] == direction)
                              & ((idx["pdu_role"][sl] & ROLE_MEMBER) != 0)
                              & (seqs < head_end) & (ends > start))
        for j, s in zip((rows + lo).tolist(), seqs[rows].tolist()):
            data = _payload(idx, j)
            a, b = max(s, start), min(s + len(data), head_end)
            if a < b:
                buf[a - start:b - start] = data[a - s:b - s]
                covered = max(covered, b - start)
        lo = hi
    middle = total - len(payload) - len(buf)
    if middle > 0 and head == HEAD and total <= FULL_LIMIT:
        buf += bytes(middle)
    return bytes(buf) + payload


def datagram_payload(idx: CaptureIndex, i: int, first: int) -> bytes | None:
    """The payload of the IP datagram that packet ``i`` completes, from its fragments."""
    hdr = int(idx["ip_hdr"][i])
    facts = fragment_facts(idx.frame(i), hdr) if hdr >= 0 else None
    if facts is None:
        return None
    key = (facts[0], facts[1], facts[5], int(idx["ip_src"][i]), int(idx["ip_dst"][i]))
    parts: dict[int, bytes] = {}
    total = None
    for j in range(first, i + 1):
        if j != i and not int(idx["flags"][j]) & layers.F_FRAGMENT:
            continue
        h = int(idx["ip_hdr"][j])
        if h < 0 or (int(idx["ip_src"][j]), int(idx["ip_dst"][j])) != key[3:]:
            continue
        frame = idx.frame(j)
        f = fragment_facts(frame, h)
        if f is None or (f[0], f[1], f[5]) != key[:3]:
            continue
        version, _, offset, length, more, _, begin = f
        parts.setdefault(offset, frame[begin:begin + max(0, length)])
        if not more:
            total = offset + max(0, length)
    if total is None:
        return None
    whole = bytearray()
    for offset in sorted(parts):
        if offset > len(whole):
            return None
        whole[offset:offset + len(parts[offset])] = parts[offset]
    return bytes(whole[:total])


def as_dict(ctx: TcpContext | None, idx: CaptureIndex, i: int) -> dict | None:
    """The same facts as the dissector's ``tcp_context`` argument takes them, with what the
    PDU pass found: ``reassembled_pdu`` (the segment's PDU completes later) and ``app_data``
    (the whole reassembled PDU, in the segment completing it)."""
    if ctx is None:
        return None
    out = {
        "seq": ctx.seq, "ack": ctx.ack, "nxtseq": ctx.nxtseq,
        "stream": int(idx["tcp_stream"][i]), "analysis": list(ctx.analysis),
    }
    if "pdu_role" in idx.cols:
        role = int(idx["pdu_role"][i])
        first, start = int(idx["pdu_first"][i]), int(idx["pdu_seq"][i])
        if role & ROLE_SEGMENT:
            out["reassembled_pdu"] = True
        elif role & ROLE_COMPLETE and first >= 0 and start != ctx.seq:
            out["app_data"] = pdu_bytes(idx, i, first, start, TREE_LIMIT)
    return out
