"""TCP and UDP in the packet list: the "sport → dport [FLAGS] Seq=... Win=... Len=..." Info text,
TCP options, the analysis prefixes, reassembly marks, and the hand-off to application protocols.

Which segments reach an application dissector follows tshark 4.0: retransmitted and spurious
data is not dissected again, out-of-order data only as part of a reassembled PDU, keep-alive
bytes are plain data, and a segment of a PDU that continues later shows "[TCP segment of a
reassembled PDU]" with Protocol TCP.
"""
from __future__ import annotations

import struct
from functools import lru_cache

from .columns import Cols
from . import apps

_TCP_HEADER = struct.Struct("!HHIIHHHH")

ARROW = " \u2192 "
_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS")

SEGMENT_MARK = "[TCP segment of a reassembled PDU]"
REASSEMBLY_ERROR = "[Reassembly error, protocol TCP: New fragment overlaps old data (retransmission?)]"

# tcp.analysis.* names and the Info prefixes, in the order tshark prints them (each is
# prepended, so the text shows the last-printed first).
_PREFIX_ORDER = (
    ("reused_ports", "[TCP Port numbers reused] "),
    ("retransmission", "[TCP Retransmission] "),
    ("fast_retransmission", "[TCP Fast Retransmission] "),
    ("spurious_retransmission", "[TCP Spurious Retransmission] "),
    ("out_of_order", "[TCP Out-Of-Order] "),
    ("lost_segment", "[TCP Previous segment not captured] "),
    ("ack_lost_segment", "[TCP ACKed unseen segment] "),
    ("window_update", "[TCP Window Update] "),
    ("window_full", "[TCP Window Full] "),
    ("keep_alive", "[TCP Keep-Alive] "),
    ("keep_alive_ack", "[TCP Keep-Alive ACK] "),
    ("duplicate_ack", None),
    ("zero_window_probe", "[TCP ZeroWindowProbe] "),
    ("zero_window", "[TCP ZeroWindow] "),
    ("zero_window_probe_ack", "[TCP ZeroWindowProbeAck] "),
)


@lru_cache(maxsize=None)
def flags_text(flags: int) -> str:
    names = [name for bit, name in enumerate(_FLAG_NAMES) if flags & (1 << bit)]
    if flags & 0xE00:
        names.append("Reserved")
    return ", ".join(names) if names else "<None>"


def analysis_prefix(c: Cols, tctx) -> None:
    names = set(tctx.analysis)
    for name, text in _PREFIX_ORDER:
        if name not in names:
            continue
        if name == "retransmission" and names & {"fast_retransmission", "spurious_retransmission"}:
            continue          # those print their own, more specific prefix
        if name == "duplicate_ack":
            if tctx.dup_ack_num:
                c.prepend_fence(f"[TCP Dup ACK {tctx.dup_ack_frame}#{tctx.dup_ack_num}] ")
            continue
        c.prepend_fence(text)


def tcp(c: Cols, buf: bytes, ctx) -> None:
    c.add("tcp")
    c.set_protocol("TCP")
    if len(buf) < 20:
        if len(buf) >= 4:
            c.set_info(f"{int.from_bytes(buf[0:2], 'big')}{ARROW}{int.from_bytes(buf[2:4], 'big')}")
        raise IndexError("short TCP header")
    sport, dport, seq_raw, ack_raw, off_flags, win_raw, _, urg = _TCP_HEADER.unpack_from(buf)
    c.set_info(f"{sport}{ARROW}{dport}")
    hdr_len = (off_flags >> 12) * 4
    flags = off_flags & 0x0FFF
    seglen = len(buf) + c.reported - hdr_len
    if hdr_len < 20 or seglen < 0:
        c.append_info(f", bogus TCP header length ({hdr_len}, must be at least 20)")
        return
    tctx = ctx.tcp
    seq = tctx.seq if tctx is not None and tctx.seq is not None else seq_raw
    ack = tctx.ack if tctx is not None and tctx.ack is not None else ack_raw
    win = tctx.window if tctx is not None and tctx.window is not None else win_raw
    text = f" [{flags_text(flags)}] Seq={seq}"
    if flags & 0x10:
        text += f" Ack={ack}"
    text += f" Win={win}"
    if flags & 0x20:
        text += f" Urg={urg}"
    c.append_info(text + f" Len={seglen}")
    # SACK edges are shown relative to the peer's initial sequence number, which the relative
    # ack reveals; without it they stay raw.
    sack_base = (ack_raw - ack) & 0xFFFFFFFF if tctx is not None and tctx.ack is not None else 0
    _options(c, buf, hdr_len, sack_base)
    if tctx is not None:
        analysis_prefix(c, tctx)
    payload = buf[hdr_len:]
    _payload(c, payload, sport, dport, ctx)


