"""Bit values of the TCP analysis mask and the tshark fields each bit stands for.

The bits are Wireshark's own ``TCP_A_*`` values (epan/dissectors/packet-tcp.c), so a mask read
from :func:`app.core.tcp.analyze` matches Wireshark's ``tcp_acked.flags``.  Display filters need the
*field* view: tshark adds ``tcp.analysis.retransmission`` for fast and spurious retransmissions too,
and ``tcp.analysis.flags`` whenever any bit is set (window updates included).
"""
from __future__ import annotations

import numpy as np

RETRANSMISSION = 0x0001
LOST_SEGMENT = 0x0002  # "previous segment not captured"
ACK_LOST_SEGMENT = 0x0004  # "ACKed unseen segment"
KEEP_ALIVE = 0x0008
DUPLICATE_ACK = 0x0010
ZERO_WINDOW = 0x0020
ZERO_WINDOW_PROBE = 0x0040
ZERO_WINDOW_PROBE_ACK = 0x0080
KEEP_ALIVE_ACK = 0x0100
OUT_OF_ORDER = 0x0200
FAST_RETRANSMISSION = 0x0400
WINDOW_UPDATE = 0x0800
WINDOW_FULL = 0x1000
REUSED_PORTS = 0x2000
SPURIOUS_RETRANSMISSION = 0x4000

# Short name (tshark field without "tcp.analysis.") -> bit.
FLAG_BITS: dict[str, int] = {
    "retransmission": RETRANSMISSION,
    "fast_retransmission": FAST_RETRANSMISSION,
    "spurious_retransmission": SPURIOUS_RETRANSMISSION,
    "out_of_order": OUT_OF_ORDER,
    "lost_segment": LOST_SEGMENT,
    "ack_lost_segment": ACK_LOST_SEGMENT,
    "duplicate_ack": DUPLICATE_ACK,
    "zero_window": ZERO_WINDOW,
    "zero_window_probe": ZERO_WINDOW_PROBE,
    "zero_window_probe_ack": ZERO_WINDOW_PROBE_ACK,
    "window_update": WINDOW_UPDATE,
    "window_full": WINDOW_FULL,
    "keep_alive": KEEP_ALIVE,
    "keep_alive_ack": KEEP_ALIVE_ACK,
    "reused_ports": REUSED_PORTS,
}

ALL_BITS = 0
for _bit in FLAG_BITS.values():
    ALL_BITS |= _bit

# tshark field -> bits whose presence makes the field present.  Fast and spurious retransmissions
# also raise the plain retransmission expert item, hence its wider mask.
FIELD_MASKS: dict[str, int] = {f"tcp.analysis.{name}": bit for name, bit in FLAG_BITS.items()}
FIELD_MASKS["tcp.analysis.retransmission"] = (
    RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION
)
FIELD_MASKS["tcp.analysis.flags"] = ALL_BITS

# Order in which Wireshark prepends its Info column tags (last prepended ends up first).
_INFO_TAGS: list[tuple[int, str]] = [
    (REUSED_PORTS, "TCP Port numbers reused"),
    (RETRANSMISSION, "TCP Retransmission"),
    (FAST_RETRANSMISSION, "TCP Fast Retransmission"),
    (SPURIOUS_RETRANSMISSION, "TCP Spurious Retransmission"),
    (OUT_OF_ORDER, "TCP Out-Of-Order"),
    (LOST_SEGMENT, "TCP Previous segment not captured"),
    (ACK_LOST_SEGMENT, "TCP ACKed unseen segment"),
    (WINDOW_UPDATE, "TCP Window Update"),
    (WINDOW_FULL, "TCP Window Full"),
    (KEEP_ALIVE, "TCP Keep-Alive"),
    (KEEP_ALIVE_ACK, "TCP Keep-Alive ACK"),
    (DUPLICATE_ACK, "TCP Dup ACK"),
    (ZERO_WINDOW_PROBE, "TCP ZeroWindowProbe"),
    (ZERO_WINDOW, "TCP ZeroWindow"),
    (ZERO_WINDOW_PROBE_ACK, "TCP ZeroWindowProbeAck"),
]


def flag_names(mask: int) -> list[str]:
    """Short names of the bits set in ``mask`` (``FLAG_BITS`` order)."""
    return [name for name, bit in FLAG_BITS.items() if mask & bit]


def field_present(mask: np.ndarray | int, field: str) -> np.ndarray | bool:
    """Whether tshark shows ``field`` (e.g. ``tcp.analysis.retransmission``) for the mask(s)."""
    bits = FIELD_MASKS[field]
    if isinstance(mask, np.ndarray):
        return (mask & bits) != 0
    return bool(mask & bits)


def info_tags(mask: int, dup_ack_frame: int = 0, dup_ack_num: int = 0) -> list[str]:
    """Bracketed Info-column prefixes in display order, e.g. ``["TCP Dup ACK 6#1"]``."""
    tags: list[str] = []
    for bit, text in _INFO_TAGS:
        if mask & bit:
            if bit == DUPLICATE_ACK:
                if not dup_ack_num:
                    continue
                text = f"{text} {dup_ack_frame}#{dup_ack_num}"
            tags.insert(0, text)
    return tags
