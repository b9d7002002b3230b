"""User Datagram Protocol header and payload dispatch by port."""
from __future__ import annotations

from scapy.layers.inet import UDP

from . import registry as reg
from .node import Ctx, Node, Tvb, add, expert
from .scapyfields import walk


def dissect_udp(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """User Datagram Protocol."""
    s = tvb.start
    f = walk(UDP, ctx.data, s, min(tvb.cap_end, s + 8))
    sport, dport = f.get("sport"), f.get("dport")
    lay = ctx.layer("udp", "User Datagram Protocol", s, min(8, tvb.captured), parent)
    if sport is None or dport is None:
        tvb.check(s, 4, "UDP")
    lay["label"] += f", Src Port: {sport}, Dst Port: {dport}"
    add(lay, "udp.srcport", f"Source Port: {sport}", sport, s, 2)
    add(lay, "udp.dstport", f"Destination Port: {dport}", dport, s + 2, 2)
    if not f.complete:
        if ctx.in_error and "len" in f.values:
            add(lay, "udp.length", f"Length: {f['len']}", f["len"], s + 4, 2)
        if ctx.in_error:
            return None
        tvb.check(s, 8, "UDP")
    ulen = f["len"]
    ln = add(lay, "udp.length", f"Length: {ulen}", ulen, s + 4, 2)
    ck = f["chksum"]
    if ck == 0:
        add(lay, "udp.checksum", "Checksum: 0x0000 [zero-value ignored]", 0, s + 6, 2)
        add(lay, "udp.checksum.status", "[Checksum Status: Not present]", 3, s + 6, 2)
    else:
        add(lay, "udp.checksum", f"Checksum: 0x{ck:04x} [unverified]", ck, s + 6, 2)
        add(lay, "udp.checksum.status", "[Checksum Status: Unverified]", 2, s + 6, 2)
    if ulen < 8:
        expert(ln, f"Bad length value {ulen} < 8", "Error", "Malformed", s + 4, 2)
        return None
    end = s + ulen
    if end > tvb.rep_end:
        if not ctx.in_error:
            expert(ln, f"Bad length value {ulen} > IP payload length", "Error", "Malformed", s + 4, 2)
            return None
        end = tvb.rep_end
    payload = Tvb(s + 8, tvb.cap_end, end)
    n = end - s - 8
    if n > 0:
        pb = ctx.data[s + 8:payload.cap_end]
        add(lay, "udp.payload", f"UDP payload ({n} byte{'s' if n != 1 else ''})", pb, s + 8, len(pb))
        reg.call_ports(reg.UDP_PORT, reg.UDP_HEUR, ctx, sport, dport, payload, parent)
    return ulen


reg.IP_PROTO[17] = dissect_udp
