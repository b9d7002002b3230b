"""ICMP and ICMPv6, including the packet quoted by error messages."""
from __future__ import annotations

import ipaddress

from scapy.layers.inet import ICMP

from . import registry as reg
from .frame import arrival_time
from .node import Ctx, Malformed, Node, Short, Tvb, add, expert, hexstr, ipv4, mac
from .scapyfields import walk

ICMP_TYPES = {0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench (flow control)",
              5: "Redirect", 8: "Echo (ping) request", 9: "Router advertisement", 10: "Router solicitation",
              11: "Time-to-live exceeded", 12: "Parameter problem", 13: "Timestamp request",
              14: "Timestamp reply", 15: "Information request", 16: "Information reply",
              17: "Address mask request", 18: "Address mask reply"}
ICMP_CODES = {
    3: ["Network unreachable", "Host unreachable", "Protocol unreachable", "Port unreachable",
        "Fragmentation needed", "Source route failed", "Destination network unknown",
        "Destination host unknown", "Source host isolated", "Network administratively prohibited",
        "Host administratively prohibited", "Network unreachable for TOS", "Host unreachable for TOS",
        "Communication administratively filtered", "Host precedence violation", "Precedence cutoff in effect"],
    5: ["Redirect for network", "Redirect for host", "Redirect for TOS and network", "Redirect for TOS and host"],
    11: ["Time to live exceeded in transit", "Fragment reassembly time exceeded"],
    12: ["Pointer indicates the error", "Required option missing", "Bad length"],
}
ICMP6_TYPES = {1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem",
               128: "Echo (ping) request", 129: "Echo (ping) reply", 130: "Multicast Listener Query",
               131: "Multicast Listener Report", 132: "Multicast Listener Done", 133: "Router Solicitation",
               134: "Router Advertisement", 135: "Neighbor Solicitation", 136: "Neighbor Advertisement",
               137: "Redirect", 143: "Multicast Listener Report Message v2"}
ICMP6_OPTS = {1: "Source link-layer address", 2: "Target link-layer address", 3: "Prefix information",
              4: "Redirected header", 5: "MTU", 25: "Recursive DNS Server", 31: "DNS Search List"}


def inet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum (0 when the data carries a correct checksum)."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _checksum(ctx: Ctx, lay: Node, prefix: str, tvb: Tvb, pseudo: bytes = b"") -> None:
    s = tvb.start
    ck = ctx.u16(s + 2)
    if tvb.cap_end < tvb.rep_end or ctx.in_error:
        add(lay, f"{prefix}.checksum", f"Checksum: 0x{ck:04x} [unverified]", ck, s + 2, 2)
        add(lay, f"{prefix}.checksum.status", "[Checksum Status: Unverified]", 2, s + 2, 2)
        return
    msg = ctx.data[s:tvb.rep_end]
    if inet_checksum(pseudo + msg) == 0:
        add(lay, f"{prefix}.checksum", f"Checksum: 0x{ck:04x} [correct]", ck, s + 2, 2)
        add(lay, f"{prefix}.checksum.status", "[Checksum Status: Good]", 1, s + 2, 2)
    else:
        good = inet_checksum(pseudo + msg[:2] + b"\x00\x00" + msg[4:])
        n = add(lay, f"{prefix}.checksum", f"Checksum: 0x{ck:04x} incorrect, should be 0x{good:04x}", ck, s + 2, 2)
        add(lay, f"{prefix}.checksum.status", "[Checksum Status: Bad]", 0, s + 2, 2)
        expert(n, "Bad checksum", "Error", "Checksum", s + 2, 2)


def _quoted(ctx: Ctx, tvb: Tvb, lay: Node, ethertype: int) -> None:
    """An ICMP error quotes the offending packet: dissect it inside the ICMP tree."""
    if tvb.reported <= 0:
        return
    saved = ctx.in_error
    ctx.in_error = True
    try:
        reg.ETHERTYPE[ethertype](ctx, tvb, lay)
    except (Short, Malformed):
        # the quote usually stops inside the original packet: what it holds is shown, the cut is
        # expected and not an error of this packet
        pass
    finally:
        ctx.in_error = saved


