"""Network layer of the packet list: IPv4 (with fragments), IPv6 (extension headers, fragments),
ARP/RARP and GRE tunnels.

IP sets the Source/Destination columns (a tunnel's inner header overwrites the outer one, as in
Wireshark) and bounds the payload by its length fields, which also tells whether bytes missing at
the end were cut by the capture ("Packet size limited during capture").
"""
from __future__ import annotations

import struct

from .columns import IPPROTO_NAMES, Cols, ip4, ip6, mac
from . import transport

_IP4 = struct.Struct("!BBHHHBB")


MAX_IP_DEPTH = 8


def _reassembled(c: Cols, ctx) -> bytes | None:
    """The reassembled datagram from the context, for the first fragmented header only."""
    whole = ctx.frame.ip_payload if ctx.frame is not None and not c.ip_reassembled else None
    if whole is not None:
        c.ip_reassembled = True
    return whole


def ipv4(c: Cols, buf: bytes, ctx, quoted: bool = False) -> None:
    c.ip_depth += 1
    if c.ip_depth > MAX_IP_DEPTH:
        c.add("data")
        return
    c.add("ip")
    c.set_protocol("IPv4")
    if len(buf) < 20:
        raise IndexError("short IPv4 header")
    vihl, _, total, ident, frag, ttl, proto = _IP4.unpack_from(buf)
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        c.set_info(f"Bogus IPv4 header length ({ihl}, must be at least 20)")
        return
    c.set_addresses(ip4(buf[12:16]), ip4(buf[16:20]))
    if total < ihl:
        # TSO/offloaded captures carry 0 here; Wireshark then trusts the captured length.
        total = len(buf)
    payload = buf[ihl:total]
    if not quoted:
        c.reported = _reported(total - len(buf), ctx)
    more, offset = bool(frag & 0x2000), (frag & 0x1FFF) * 8
    meta = IpMeta(4, ttl, proto)
    if more or offset:
        whole = None if quoted else _reassembled(c, ctx)
        if whole is None:
            name = IPPROTO_NAMES.get(proto, "Unknown")
            c.set_protocol("IPv4")
            c.set_info(f"Fragmented IP protocol (proto={name} {proto}, off={offset}, ID={ident:04x})")
            c.add("data")
            return
        payload = whole
        c.reported = 0
    ip_payload(c, proto, payload, meta, ctx)


def _reported(beyond: int, ctx) -> int:
    """Bytes a length field claims beyond the captured ones.  When the original wire length is
    known, a length field claiming more than the wire carried is clipped to it (tshark then
    dissects the shorter packet, e.g. a TCP Len computed from what really was sent)."""
    beyond = max(0, beyond)
    missing = getattr(ctx, "missing", None)
    return beyond if missing is None else min(beyond, missing)


class IpMeta:
    """What upper layers need from the IP header (ICMP shows ttl / hop limit)."""

    __slots__ = ("version", "ttl", "proto")

    def __init__(self, version: int, ttl: int, proto: int) -> None:
        self.version, self.ttl, self.proto = version, ttl, proto


# IPv6 extension headers that carry a next-header field, with their frame.protocols names.
_EXT_HEADERS = {0: "ipv6.hopopts", 43: "ipv6.routing", 60: "ipv6.dstopts"}


def ipv6(c: Cols, buf: bytes, ctx, quoted: bool = False) -> None:
    c.ip_depth += 1
    if c.ip_depth > MAX_IP_DEPTH:
        c.add("data")
        return
    c.add("ipv6")
    c.set_protocol("IPv6")
    if len(buf) < 40:
        raise IndexError("short IPv6 header")
    plen = int.from_bytes(buf[4:6], "big")
    nxt, hlim = buf[6], buf[7]
    c.set_addresses(ip6(buf[8:24]), ip6(buf[24:40]))
    payload = buf[40:40 + plen] if plen else buf[40:]
    if not quoted:
        c.reported = _reported(40 + plen - len(buf), ctx)
    while nxt in _EXT_HEADERS:
        c.add(_EXT_HEADERS[nxt])
        hlen = (payload[1] + 1) * 8
        nxt = payload[0]
        payload = payload[hlen:]
    if nxt == 44:
        c.add("ipv6.fraghdr")
        inner_nxt = payload[0]
        fo = int.from_bytes(payload[2:4], "big")
        ident = int.from_bytes(payload[4:8], "big")
        offset, more = fo & 0xFFF8, fo & 1
        whole = None if quoted or not (more or offset) else _reassembled(c, ctx)
        if (more or offset) and whole is None:
            c.set_info(f"IPv6 fragment (off={offset} more={'y' if more else 'n'} "
                       f"ident=0x{ident:08x} nxt={inner_nxt})")
            c.add("data")
            return
        nxt = inner_nxt
        payload = whole if (more or offset) else payload[8:]
        c.reported = 0
    ip_payload(c, nxt, payload, IpMeta(6, hlim, nxt), ctx)


