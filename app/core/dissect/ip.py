"""IPv4 (with options and fragments), ARP/RARP and GRE."""
from __future__ import annotations

from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, GRE

from . import registry as reg
from .node import Ctx, Node, Tvb, add, bitfield, expert, flag, hexstr, ipv4, mac
from .scapyfields import walk

IP_PROTOS = {0: "IPv6 Hop-by-Hop Option", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP",
             41: "IPv6", 43: "IPv6 Routing", 44: "IPv6 Fragment", 47: "GRE", 50: "ESP", 51: "AH",
             58: "ICMPv6", 59: "IPv6 No Next Header", 60: "IPv6 Destination Options", 89: "OSPF IGP",
             103: "PIM", 112: "VRRP", 132: "SCTP", 136: "UDPLite"}
DSCP_SHORT = {0: "CS0", 8: "CS1", 16: "CS2", 24: "CS3", 32: "CS4", 40: "CS5", 48: "CS6", 56: "CS7",
              10: "AF11", 12: "AF12", 14: "AF13", 18: "AF21", 20: "AF22", 22: "AF23", 26: "AF31",
              28: "AF32", 30: "AF33", 34: "AF41", 36: "AF42", 38: "AF43", 46: "EF", 44: "VOICE-ADMIT",
              1: "LE"}
DSCP_LONG = {0: "Default", 1: "Lower Effort", 44: "Voice Admit", 46: "Expedited Forwarding"}
DSCP_LONG.update({v: f"Class Selector {v // 8}" for v in range(8, 64, 8)})
DSCP_LONG.update({v: f"Assured Forwarding {v // 8}{(v % 8) // 2}" for v in
                  (10, 12, 14, 18, 20, 22, 26, 28, 30, 34, 36, 38)})
ECN_SHORT = {0: "Not-ECT", 1: "ECT(1)", 2: "ECT(0)", 3: "CE"}
ECN_LONG = {0: "Not ECN-Capable Transport", 1: "ECN-Capable Transport codepoint '01'",
            2: "ECN-Capable Transport codepoint '10'", 3: "Congestion Experienced"}
IPOPT_NAMES = {0: "End of Options List (EOL)", 1: "No-Operation (NOP)", 7: "Record Route",
               68: "Time Stamp", 130: "Security", 131: "Loose Source Route", 137: "Strict Source Route",
               148: "Router Alert", 136: "Stream ID"}


def proto_label(p: int) -> str:
    return f"{IP_PROTOS.get(p, 'Unknown')} ({p})"


def dsfield(lay: Node, prefix: str, ds: int, off: int, length: int, width: int = 8,
            shift: int = 0) -> None:
    """The DS field item and its DSCP/ECN children (shared with IPv6's traffic class)."""
    dscp, ecn = ds >> 2, ds & 3
    n = add(lay, f"{prefix}", f"Differentiated Services Field: 0x{ds:02x} "
            f"(DSCP: {DSCP_SHORT.get(dscp, 'Unknown')}, ECN: {ECN_SHORT[ecn]})", ds, off, length)
    whole = ds << shift
    bitfield(n, f"{prefix}.dscp", "Differentiated Services Codepoint", whole, 0xFC << shift, width,
             off, length, f"{DSCP_LONG.get(dscp, 'Unknown')} ({dscp})")
    bitfield(n, f"{prefix}.ecn", "Explicit Congestion Notification", whole, 0x03 << shift, width,
             off, length, f"{ECN_LONG[ecn]} ({ecn})")


