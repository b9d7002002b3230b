"""Application layers dissected from reassembled TCP data (given by the caller's TCP analysis).

The reassembled bytes are not all in this frame: nodes whose bytes lie in this segment's payload get
frame offsets, the others get None (Wireshark shows them in a separate "Reassembled TCP" byte view).
"""
from __future__ import annotations

from . import registry as reg
from .node import Ctx, Node, Tvb, mk


def _remap(nodes: list[Node], shift: int, lo: int, hi: int) -> None:
    for n in nodes:
        off, ln = n["offset"], n["length"]
        if off is not None:
            fo = off + shift
            if fo >= lo and ln is not None and fo + ln <= hi:
                n["offset"] = fo
            elif fo >= lo and fo < hi and ln is not None:
                n["offset"], n["length"] = fo, hi - fo
            else:
                n["offset"] = n["length"] = None
        _remap(n["children"], shift, lo, hi)


def dissect_reassembled(ctx: Ctx, app: bytes, payload: Tvb, sport: int, dport: int) -> None:
    """Dissect ``app`` (ending with this segment's payload) as the application PDU(s)."""
    sub = Ctx(bytes(app), ctx.meta, None)
    sub.depth = ctx.depth
    n = len(app)
    seg = mk("tcp.segments", f"[Reassembled TCP Segments ({n} bytes)]", None, None, None)
    seg["children"].append(mk("tcp.reassembled.length", f"[Reassembled TCP length: {n}]", n, None, None))
    ctx.layers.append(seg)
    try:
        reg.call_ports(reg.TCP_PORT, reg.TCP_HEUR, sub, sport, dport, Tvb(0, n, n), None)
    finally:
        seg_len = payload.cap_end - payload.start
        # the last seg_len bytes of the reassembled data are this segment's payload
        shift = payload.start - (n - seg_len)
        _remap(sub.layers, shift, payload.start, payload.cap_end)
        ctx.layers.extend(sub.layers)
        ctx.protocols.extend(sub.protocols)