def ip_payload(c: Cols, proto: int, payload: bytes, meta: IpMeta, ctx) -> None:
    if proto == 6:
        transport.tcp(c, payload, ctx)
    elif proto == 17:
        transport.udp(c, payload, ctx)
    elif proto == 1:
        from . import icmp
        icmp.icmp(c, payload, meta, ctx)
    elif proto == 58:
        from . import icmp
        icmp.icmpv6(c, payload, meta, ctx)
    elif proto == 47:
        gre(c, payload, ctx)
    elif proto == 4:
        ipv4(c, payload, ctx)
    elif proto == 41:
        ipv6(c, payload, ctx)
    elif proto == 59:
        pass
    elif proto == 2:
        igmp(c, payload)
    else:
        c.add("data")


def igmp(c: Cols, buf: bytes) -> None:
    c.add("igmp")
    itype = buf[0]
    if itype == 0x11:
        if len(buf) >= 12:
            version = 3
        else:
            version = 2 if buf[1] else 1
        group = ip4(buf[4:8])
        if group == "0.0.0.0":
            text = "Membership Query, general"
        elif version == 3 and int.from_bytes(buf[10:12], "big"):
            text = f"Membership Query, specific for source/group {group}"
        else:
            text = f"Membership Query, specific for group {group}"
    elif itype == 0x12:
        version, text = 1, f"Membership Report group {ip4(buf[4:8])}"
    elif itype == 0x16:
        version, text = 2, f"Membership Report group {ip4(buf[4:8])}"
    elif itype == 0x17:
        version, text = 2, f"Leave Group {ip4(buf[4:8])}"
    elif itype == 0x22:
        version = 3
        parts = []
        off = 8
        for _ in range(int.from_bytes(buf[6:8], "big")):
            rtype, aux, nsrc = buf[off], buf[off + 1], int.from_bytes(buf[off + 2:off + 4], "big")
            group = ip4(buf[off + 4:off + 8])
            if rtype in (2, 4) and nsrc == 0:
                parts.append(f"Join group {group} for any sources")
            elif rtype in (1, 3) and nsrc == 0:
                parts.append(f"Leave group {group}")
            else:
                parts.append(f"Group {group}")
            off += 8 + 4 * nsrc + 4 * aux
        text = "Membership Report / " + " / ".join(parts)
    else:
        version, text = 0, f"Unknown Type:0x{itype:02x}"
    c.set_protocol(f"IGMPv{version}" if version else "IGMP")
    c.set_info(text)


def gre(c: Cols, buf: bytes, ctx) -> None:
    c.add("gre")
    c.set_protocol("GRE")
    flags = int.from_bytes(buf[0:2], "big")
    ptype = int.from_bytes(buf[2:4], "big")
    off = 4
    if flags & 0x8000 or flags & 0x4000:
        off += 4                 # checksum + reserved (present when C or R is set)
    if flags & 0x2000:
        off += 4                 # key
    if flags & 0x1000:
        off += 4                 # sequence number
    c.set_info(f"Encapsulated {_GRE_TYPES.get(ptype, f'0x{ptype:04x}')}")
    inner = buf[off:]
    if ptype == 0x0800:
        ipv4(c, inner, ctx)
    elif ptype == 0x86DD:
        ipv6(c, inner, ctx)
    elif ptype == 0x6558:
        from .link import ethernet
        ethernet(c, inner, ctx)
    else:
        c.add("data")


_GRE_TYPES = {0x0800: "IP", 0x86DD: "IPv6", 0x6558: "Transparent Ethernet bridging", 0x880B: "PPP"}


def arp(c: Cols, buf: bytes) -> None:
    c.add("arp")
    hlen, plen = buf[4], buf[5]
    op = int.from_bytes(buf[6:8], "big")
    ptype = int.from_bytes(buf[2:4], "big")
    o = 8
    sha, spa = buf[o:o + hlen], buf[o + hlen:o + hlen + plen]
    o += hlen + plen
    tha, tpa = buf[o:o + hlen], buf[o + hlen:o + hlen + plen]
    if len(tpa) < plen:
        raise IndexError("short ARP")

    def hw(a: bytes) -> str:
        return mac(a) if hlen == 6 else a.hex(":")

    def pa(a: bytes) -> str:
        return ip4(a) if ptype == 0x0800 and plen == 4 else a.hex(":")

    c.set_protocol("RARP" if op in (3, 4) else "DRARP" if op in (5, 6, 7) else
                   "Inverse ARP" if op in (8, 9) else "ARP")
    gratuitous = spa == tpa and op in (1, 2)
    if op == 1:
        if gratuitous:
            text = (f"ARP Announcement for {pa(tpa)}" if not any(tha)
                    else f"Gratuitous ARP for {pa(tpa)} (Request)")
        elif not any(spa) and not any(tha):
            text = f"Who has {pa(tpa)}? (ARP Probe)"
        else:
            text = f"Who has {pa(tpa)}? Tell {pa(spa)}"
    elif op == 2:
        text = (f"Gratuitous ARP for {pa(spa)} (Reply)" if gratuitous
                else f"{pa(spa)} is at {hw(sha)}")
    elif op in (3, 5, 8):
        text = f"Who is {hw(tha)}? Tell {hw(sha)}"
    elif op in (4, 6):
        text = f"{hw(tha)} is at {pa(tpa)}"
    elif op == 7:
        text = "DRARP Error"
    elif op == 9:
        text = f"{hw(sha)} is at {pa(spa)}"
    elif op in (0, 65535):
        text = f"Reserved opcode {op}"
    else:
        text = f"Unknown ARP opcode 0x{op:04x}"
    c.set_info(text)
