"""Smaller UDP protocols seen on LANs: NBNS, RIP, DHCPv6, QUIC/GQUIC headers, Dropbox LAN sync."""
from __future__ import annotations

from . import registry as reg
from .media import dissect_media
from .node import Ctx, Node, Tvb, add, bitfield, flag, hexstr, ipv4

NB_SUFFIX = {0x00: "Workstation/Redirector", 0x03: "Messenger service", 0x20: "Server service",
             0x1B: "Domain Master Browser", 0x1C: "Domain Controllers", 0x1D: "Master Browser",
             0x1E: "Browser Election Service"}
NB_OPCODES = {0: "Name query", 5: "Registration", 6: "Release", 7: "Wait for acknowledgment", 8: "Refresh"}


def _nb_name(d: bytes, p: int, end: int) -> tuple[str, int]:
    ln = d[p]
    raw = d[p + 1:p + 1 + ln]
    used = 1 + ln
    while p + used < end and d[p + used] != 0:
        used += 1 + d[p + used]
    used += 1
    if ln == 32 and all(0x41 <= c <= 0x50 for c in raw):
        chars = bytes(((raw[i] - 0x41) << 4) | (raw[i + 1] - 0x41) for i in range(0, 32, 2))
        name = chars[:15].decode("latin-1").rstrip(" ")
        suffix = chars[15]
        return f"{name}<{suffix:02x}>", used
    return raw.decode("latin-1"), used