def _options(c: Cols, buf: bytes, hdr_len: int, sack_base: int) -> None:
    off, end = 20, hdr_len
    while off < end:
        kind = buf[off]              # IndexError when the capture cut the header short
        if kind == 0:
            break
        if kind == 1:
            off += 1
            continue
        olen = buf[off + 1]
        if olen < 2 or off + olen > end:
            break                    # malformed option: tshark stops listing options here
        if off + olen > len(buf):
            raise IndexError("option cut by the capture")
        body = buf[off + 2:off + olen]
        if kind == 2 and olen == 4:
            c.append_info(f" MSS={int.from_bytes(body, 'big')}")
        elif kind == 3 and olen == 3:
            c.append_info(f" WS={1 << min(body[0], 14)}")
        elif kind == 4:
            c.append_info(" SACK_PERM")
        elif kind == 8 and olen == 10:
            c.append_info(f" TSval={int.from_bytes(body[0:4], 'big')} "
                          f"TSecr={int.from_bytes(body[4:8], 'big')}")
        elif kind == 5:
            for i in range(0, len(body) - 7, 8):
                le = (int.from_bytes(body[i:i + 4], "big") - sack_base) & 0xFFFFFFFF
                re = (int.from_bytes(body[i + 4:i + 8], "big") - sack_base) & 0xFFFFFFFF
                c.append_info(f" SLE={le} SRE={re}")
        elif kind == 34 or (kind == 254 and body[:2] == b"\xf9\x89"):
            # TCP Fast Open: an empty cookie is a request, otherwise the cookie itself
            c.append_info(" TFO=R" if olen == (2 if kind == 34 else 4) else " TFO=C")
        off += olen


_NOT_DISSECTED = {"retransmission", "spurious_retransmission", "out_of_order"}
_RETRANSMITTED = {"retransmission", "spurious_retransmission"}


def _payload(c: Cols, payload: bytes, sport: int, dport: int, ctx) -> None:
    tctx = ctx.tcp
    if tctx is not None:
        if tctx.reassembly_error:
            c.append_info(REASSEMBLY_ERROR)
            return
        if not payload:
            return
        names = set(tctx.analysis)
        if "fast_retransmission" not in names and names & _NOT_DISSECTED:
            # Out-of-order data still joins a pending PDU (and may complete it); on its own
            # it is not dissected, and retransmitted data never is.
            if names & _RETRANSMITTED or not (tctx.reassembled_pdu or tctx.app_data is not None):
                return
        if "keep_alive" in names:
            c.add("data")
            return
        if tctx.reassembled_pdu:
            pdu = tctx.app_data if tctx.app_data is not None else payload
            apps.tcp_segment_start(c, pdu, max(0, len(pdu) - len(payload)), sport, dport,
                                   tctx.pdu_dissected)
            c.set_protocol("TCP")
            c.append_sep(" ", SEGMENT_MARK)
            return
        if tctx.app_data is not None and len(tctx.app_data) > len(payload):
            ctx.carried = len(tctx.app_data) - len(payload)
            payload = tctx.app_data
    elif not payload:
        return
    if not apps.dissect_tcp_app(c, payload, sport, dport, ctx):
        c.add("data")


def udp(c: Cols, buf: bytes, ctx) -> None:
    c.add("udp")
    c.set_protocol("UDP")
    sport = int.from_bytes(buf[0:2], "big")
    dport = int.from_bytes(buf[2:4], "big")
    ulen = int.from_bytes(buf[4:6], "big")
    if ulen < 8:
        ulen = len(buf) + c.reported      # jumbograms / offloaded checksums carry 0 here
    c.set_info(f"{sport}{ARROW}{dport} Len={ulen - 8}")
    payload = buf[8:ulen]
    c.reported = min(c.reported, max(0, ulen - len(buf)))
    if len(buf) < 8:
        raise IndexError("short UDP header")
    if not payload:
        return
    if not apps.dissect_udp_app(c, payload, sport, dport, ctx):
        c.add("data")
