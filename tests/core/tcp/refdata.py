"""Builds TcpSegments from the tshark references of the corpus, for the comparison tests.

Header values come from the reference itself; only the window-scale option (absent from the
reference fields) is read from the capture: the frame's bytes are searched for the TCP header whose
ports, seq and ack the reference gives, and its options are parsed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scapy.utils import RawPcapReader

from app.core.tcp import TcpSegments
from tests.reference import CORPUS, capture_names, reference_frames

ANALYSIS = [
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
    "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
    "zero_window_probe_ack", "window_update", "window_full", "keep_alive", "keep_alive_ack",
    "reused_ports", "flags",
]


def ws_option(frame: bytes, sport: int, dport: int, seq: int, ack: int) -> int:
    """Window-scale shift of the first TCP header in ``frame`` with these values, -1 if none."""
    at = frame.find(struct.pack(">HHII", sport, dport, seq, ack))
    if at < 0 or at + 13 > len(frame):
        return -1
    hlen = (frame[at + 12] >> 4) * 4
    opts = frame[at + 20:at + hlen]
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2 or i + opts[i + 1] > len(opts):
            break  # cut short or malformed: tshark stops here too
        if kind == 3 and opts[i + 1] == 3:
            return opts[i + 2]
        i += opts[i + 1]
    return -1


@dataclass
class RefCapture:
    """Segments of one capture plus the reference columns they are compared with."""

    name: str
    seg: TcpSegments
    src: np.ndarray  # address ids
    dst: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    ref: dict[str, list]  # tshark field -> values per segment (None = absent, bool = presence)


def _int(v, default=0):
    return default if v is None else int(v)


@lru_cache(maxsize=None)
def load(name: str) -> RefCapture | None:
    frames = [f for f in reference_frames(name) if f["tcp.srcport"] is not None]
    if not frames:
        return None
    wanted = {int(f["frame.number"]): f for f in frames}
    ws = {}
    for no, (data, _meta) in enumerate(RawPcapReader(str(CORPUS / name)), start=1):
        f = wanted.get(no)
        if f is not None:
            ws[no] = ws_option(data, int(f["tcp.srcport"]), int(f["tcp.dstport"]),
                               int(f["tcp.seq_raw"]), int(f["tcp.ack_raw"]))
    addr_ids: dict[str, int] = {}
    src = [addr_ids.setdefault(f["ip.src"] or f["ipv6.src"], len(addr_ids)) for f in frames]
    dst = [addr_ids.setdefault(f["ip.dst"] or f["ipv6.dst"], len(addr_ids)) for f in frames]
    sport = [int(f["tcp.srcport"]) for f in frames]
    dport = [int(f["tcp.dstport"]) for f in frames]
    first: dict[int, tuple] = {}
    direction = []
    for i, f in enumerate(frames):
        s = int(f["tcp.stream"])
        a = first.setdefault(s, (src[i], sport[i]))
        direction.append(0 if a == (src[i], sport[i]) else 1)
    seg = TcpSegments(
        number=[int(f["frame.number"]) for f in frames],
        time=[float(f["frame.time_relative"]) for f in frames],
        stream=[int(f["tcp.stream"]) for f in frames],
        direction=direction,
        seq_raw=[int(f["tcp.seq_raw"]) for f in frames],
        ack_raw=[int(f["tcp.ack_raw"]) for f in frames],
        flags=[int(f["tcp.flags"], 16) for f in frames],
        payload_len=[_int(f["tcp.len"]) for f in frames],
        window_value=[int(f["tcp.window_size_value"]) for f in frames],
        ws_option=[ws.get(int(f["frame.number"]), -1) for f in frames],
        analyzable=[f["tcp.len"] is not None for f in frames],
    )
    cols = ["frame.number", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.nxtseq", "tcp.window_size",
            "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame", "_ws.col.Info"]
    ref = {c: [f[c] for f in frames] for c in cols}
    for a in ANALYSIS:
        ref["tcp.analysis." + a] = [bool(f["tcp.analysis." + a]) for f in frames]
    return RefCapture(name, seg, np.array(src), np.array(dst), np.array(sport), np.array(dport),
                      ref)


def tcp_captures() -> list[str]:
    """Corpus captures whose reference has at least one TCP segment."""
    return [n for n in capture_names() if load(n) is not None]