def dissect_nbns(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    """NetBIOS Name Service header and questions."""
    s, d = tvb.start, ctx.data
    lay = ctx.layer("nbns", "NetBIOS Name Service", s, tvb.captured, parent)
    tvb.check(s, 12, "NBNS")
    fl = ctx.u16(s + 2)
    op = (fl >> 11) & 0xF
    add(lay, "nbns.id", f"Transaction ID: 0x{ctx.u16(s):04x}", ctx.u16(s), s, 2)
    bits_txt = [NB_OPCODES.get(op, "Unknown operation")]
    if fl & 0x0100:
        bits_txt.append("Recursion desired")
    if fl & 0x0010:
        bits_txt.append("Broadcast")
    fn = add(lay, "nbns.flags", f"Flags: 0x{fl:04x}, {', '.join(bits_txt)}", fl, s + 2, 2)
    flag(fn, "nbns.flags.response", "Response", fl, 0x8000, 16, s + 2, 2, "Message is a response",
         "Message is a query")
    bitfield(fn, "nbns.flags.opcode", "Opcode", fl, 0x7800, 16, s + 2, 2, f"{NB_OPCODES.get(op, 'Unknown')} ({op})")
    flag(fn, "nbns.flags.broadcast", "Broadcast", fl, 0x0010, 16, s + 2, 2, "Broadcast packet",
         "Not a broadcast packet")
    counts = [ctx.u16(s + 4 + 2 * i) for i in range(4)]
    for (name, title), n, i in zip((("nbns.count.queries", "Questions"), ("nbns.count.answers", "Answer RRs"),
                                    ("nbns.count.auth_rr", "Authority RRs"), ("nbns.count.add_rr", "Additional RRs")),
                                   counts, range(4)):
        add(lay, name, f"{title}: {n}", n, s + 4 + 2 * i, 2)
    p = s + 12
    if counts[0] and p < tvb.cap_end:
        q = add(lay, "", "Queries", None, p, tvb.cap_end - p)
        for _ in range(counts[0]):
            if p + 1 > tvb.cap_end:
                break
            name, used = _nb_name(d, p, tvb.cap_end)
            tvb.check(p + used, 4, "NBNS")
            t, c = ctx.u16(p + used), ctx.u16(p + used + 2)
            tname = {32: "NB", 33: "NBSTAT"}.get(t, "Unknown")
            it = add(q, "", f"{name}: type {tname}, class {'IN' if c == 1 else 'Unknown'}", None, p, used + 4)
            suffix = int(name[-3:-1], 16) if name.endswith(">") else None
            shown = f"{name} ({NB_SUFFIX.get(suffix, 'Unknown')})" if suffix is not None else name
            add(it, "nbns.name", f"Name: {shown}", name, p, used)
            add(it, "nbns.type", f"Type: {tname} ({t})", t, p + used, 2)
            add(it, "nbns.class", f"Class: {'IN' if c == 1 else 'Unknown'} ({c})", c, p + used + 2, 2)
            p += used + 4
        q["length"] = p - q["offset"]


def dissect_rip(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    """Routing Information Protocol v1/v2 entries."""
    s, d = tvb.start, ctx.data
    lay = ctx.layer("rip", "Routing Information Protocol", s, tvb.captured, parent)
    tvb.check(s, 4, "RIP")
    cmd, ver = d[s], d[s + 1]
    add(lay, "rip.command", f"Command: {({1: 'Request', 2: 'Response'}).get(cmd, 'Unknown')} ({cmd})", cmd, s, 1)
    add(lay, "rip.version", f"Version: RIPv{ver} ({ver})", ver, s + 1, 1)
    p = s + 4
    while p + 20 <= tvb.cap_end:
        fam, addr, metric = ctx.u16(p), ipv4(d[p + 4:p + 8]), ctx.u32(p + 16)
        e = add(lay, "", f"IP Address: {addr}, Metric: {metric}", None, p, 20)
        add(e, "rip.family", f"Address Family: {'IP' if fam == 2 else 'Unknown'} ({fam})", fam, p, 2)
        add(e, "rip.ip", f"IP Address: {addr}", addr, p + 4, 4)
        add(e, "rip.metric", f"Metric: {metric}", metric, p + 16, 4)
        p += 20


DHCP6_TYPES = {1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm", 5: "Renew", 6: "Rebind", 7: "Reply",
               8: "Release", 9: "Decline", 10: "Reconfigure", 11: "Information-request", 12: "Relay-forw",
               13: "Relay-reply"}


def dissect_dhcpv6(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    """DHCPv6 message type, transaction id and option framing."""
    s, d = tvb.start, ctx.data
    lay = ctx.layer("dhcpv6", "DHCPv6", s, tvb.captured, parent)
    tvb.check(s, 4, "DHCPv6")
    mt = d[s]
    add(lay, "dhcpv6.msgtype", f"Message type: {DHCP6_TYPES.get(mt, 'Unknown')} ({mt})", mt, s, 1)
    xid = int.from_bytes(d[s + 1:s + 4], "big")
    add(lay, "dhcpv6.xid", f"Transaction ID: 0x{xid:06x}", xid, s + 1, 3)
    p = s + 4
    while p + 4 <= tvb.cap_end:
        code, ln = ctx.u16(p), ctx.u16(p + 2)
        o = add(lay, "dhcpv6.option.type", f"Option: {code}", code, p, 4 + ln)
        add(o, "dhcpv6.option.length", f"Length: {ln}", ln, p + 2, 2)
        if ln:
            add(o, "dhcpv6.option.value", f"Value: {hexstr(d[p + 4:p + 4 + ln])}", d[p + 4:p + 4 + ln], p + 4, ln)
        p += 4 + ln


def _quic(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    s, d = tvb.start, ctx.data
    if tvb.captured < 1:
        return False
    b0 = d[s]
    long_hdr = bool(b0 & 0x80)
    if (long_hdr and d[s + 1:s + 2] == b"Q") or (not long_hdr and not b0 & 0x40):
        return _gquic(ctx, tvb, parent)
    lay = ctx.layer("quic", "QUIC IETF", s, tvb.captured, parent)
    add(lay, "quic.packet_length", f"[Packet Length: {tvb.reported}]", tvb.reported, None, None)
    flag(lay, "quic.header_form", "Header Form", b0, 0x80, 8, s, 1, "Long Header (1)", "Short Header (0)")
    flag(lay, "quic.fixed_bit", "Fixed Bit", b0, 0x40, 8, s, 1, "True", "False")
    if long_hdr and tvb.captured >= 7:
        pt = (b0 >> 4) & 3
        bitfield(lay, "quic.long.packet_type", "Packet Type", b0, 0x30, 8, s, 1,
                 f"{('Initial', '0-RTT', 'Handshake', 'Retry')[pt]} ({pt})")
        ver = ctx.u32(s + 1)
        add(lay, "quic.version", f"Version: {ver} (0x{ver:08x})" if ver < 256 else f"Version: 0x{ver:08x}",
            ver, s + 1, 4)
        p = s + 5
        for which, title in (("dcid", "Destination"), ("scid", "Source")):
            if p >= tvb.cap_end:
                break
            ln = d[p]
            add(lay, f"quic.{which}l", f"{title} Connection ID Length: {ln}", ln, p, 1)
            if ln and p + 1 + ln <= tvb.cap_end:
                add(lay, f"quic.{which}", f"{title} Connection ID: {hexstr(d[p + 1:p + 1 + ln])}",
                    d[p + 1:p + 1 + ln], p + 1, ln)
            p += 1 + ln
        rest = d[p:tvb.cap_end]
    else:
        rest = d[s + 1:tvb.cap_end]
        p = s + 1
    add(lay, "quic.remaining_payload", f"Remaining Payload: {hexstr(rest[:32])}{'…' if len(rest) > 32 else ''}",
        rest, p, len(rest))
    return True


def _gquic(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    s, d = tvb.start, ctx.data
    lay = ctx.layer("gquic", "GQUIC (Google Quick UDP Internet Connections)", s, tvb.captured, parent)
    b0 = d[s]
    add(lay, "gquic.puflags", f"Public Flags: 0x{b0:02x}", b0, s, 1)
    p = s + 1
    if b0 & 0x08 and p + 8 <= tvb.cap_end:
        cid = int.from_bytes(d[p:p + 8], "big")
        add(lay, "gquic.cid", f"CID: {cid}", cid, p, 8)
        p += 8
    if b0 & 0x01 and p + 4 <= tvb.cap_end:
        v = d[p:p + 4].decode("latin-1")
        add(lay, "gquic.version", f"Version: {v}", v, p, 4)
        p += 4
    rest = d[p:tvb.cap_end]
    add(lay, "gquic.payload", f"Payload: {hexstr(rest[:32])}{'…' if len(rest) > 32 else ''}", rest, p, len(rest))
    return True


def _db_lsp_disc(ctx: Ctx, tvb: Tvb, parent: Node | None) -> bool:
    s = tvb.start
    b = ctx.data[s:tvb.cap_end]
    lay = ctx.layer("db-lsp-disc", "Dropbox LAN sync Discovery Protocol", s, len(b), parent)
    add(lay, "db-lsp-disc.text", f"Text: {b[:80].decode('latin-1')}{'…' if len(b) > 80 else ''}",
        b.decode("latin-1"), s, len(b))
    dissect_media(ctx, b, "application/json", s, len(b), parent)
    return True


reg.UDP_PORT[137] = dissect_nbns
reg.UDP_PORT[520] = dissect_rip
reg.UDP_PORT[546] = dissect_dhcpv6
reg.UDP_PORT[547] = dissect_dhcpv6
reg.UDP_PORT[443] = _quic
reg.UDP_PORT[17500] = _db_lsp_disc
