"""IPv6 and its extension headers (hop-by-hop, routing, fragment, destination options)."""
from __future__ import annotations

from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment

from . import registry as reg
from .ip import DSCP_LONG, DSCP_SHORT, ECN_LONG, proto_label
from .node import Ctx, Node, Tvb, add, bitfield, bits, expert
from .scapyfields import walk

EXT_HEADERS = {0: ("ipv6.hopopts", "IPv6 Hop-by-Hop Option"), 43: ("ipv6.routing", "Routing Header for IPv6"),
               60: ("ipv6.dstopts", "Destination Options for IPv6")}
OPT_NAMES = {0: "Pad1", 1: "PadN", 5: "Router Alert", 0xC2: "Jumbo Payload", 4: "Tunnel Encapsulation Limit"}


def dissect_ipv6(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Internet Protocol Version 6 fixed header, then extension headers and the payload."""
    s = tvb.start
    d = ctx.data
    f = walk(IPv6, d, s, min(tvb.cap_end, s + 40))
    src, dst = f.get("src", ""), f.get("dst", "")
    lay = ctx.layer("ipv6", f"Internet Protocol Version 6, Src: {src}, Dst: {dst}", s,
                    min(40, tvb.captured), parent)
    if not f.complete:
        if "dst" not in f.values:
            lay["label"] = "Internet Protocol Version 6"
        tvb.check(s, 40, "IPv6")
    first = ctx.u32(s)
    bitfield(lay, "ipv6.version", "Version", d[s], 0xF0, 8, s, 1)
    tc = f["tc"]
    tcn = add(lay, "ipv6.tclass", f"{bits(first, 0x0FF00000, 32)} = Traffic Class: 0x{tc:02x} "
              f"(DSCP: {_dscp_short(tc >> 2)}, ECN: {('Not-ECT', 'ECT(1)', 'ECT(0)', 'CE')[tc & 3]})",
              tc, s, 4)
    bitfield(tcn, "ipv6.tclass.dscp", "Differentiated Services Codepoint", first, 0x0FC00000, 32, s, 4,
             f"{DSCP_LONG.get(tc >> 2, 'Unknown')} ({tc >> 2})")
    bitfield(tcn, "ipv6.tclass.ecn", "Explicit Congestion Notification", first, 0x00300000, 32, s, 4,
             f"{ECN_LONG[tc & 3]} ({tc & 3})")
    add(lay, "ipv6.flow", f"{bits(first, 0x000FFFFF, 32)} = Flow Label: 0x{f['fl']:05x}", f["fl"], s, 4)
    plen = f["plen"]
    pl = add(lay, "ipv6.plen", f"Payload Length: {plen}", plen, s + 4, 2)
    nh = f["nh"]
    add(lay, "ipv6.nxt", f"Next Header: {proto_label(nh)}", nh, s + 6, 1)
    add(lay, "ipv6.hlim", f"Hop Limit: {f['hlim']}", f["hlim"], s + 7, 1)
    add(lay, "ipv6.src", f"Source Address: {src}", src, s + 8, 16)
    add(lay, "ipv6.dst", f"Destination Address: {dst}", dst, s + 24, 16)
    end = tvb.rep_end
    if plen == 0:
        end = tvb.rep_end  # jumbogram or TSO: take what is there
    elif s + 40 + plen <= tvb.rep_end:
        end = s + 40 + plen
    elif not ctx.in_error:
        expert(pl, f"IPv6 payload length exceeds framing length ({tvb.rep_end - s - 40} bytes)",
               "Error", "Protocol", s + 4, 2)
    off = s + 40
    fragmented = False
    seen = 0
    while nh in EXT_HEADERS or nh == 44:
        seen += 1
        if seen > 16:
            break
        if nh == 44:
            nh, fragmented = _fragment(ctx, Tvb(off, tvb.cap_end, end), lay)
            off += 8
            if fragmented:
                break
        else:
            nh, hl = _ext(ctx, Tvb(off, tvb.cap_end, end), lay, nh)
            off += hl
    lay["length"] = min(off, tvb.cap_end) - s  # the item covers the extension headers too
    payload = Tvb(off, tvb.cap_end, end)
    if fragmented and not ctx.in_error:
        reg.data_layer(ctx, payload, parent)
    elif nh == 59:
        pass
    else:
        reg.call_ip_proto(ctx, nh, payload, parent)
    return end - s


def _dscp_short(dscp: int) -> str:
    return DSCP_SHORT.get(dscp, "Unknown")


def _fragment(ctx: Ctx, tvb: Tvb, ip6: Node) -> tuple[int, bool]:
    s = tvb.start
    f = walk(IPv6ExtHdrFragment, ctx.data, s, tvb.cap_end)
    n = ctx.layer("ipv6.fraghdr", "Fragment Header for IPv6", s, min(8, tvb.captured), ip6)
    if not f.complete:
        tvb.check(s, 8, "IPv6")
    nh = f["nh"]
    add(n, "ipv6.fraghdr.nxt", f"Next header: {proto_label(nh)}", nh, s, 1)
    add(n, "ipv6.fraghdr.reserved_octet", f"Reserved octet: 0x{f['res1']:02x}", f["res1"], s + 1, 1)
    w = ctx.u16(s + 2)
    bitfield(n, "ipv6.fraghdr.offset", "Offset", w, 0xFFF8, 16, s + 2, 2)
    bitfield(n, "ipv6.fraghdr.reserved_bits", "Reserved bits", w, 0x0006, 16, s + 2, 2)
    m = f["m"]
    add(n, "ipv6.fraghdr.more", f"{bits(w, 1, 16)} = More Fragments: {'Yes' if m else 'No'}", m, s + 2, 2)
    add(n, "ipv6.fraghdr.ident", f"Identification: 0x{f['id']:08x}", f["id"], s + 4, 4)
    return nh, bool(m or f["offset"])


def _ext(ctx: Ctx, tvb: Tvb, ip6: Node, kind: int) -> tuple[int, int]:
    s = tvb.start
    name, title = EXT_HEADERS[kind]
    tvb.check(s, 2, "IPv6")
    nh, ln = ctx.data[s], ctx.data[s + 1]
    hl = (ln + 1) * 8
    n = ctx.layer(name, title, s, min(hl, tvb.captured), ip6)
    add(n, f"{name}.nxt", f"Next Header: {proto_label(nh)}", nh, s, 1)
    add(n, f"{name}.len", f"Length: {ln}", ln, s + 1, 1)
    add(n, f"{name}.len_oct", f"[Length: {hl} bytes]", hl, s + 1, 1)
    tvb.check(s, hl, "IPv6")
    if kind == 43:
        rt, left = ctx.data[s + 2], ctx.data[s + 3]
        add(n, "ipv6.routing.type", f"Type: {rt}", rt, s + 2, 1)
        add(n, "ipv6.routing.segleft", f"Segments Left: {left}", left, s + 3, 1)
        return nh, hl
    p, end = s + 2, s + hl
    while p < end:
        t = ctx.data[p]
        if t == 0:
            add(n, "ipv6.opt", "Pad1", None, p, 1)
            p += 1
            continue
        if p + 1 >= end:
            break
        ol = ctx.data[p + 1]
        on = add(n, "ipv6.opt", f"{OPT_NAMES.get(t, 'Unknown')}", None, p, min(2 + ol, end - p))
        add(on, "ipv6.opt.type", f"Type: {OPT_NAMES.get(t, 'Unknown')} (0x{t:02x})", t, p, 1)
        add(on, "ipv6.opt.length", f"Length: {ol}", ol, p + 1, 1)
        if t == 5 and ol == 2:
            v = ctx.u16(p + 2)
            add(on, "ipv6.opt.router_alert", f"Router Alert: {'MLD' if v == 0 else v} ({v})", v, p + 2, 2)
        p += 2 + ol
    return nh, hl


def ipv6_in_ip(ctx: Ctx, tvb: Tvb, parent: Node | None) -> int | None:
    return dissect_ipv6(ctx, tvb, parent)


reg.ETHERTYPE[0x86DD] = dissect_ipv6
reg.IP_PROTO[41] = ipv6_in_ip