def dissect_ip(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Internet Protocol Version 4."""
    s = tvb.start
    d = ctx.data
    tvb.check(s, 1, "IPv4")
    vhl = d[s]
    hl = (vhl & 0x0F) * 4
    if vhl >> 4 == 6 and parent is None:
        # an IPv6 packet behind an IPv4 EtherType: Wireshark hands it to IPv6
        return reg.ETHERTYPE[0x86DD](ctx, tvb, parent)
    f = walk(IP, d, s, min(tvb.cap_end, s + max(hl, 20)), stop_after="dst")
    src = f.get("src", "")
    dst = f.get("dst", "")
    lay = ctx.layer("ip", f"Internet Protocol Version 4, Src: {src}, Dst: {dst}", s,
                    min(max(hl, 20), tvb.captured), parent)
    if "src" not in f.values:
        lay["label"] = "Internet Protocol Version 4"
    bitfield(lay, "ip.version", "Version", vhl, 0xF0, 8, s, 1)
    hdr = add(lay, "ip.hdr_len", f".... {vhl & 15:04b} = Header Length: {hl} bytes ({vhl & 15})",
              hl, s, 1)
    if hl < 20:
        expert(hdr, f"Bogus IPv4 header length ({hl}, must be at least 20)", "Error", "Protocol")
        lay["length"] = 1
        return None
    if "tos" in f.values:
        dsfield(lay, "ip.dsfield", f["tos"], s + 1, 1)
    if "len" not in f.values:
        tvb.check(s, 20, "IPv4")
    tl = f["len"]
    ln = add(lay, "ip.len", f"Total Length: {tl}", tl, s + 2, 2)
    if "id" in f.values:
        ident = f["id"]
        add(lay, "ip.id", f"Identification: 0x{ident:04x} ({ident})", ident, s + 4, 2)
    if "frag" not in f.values:
        tvb.check(s, 20, "IPv4")
    off16 = ctx.u16(s + 6)
    fl = off16 >> 13
    names = [n for b, n in ((4, "Reserved bit"), (2, "Don't fragment"), (1, "More fragments")) if fl & b]
    fln = add(lay, "ip.flags", f"{format(fl, '03b')}. .... = Flags: 0x{fl:x}" +
              "".join(f", {n}" for n in names), fl, s + 6, 1)
    flag(fln, "ip.flags.rb", "Reserved bit", fl << 5, 0x80, 8, s + 6, 1)
    flag(fln, "ip.flags.df", "Don't fragment", fl << 5, 0x40, 8, s + 6, 1)
    flag(fln, "ip.flags.mf", "More fragments", fl << 5, 0x20, 8, s + 6, 1)
    frag = off16 & 0x1FFF
    bitfield(lay, "ip.frag_offset", "Fragment Offset", off16, 0x1FFF, 16, s + 6, 2)
    if "ttl" not in f.values or "dst" not in f.values:
        tvb.check(s, 20, "IPv4")
    add(lay, "ip.ttl", f"Time to Live: {f['ttl']}", f["ttl"], s + 8, 1)
    proto = f["proto"]
    add(lay, "ip.proto", f"Protocol: {proto_label(proto)}", proto, s + 9, 1)
    ck = f["chksum"]
    add(lay, "ip.checksum", f"Header Checksum: 0x{ck:04x} [validation disabled]", ck, s + 10, 2)
    add(lay, "ip.checksum.status", "[Header checksum status: Unverified]", 2, s + 10, 2)
    add(lay, "ip.src", f"Source Address: {src}", src, s + 12, 4)
    add(lay, "ip.dst", f"Destination Address: {dst}", dst, s + 16, 4)
    if hl > 20:
        tvb.check(s + 20, hl - 20, "IPv4")
        _options(ctx, lay, s + 20, hl - 20)
    if tl < hl:
        expert(ln, f"Bogus IPv4 total length ({tl}, must be at least {hl})" if tl else
               "Total length is 0 (possible TCP segmentation offload)", "Error", "Protocol")
        return None
    end = min(tvb.rep_end, s + tl)
    if s + tl > tvb.rep_end and not ctx.in_error:
        expert(ln, f"IPv4 total length exceeds packet length ({tvb.rep_end - s} bytes)", "Error",
               "Protocol", s + 2, 2)
    payload = Tvb(s + hl, tvb.cap_end, end)
    if (fl & 1 or frag) and not ctx.in_error:
        # fragments: Wireshark reassembles in the last one; a single packet shows its bytes as data
        reg.data_layer(ctx, payload, parent)
    else:
        reg.call_ip_proto(ctx, proto, payload, parent)
    return min(tl, tvb.rep_end - s)


def _options(ctx: Ctx, lay: Node, off: int, length: int) -> None:
    d = ctx.data
    end = off + length
    items = []
    p = off
    while p < end:
        k = d[p]
        if k in (0, 1):
            items.append((k, p, 1))
            p += 1
            if k == 0:
                break
            continue
        if p + 1 >= end or d[p + 1] < 2:
            items.append((k, p, end - p))
            break
        ol = min(d[p + 1], end - p)
        items.append((k, p, ol))
        p += ol
    names = ", ".join(IPOPT_NAMES.get(k, f"Unknown (0x{k:02x})") for k, _, _ in items)
    on = add(lay, "ip.options", f"Options: ({length} bytes), {names}", d[off:end], off, length)
    for k, p, ol in items:
        name = IPOPT_NAMES.get(k, f"Unknown (0x{k:02x})")
        o = add(on, "ip.opt.type", f"IP Option - {name}", k, p, ol)
        add(o, "ip.opt.type", f"Type: {k}", k, p, 1)
        bitfield(o, "ip.opt.type.copy", "Copy on fragmentation", k, 0x80, 8, p, 1,
                 "Yes" if k & 0x80 else "No")
        bitfield(o, "ip.opt.type.class", "Class", k, 0x60, 8, p, 1)
        bitfield(o, "ip.opt.type.number", "Number", k, 0x1F, 8, p, 1)
        if ol >= 2:
            add(o, "ip.opt.len", f"Length: {d[p + 1]}", d[p + 1], p + 1, 1)
        if k == 148 and ol == 4:
            ra = int.from_bytes(d[p + 2:p + 4], "big")
            add(o, "ip.opt.ra", f"Router Alert: {'Router shall examine packet' if ra == 0 else 'Reserved'}"
                f" ({ra})", ra, p + 2, 2)


HW_TYPES = {1: "Ethernet", 6: "IEEE 802 Networks", 15: "Frame Relay", 24: "IEEE 1394.1995",
            32: "InfiniBand"}
ARP_OPS = {1: "request", 2: "reply", 3: "reverse request", 4: "reverse reply",
           8: "Inverse ARP request", 9: "Inverse ARP reply"}


def dissect_arp(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Address Resolution Protocol (also RARP, which shares the layout)."""
    s = tvb.start
    d = ctx.data
    tvb.check(s, 8, "ARP")
    f = walk(ARP, d, s, tvb.cap_end, stop_after="op")
    hrd, pro, hln, pln, op = f["hwtype"], f["ptype"], f["hwlen"], f["plen"], f["op"]
    total = 8 + 2 * hln + 2 * pln
    opname = ARP_OPS.get(op, "Unknown")
    spa_off, tpa_off = s + 8 + hln, s + 8 + 2 * hln + pln
    label = f"Address Resolution Protocol ({opname})"
    if op in (1, 2) and pln == 4 and tvb.cap_end >= tpa_off + 4 and \
            d[spa_off:spa_off + 4] == d[tpa_off:tpa_off + 4]:
        label = f"Address Resolution Protocol ({opname}/gratuitous ARP)"
    lay = ctx.layer("arp", label, s, min(total, tvb.captured), parent)
    add(lay, "arp.hw.type", f"Hardware type: {HW_TYPES.get(hrd, 'Unknown')} ({hrd})", hrd, s, 2)
    add(lay, "arp.proto.type", f"Protocol type: {reg.etype_label(pro)}", pro, s + 2, 2)
    add(lay, "arp.hw.size", f"Hardware size: {hln}", hln, s + 4, 1)
    add(lay, "arp.proto.size", f"Protocol size: {pln}", pln, s + 5, 1)
    add(lay, "arp.opcode", f"Opcode: {opname} ({op})", op, s + 6, 2)
    if "gratuitous" in label:
        add(lay, "arp.isgratuitous", "[Is gratuitous: True]", True, None, None)
    p = s + 8
    for side, title in (("src", "Sender"), ("dst", "Target")):
        tvb.check(p, hln, "ARP")
        hw = d[p:p + hln]
        if hln == 6:
            add(lay, f"arp.{side}.hw_mac", f"{title} MAC address: {mac(hw)} ({mac(hw)})", mac(hw), p, 6)
        else:
            add(lay, f"arp.{side}.hw", f"{title} hardware address: {hexstr(hw)}", hw, p, hln)
        p += hln
        tvb.check(p, pln, "ARP")
        pa = d[p:p + pln]
        if pln == 4 and pro == 0x0800:
            add(lay, f"arp.{side}.proto_ipv4", f"{title} IP address: {ipv4(pa)}", ipv4(pa), p, 4)
        else:
            add(lay, f"arp.{side}.proto", f"{title} protocol address: {hexstr(pa)}", pa, p, pln)
        p += pln
    return total


GRE_PROTOS = {0x0800: "IP", 0x86DD: "IPv6", 0x6558: "Transparent Ethernet bridging", 0x880B: "PPP",
              0x8847: "MPLS label switched packet", 0x88BE: "ERSPAN"}


def dissect_gre(ctx: Ctx, tvb: Tvb, parent: Node | None = None) -> int | None:
    """Generic Routing Encapsulation (RFC 2784/2890 header)."""
    s = tvb.start
    tvb.check(s, 4, "GRE")
    f = walk(GRE, ctx.data, s, tvb.cap_end, stop_after="proto")
    fv = ctx.u16(s)
    proto = f.get("proto", ctx.u16(s + 2))
    hl = 4 + 4 * (bool(fv & 0x8000) or bool(fv & 0x4000)) + 4 * bool(fv & 0x2000) + 4 * bool(fv & 0x1000)
    pname = GRE_PROTOS.get(proto, reg.ETHERTYPE_NAMES.get(proto, "Unknown"))
    lay = ctx.layer("gre", f"Generic Routing Encapsulation ({pname})", s, min(hl, tvb.captured), parent)
    fn = add(lay, "gre.flags_and_version", f"Flags and Version: 0x{fv:04x}", fv, s, 2)
    for name, title, mask in (("checksum", "Checksum Bit", 0x8000), ("routing", "Routing Bit", 0x4000),
                              ("key", "Key Bit", 0x2000), ("sequence_number", "Sequence Number Bit", 0x1000),
                              ("strict_source_route", "Strict Source Route Bit", 0x0800)):
        flag(fn, f"gre.flags.{name}", title, fv, mask, 16, s, 2, "Yes", "No")
    bitfield(fn, "gre.flags.recursion_control", "Recursion control", fv, 0x0700, 16, s, 2)
    bitfield(fn, "gre.flags.reserved", "Flags (Reserved)", fv, 0x00F8, 16, s, 2)
    bitfield(fn, "gre.flags.version", "Version", fv, 0x0007, 16, s, 2,
             "GRE (0)" if fv & 7 == 0 else f"{fv & 7}")
    add(lay, "gre.proto", f"Protocol Type: {pname} (0x{proto:04x})", proto, s + 2, 2)
    p = s + 4
    if fv & 0xC000:
        tvb.check(p, 4, "GRE")
        add(lay, "gre.checksum", f"Checksum: 0x{ctx.u16(p):04x}", ctx.u16(p), p, 2)
        add(lay, "gre.offset", f"Offset: {ctx.u16(p + 2)}", ctx.u16(p + 2), p + 2, 2)
        p += 4
    if fv & 0x2000:
        tvb.check(p, 4, "GRE")
        add(lay, "gre.key", f"Key: 0x{ctx.u32(p):08x}", ctx.u32(p), p, 4)
        p += 4
    if fv & 0x1000:
        tvb.check(p, 4, "GRE")
        add(lay, "gre.sequence_number", f"Sequence Number: {ctx.u32(p)}", ctx.u32(p), p, 4)
        p += 4
    reg.call_ethertype(ctx, proto, tvb.sub(p), parent, add_ethertype=False)
    return None


def ip_in_ip(ctx: Ctx, tvb: Tvb, parent: Node | None) -> int | None:
    return dissect_ip(ctx, tvb, parent)


reg.ETHERTYPE[0x0800] = dissect_ip
reg.ETHERTYPE[0x0806] = dissect_arp
reg.ETHERTYPE[0x8035] = dissect_arp
reg.IP_PROTO[4] = ip_in_ip
reg.IP_PROTO[47] = dissect_gre