def dissect_icmp(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Internet Control Message Protocol (IPv4)."""
    s = tvb.start
    d = ctx.data
    lay = ctx.layer("icmp", "Internet Control Message Protocol", s, tvb.captured, parent)
    tvb.check(s, 4, "ICMP")
    f = walk(ICMP, d, s, min(tvb.cap_end, s + 8), stop_after="chksum")
    t, c = f["type"], f["code"]
    add(lay, "icmp.type", f"Type: {t} ({ICMP_TYPES.get(t, 'Unknown ICMP (obsolete or malformed?)')})", t, s, 1)
    codes = ICMP_CODES.get(t)
    clabel = f"Code: {c} ({codes[c] if c < len(codes) else 'Unknown code'})" if codes else f"Code: {c}"
    add(lay, "icmp.code", clabel, c, s + 1, 1)
    _checksum(ctx, lay, "icmp", tvb)
    if t in (0, 8, 13, 14, 15, 16, 17, 18):
        tvb.check(s + 4, 4, "ICMP")
        ident, seq = ctx.u16(s + 4), ctx.u16(s + 6)
        ile, sle = int.from_bytes(d[s + 4:s + 6], "little"), int.from_bytes(d[s + 6:s + 8], "little")
        add(lay, "icmp.ident", f"Identifier (BE): {ident} (0x{ident:04x})", ident, s + 4, 2)
        add(lay, "icmp.ident_le", f"Identifier (LE): {ile} (0x{ile:04x})", ile, s + 4, 2)
        add(lay, "icmp.seq", f"Sequence Number (BE): {seq} (0x{seq:04x})", seq, s + 6, 2)
        add(lay, "icmp.seq_le", f"Sequence Number (LE): {sle} (0x{sle:04x})", sle, s + 6, 2)
        if t in (0, 8):
            _echo_data(ctx, tvb, lay)
        elif t in (13, 14) and tvb.cap_end >= s + 20:
            for i, name, title in ((8, "originate_timestamp", "Originate timestamp"),
                                   (12, "receive_timestamp", "Receive timestamp"),
                                   (16, "transmit_timestamp", "Transmit timestamp")):
                v = ctx.u32(s + i)
                add(lay, f"icmp.{name}", f"{title}: {v} ms after midnight UTC", v, s + i, 4)
        elif t in (17, 18) and tvb.cap_end >= s + 12:
            add(lay, "icmp.address_mask", f"Address Mask: {ipv4(d[s + 8:s + 12])}", ipv4(d[s + 8:s + 12]), s + 8, 4)
        return None
    if t in (3, 4, 11, 12, 5):
        tvb.check(s + 4, 4, "ICMP")
        if t == 5:
            gw = ipv4(d[s + 4:s + 8])
            add(lay, "icmp.redir_gw", f"Gateway Address: {gw}", gw, s + 4, 4)
        elif t == 12:
            add(lay, "icmp.pointer", f"Pointer: {d[s + 4]}", d[s + 4], s + 4, 1)
            add(lay, "icmp.unused", f"Unused: {hexstr(d[s + 5:s + 8])}", d[s + 5:s + 8], s + 5, 3)
        elif t == 3 and c == 4:
            add(lay, "icmp.unused", f"Unused: {hexstr(d[s + 4:s + 6])}", d[s + 4:s + 6], s + 4, 2)
            add(lay, "icmp.mtu", f"MTU of next hop: {ctx.u16(s + 6)}", ctx.u16(s + 6), s + 6, 2)
        else:
            add(lay, "icmp.unused", f"Unused: {hexstr(d[s + 4:s + 8])}", d[s + 4:s + 8], s + 4, 4)
        _quoted(ctx, tvb.sub(s + 8), lay, 0x0800)
        return None
    reg.data_layer(ctx, tvb.sub(s + 4), lay)
    return None


def _echo_data(ctx: Ctx, tvb: Tvb, lay: Node) -> None:
    s = tvb.start + 8
    d = ctx.data
    if tvb.rep_end - s <= 0:
        return
    if tvb.cap_end - s >= 8:
        frame_sec = ctx.meta.epoch_sec
        for order in ("big", "little"):
            sec, usec = int.from_bytes(d[s:s + 4], order), int.from_bytes(d[s + 4:s + 8], order)
            if 0 <= frame_sec - sec < 86400 and usec < 1000000:
                stamp = arrival_time(sec, usec * 1000)
                add(lay, "icmp.data_time", f"Timestamp from icmp data: {stamp}", sec + usec / 1e6, s, 8)
                rel = (frame_sec - sec) + (ctx.meta.epoch_nsec - usec * 1000) / 1e9
                add(lay, "icmp.data_time_relative", f"[Timestamp from icmp data (relative): {rel:.9f} seconds]",
                    rel, s, 8)
                s += 8
                break
    reg.data_layer(ctx, tvb.sub(s), lay)


def _pseudo6(ctx: Ctx, lay_parent: Node | None, tvb: Tvb) -> bytes:
    """IPv6 pseudo header for the ICMPv6 checksum, from the enclosing IPv6 layer's fields."""
    src = dst = None
    for n in reversed(ctx.layers if lay_parent is None else lay_parent["children"]):
        if n["name"] == "ipv6":
            for c in n["children"]:
                if c["name"] == "ipv6.src":
                    src = c["value"]
                elif c["name"] == "ipv6.dst":
                    dst = c["value"]
            break
    if src is None or dst is None:
        return b""
    ln = tvb.rep_end - tvb.start
    return (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed +
            ln.to_bytes(4, "big") + b"\x00\x00\x00\x3a")


def dissect_icmpv6(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Internet Control Message Protocol v6."""
    s = tvb.start
    d = ctx.data
    pseudo = _pseudo6(ctx, parent, tvb)
    lay = ctx.layer("icmpv6", "Internet Control Message Protocol v6", s, tvb.captured, parent)
    tvb.check(s, 4, "ICMPv6")
    t, c = d[s], d[s + 1]
    add(lay, "icmpv6.type", f"Type: {ICMP6_TYPES.get(t, 'Unknown')} ({t})", t, s, 1)
    add(lay, "icmpv6.code", f"Code: {c}", c, s + 1, 1)
    if pseudo:
        _checksum(ctx, lay, "icmpv6", tvb, pseudo)
    else:
        ck = ctx.u16(s + 2)
        add(lay, "icmpv6.checksum", f"Checksum: 0x{ck:04x} [unverified]", ck, s + 2, 2)
        add(lay, "icmpv6.checksum.status", "[Checksum Status: Unverified]", 2, s + 2, 2)
    if t in (128, 129):
        tvb.check(s + 4, 4, "ICMPv6")
        ident, seq = ctx.u16(s + 4), ctx.u16(s + 6)
        add(lay, "icmpv6.echo.identifier", f"Identifier: 0x{ident:04x}", ident, s + 4, 2)
        add(lay, "icmpv6.echo.sequence_number", f"Sequence: {seq}", seq, s + 6, 2)
        reg.data_layer(ctx, tvb.sub(s + 8), lay)
        return None
    if t in (1, 2, 3, 4):
        tvb.check(s + 4, 4, "ICMPv6")
        v = ctx.u32(s + 4)
        if t == 2:
            add(lay, "icmpv6.mtu", f"MTU: {v}", v, s + 4, 4)
        elif t == 4:
            add(lay, "icmpv6.pointer", f"Pointer: {v}", v, s + 4, 4)
        else:
            add(lay, "icmpv6.reserved", f"Reserved: {hexstr(d[s + 4:s + 8])}", d[s + 4:s + 8], s + 4, 4)
        _quoted(ctx, tvb.sub(s + 8), lay, 0x86DD)
        return None
    if t in (135, 136, 137):
        tvb.check(s + 4, 20, "ICMPv6")
        if t == 136:
            fl = ctx.u32(s + 4)
            add(lay, "icmpv6.nd.na.flag", f"Flags: 0x{fl:08x}", fl, s + 4, 4)
        else:
            add(lay, "icmpv6.reserved", f"Reserved: {hexstr(d[s + 4:s + 8])}", d[s + 4:s + 8], s + 4, 4)
        tgt = str(ipaddress.IPv6Address(d[s + 8:s + 24]))
        name = {135: "icmpv6.nd.ns.target_address", 136: "icmpv6.nd.na.target_address",
                137: "icmpv6.nd.rd.target_address"}[t]
        add(lay, name, f"Target Address: {tgt}", tgt, s + 8, 16)
        off = s + 24
        if t == 137:
            tvb.check(off, 16, "ICMPv6")
            dst = str(ipaddress.IPv6Address(d[off:off + 16]))
            add(lay, "icmpv6.nd.rd.destination_address", f"Destination Address: {dst}", dst, off, 16)
            off += 16
        _nd_options(ctx, tvb, lay, off)
        return None
    if t == 133:
        tvb.check(s + 4, 4, "ICMPv6")
        add(lay, "icmpv6.reserved", f"Reserved: {hexstr(d[s + 4:s + 8])}", d[s + 4:s + 8], s + 4, 4)
        _nd_options(ctx, tvb, lay, s + 8)
        return None
    if t == 134:
        tvb.check(s + 4, 12, "ICMPv6")
        add(lay, "icmpv6.nd.ra.cur_hop_limit", f"Cur hop limit: {d[s + 4]}", d[s + 4], s + 4, 1)
        add(lay, "icmpv6.nd.ra.flag", f"Flags: 0x{d[s + 5]:02x}", d[s + 5], s + 5, 1)
        add(lay, "icmpv6.nd.ra.router_lifetime", f"Router lifetime (s): {ctx.u16(s + 6)}", ctx.u16(s + 6), s + 6, 2)
        add(lay, "icmpv6.nd.ra.reachable_time", f"Reachable time (ms): {ctx.u32(s + 8)}", ctx.u32(s + 8), s + 8, 4)
        add(lay, "icmpv6.nd.ra.retrans_timer", f"Retrans timer (ms): {ctx.u32(s + 12)}", ctx.u32(s + 12), s + 12, 4)
        _nd_options(ctx, tvb, lay, s + 16)
        return None
    if t == 143:
        tvb.check(s + 4, 4, "ICMPv6")
        add(lay, "icmpv6.reserved", f"Reserved: {hexstr(d[s + 4:s + 6])}", d[s + 4:s + 6], s + 4, 2)
        n = ctx.u16(s + 6)
        add(lay, "icmpv6.mldr.nb_mcast_records", f"Number of Multicast Address Records: {n}", n, s + 6, 2)
        return None
    if tvb.rep_end > s + 4:
        reg.data_layer(ctx, tvb.sub(s + 4), lay)
    return None


def _nd_options(ctx: Ctx, tvb: Tvb, lay: Node, off: int) -> None:
    d = ctx.data
    while off + 2 <= tvb.cap_end:
        t, ln = d[off], d[off + 1]
        size = ln * 8
        name = ICMP6_OPTS.get(t, "Unknown")
        if size == 0:
            n = add(lay, "icmpv6.opt", f"ICMPv6 Option ({name})", None, off, 2)
            expert(n, "Invalid option length (Zero)", "Error", "Malformed")
            return
        size_c = min(size, tvb.cap_end - off)
        n = add(lay, "icmpv6.opt", f"ICMPv6 Option ({name})", None, off, size_c)
        add(n, "icmpv6.opt.type", f"Type: {name} ({t})", t, off, 1)
        add(n, "icmpv6.opt.length", f"Length: {ln} ({size} bytes)", ln, off + 1, 1)
        if t in (1, 2) and size >= 8 and off + 8 <= tvb.cap_end:
            m = mac(d[off + 2:off + 8])
            n["label"] = f"ICMPv6 Option ({name} : {m})"
            add(n, "icmpv6.opt.linkaddr", f"Link-layer address: {m} ({m})", m, off + 2, 6)
        elif t == 5 and size >= 8 and off + 8 <= tvb.cap_end:
            add(n, "icmpv6.opt.mtu", f"MTU: {ctx.u32(off + 4)}", ctx.u32(off + 4), off + 4, 4)
        elif t == 3 and size >= 32 and off + 32 <= tvb.cap_end:
            pfx = str(ipaddress.IPv6Address(d[off + 16:off + 32]))
            add(n, "icmpv6.opt.prefix.length", f"Prefix Length: {d[off + 2]}", d[off + 2], off + 2, 1)
            add(n, "icmpv6.opt.prefix", f"Prefix: {pfx}", pfx, off + 16, 16)
        off += size


reg.IP_PROTO[1] = dissect_icmp
reg.IP_PROTO[58] = dissect_icmpv6
