"""Vectorised decoding of the header fields the packet list and the filters need.

All packets of a chunk are decoded together: a small state machine keeps, per packet, the offset
of the next header and what that header is; each step decodes one kind of header for every packet
that is at one, with numpy gathers over the memory-mapped file. Tunnels, stacked VLAN tags, IPv6
extension headers and PPPoE are just more steps, so no packet needs a Python loop of its own.

Values recorded are those of the *first* occurrence of each header (as tshark's fields show), and
for the Source/Destination columns those of the *last* network layer (as Wireshark's columns do,
an inner tunnelled IP overwriting the outer one).
"""
from __future__ import annotations

import numpy as np

from app.core.pcapfile import u16be, u32be

# Header kinds of the state machine.
DONE, ETH, VLAN, IPV4, IPV6, ARP, SLL, SLL2, NULL_HOST, NULL_NET, RAWIP, PPPOE, PPP, GRE = range(14)
TCP, UDP, ICMP, ICMPV6, IP6EXT, IP6FRAG, LLC = range(20, 27)

LINK_START = {1: ETH, 0: NULL_HOST, 108: NULL_NET, 101: RAWIP, 228: IPV4, 229: IPV6,
              113: SLL, 276: SLL2, 12: RAWIP, 14: RAWIP}
SUPPORTED_LINKTYPES = frozenset(LINK_START)
ETHERTYPE_NEXT = {0x0800: IPV4, 0x86DD: IPV6, 0x0806: ARP, 0x8035: ARP, 0x8100: VLAN, 0x88A8: VLAN,
                  0x9100: VLAN, 0x8864: PPPOE}
IPPROTO_NEXT = {6: TCP, 17: UDP, 1: ICMP, 58: ICMPV6, 4: IPV4, 41: IPV6, 47: GRE,
                0: IP6EXT, 43: IP6EXT, 60: IP6EXT, 44: IP6FRAG}

# Bits of the ``flags`` column.
F_MALFORMED = 1  # a header claimed more bytes than the packet holds
F_FRAGMENT = 2  # an IP fragment whose transport header is not in this packet
F_TUNNEL = 4  # more than one network layer (GRE, IP-in-IP)
F_UNKNOWN_LINK = 8
F_CUT = 16  # captured length shorter than the wire length
F_REASSEMBLED = 32  # the last fragment of a datagram: its transport comes from the reassembly
F_QUOTED = 64  # an ICMP error quoting the headers of the packet it reports on

ICMP_ERRORS = {1: (3, 4, 5, 11, 12), 58: (1, 2, 3, 4)}

# Columns produced, with their dtype and "absent" value.
COLUMNS: dict[str, tuple[str, int]] = {
    "flags": ("u1", 0),
    "eth_src": ("u8", 0), "eth_dst": ("u8", 0), "eth_type": ("i4", -1),
    "vlan_id": ("i2", -1), "vlan_count": ("u1", 0),
    "sll_pkttype": ("i2", -1), "null_family": ("i8", -1),
    "l3": ("u1", 0),  # 4 or 6 for the first IP layer, 0x06 << 4 for ARP (see L3_ARP)
    "ip_hdr": ("i4", -1),  # frame offset of the first IP header
    "ip_proto": ("i2", -1), "ip_ttl": ("i2", -1), "ip_id": ("i4", -1), "ip_len": ("i4", -1),
    "ip_flags": ("i2", -1), "ip_frag": ("i4", -1),
    "net_hdr": ("i4", -1),  # frame offset of the last IP header (the Source/Destination one)
    "l4": ("u1", 0),  # IP protocol number of the transport decoded (6, 17, 1, 58) or 0
    "l4_hdr": ("i4", -1),
    "sport": ("i4", -1), "dport": ("i4", -1),
    "tcp_flags": ("i4", -1), "tcp_hlen": ("i2", -1), "tcp_win": ("i4", -1),
    "seq": ("u4", 0), "ack": ("u4", 0),
    "icmp_type": ("i2", -1), "icmp_code": ("i2", -1),
    "pl_off": ("i4", -1),  # frame offset of the transport payload
    "pl_len": ("i4", -1),  # payload length by the headers (tcp.len, udp.length - 8)
    "arp_hdr": ("i4", -1),
    # The transport header quoted inside an ICMP error (tshark dissects it and counts the
    # frame into the quoted datagram's conversation).
    "q_l4": ("u1", 0), "q_sport": ("i4", -1), "q_dport": ("i4", -1),
}
L3_ARP = 0x60


def empty_columns(n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, fill, dtype=dt) for name, (dt, fill) in COLUMNS.items()}


class _Decoder:
    """One chunk's decoding state: ``cur`` offsets and ``kind`` of the next header per packet."""

    def __init__(self, data: np.ndarray, start: np.ndarray, caplen: np.ndarray,
                 wirelen: np.ndarray, linktype: np.ndarray) -> None:
        n = len(start)
        self.data = data
        self.base = start.astype(np.int64)
        self.end = self.base + caplen.astype(np.int64)
        self.wire_end = self.base + wirelen.astype(np.int64)
        self.cols = empty_columns(n)
        self.cur = self.base.copy()
        self.kind = np.full(n, DONE, dtype=np.int8)
        # Remaining bytes that belong to the current network layer's payload (by its length
        # field); transport lengths come from it, not from what happened to be captured.
        self.ip_rest = np.full(n, -1, dtype=np.int64)
        for lt, kind in LINK_START.items():
            self.kind[linktype == lt] = kind
        unknown = ~np.isin(linktype, list(LINK_START))
        self.cols["flags"][unknown] |= F_UNKNOWN_LINK
        self.cols["flags"][caplen < wirelen] |= F_CUT

    def take(self, kind: int, need: int) -> np.ndarray:
        """Indices of packets at a ``kind`` header; those without ``need`` bytes are malformed."""
        idx = np.flatnonzero(self.kind == kind)
        if len(idx) == 0:
            return idx
        short = self.cur[idx] + need > self.end[idx]
        if short.any():
            bad = idx[short]
            self.cols["flags"][bad] |= F_MALFORMED
            self.kind[bad] = DONE
            idx = idx[~short]
        return idx

    def u8(self, idx: np.ndarray, at: int) -> np.ndarray:
        return self.data[self.cur[idx] + at].astype(np.int64)

    def u16(self, idx: np.ndarray, at: int) -> np.ndarray:
        return u16be(self.data, self.cur[idx] + at).astype(np.int64)

    def u32(self, idx: np.ndarray, at: int) -> np.ndarray:
        return u32be(self.data, self.cur[idx] + at)

    def mac(self, idx: np.ndarray, at: int) -> np.ndarray:
        hi = self.u16(idx, at).astype(np.uint64)
        lo = self.u32(idx, at + 2).astype(np.uint64)
        return (hi << np.uint64(32)) | lo

    def first(self, name: str, idx: np.ndarray, values) -> None:
        """Set column ``name`` for packets that do not have it yet (first occurrence wins)."""
        col = self.cols[name]
        fill = COLUMNS[name][1]
        unset = col[idx] == fill
        col[idx[unset]] = values[unset] if isinstance(values, np.ndarray) else values

    def go(self, idx: np.ndarray, advance, ethertype: np.ndarray | None = None, kinds=None) -> None:
        self.cur[idx] += advance
        if ethertype is not None:
            nxt = np.full(len(idx), DONE, dtype=np.int8)
            for et, k in ETHERTYPE_NEXT.items():
                nxt[ethertype == et] = k
            # IEEE 802.3 length field: an LLC frame (CDP, STP) follows.
            nxt[ethertype <= 1500] = LLC
            self.kind[idx] = nxt
        elif kinds is not None:
            self.kind[idx] = kinds


def decode(data: np.ndarray, start: np.ndarray, caplen: np.ndarray, wirelen: np.ndarray,
           linktype: np.ndarray) -> dict[str, np.ndarray]:
    """Decode the headers of packets whose bytes start at ``start`` in ``data``.

    Returns the columns of ``COLUMNS``; offsets in them are relative to each packet's start.
    """
    d = _Decoder(data, start, caplen, wirelen, linktype)
    c = d.cols
    for _ in range(16):  # bounded: a crafted packet cannot loop through tunnels forever
        if not (d.kind != DONE).any():
            break
        _link_layers(d)
        _network_layers(d)
        _transport_layers(d)
        # LLC frames end the walk: the summary decodes their few protocols from the bytes.
        d.kind[d.kind == LLC] = DONE
    for name in ("ip_hdr", "net_hdr", "l4_hdr", "pl_off", "arp_hdr"):
        col = c[name]
        has = col >= 0
        col[has] -= d.base[has].astype(col.dtype)
    return c


def _link_layers(d: _Decoder) -> None:
    idx = d.take(ETH, 14)
    if len(idx):
        d.first("eth_dst", idx, d.mac(idx, 0))
        d.first("eth_src", idx, d.mac(idx, 6))
        et = d.u16(idx, 12)
        d.first("eth_type", idx, et)
        d.go(idx, 14, ethertype=et)
    idx = d.take(VLAN, 4)
    if len(idx):
        d.first("vlan_id", idx, d.u16(idx, 0) & 0x0FFF)
        d.cols["vlan_count"][idx] += 1
        d.go(idx, 4, ethertype=d.u16(idx, 2))
    idx = d.take(SLL, 16)
    if len(idx):
        d.cols["sll_pkttype"][idx] = d.u16(idx, 0)
        d.go(idx, 16, ethertype=d.u16(idx, 14))
    idx = d.take(SLL2, 20)
    if len(idx):
        d.cols["sll_pkttype"][idx] = d.u8(idx, 10)
        d.go(idx, 20, ethertype=d.u16(idx, 0))
    for kind, little in ((NULL_HOST, True), (NULL_NET, False)):
        idx = d.take(kind, 4)
        if len(idx):
            raw = d.u32(idx, 0).astype(np.int64)
            if little:  # host order of the capturing machine: decide by which reading is small
                swapped = ((raw & 0xFF) << 24) | ((raw & 0xFF00) << 8) | ((raw >> 8) & 0xFF00) | (raw >> 24)
                raw = np.where(raw > 0xFFFF, swapped, raw)
            d.cols["null_family"][idx] = raw
            nxt = np.full(len(idx), DONE, dtype=np.int8)
            nxt[raw == 2] = IPV4
            nxt[np.isin(raw, (24, 28, 30))] = IPV6
            d.go(idx, 4, kinds=nxt)
    idx = d.take(RAWIP, 1)
    if len(idx):
        ver = d.u8(idx, 0) >> 4
        nxt = np.full(len(idx), DONE, dtype=np.int8)
        nxt[ver == 4] = IPV4
        nxt[ver == 6] = IPV6
        d.go(idx, 0, kinds=nxt)
    idx = d.take(PPPOE, 8)
    if len(idx):
        proto = d.u16(idx, 6)
        nxt = np.full(len(idx), DONE, dtype=np.int8)
        nxt[proto == 0x0021] = IPV4
        nxt[proto == 0x0057] = IPV6
        d.go(idx, 8, kinds=nxt)
    idx = d.take(GRE, 4)
    if len(idx):
        flags = d.u16(idx, 0)
        hlen = 4 + 4 * ((flags >> 15) & 1) + 4 * ((flags >> 13) & 1) + 4 * ((flags >> 12) & 1)
        d.go(idx, hlen, ethertype=d.u16(idx, 2))


def _network_layers(d: _Decoder) -> None:
    c = d.cols
    idx = d.take(IPV4, 20)
    if len(idx):
        ihl = (d.u8(idx, 0) & 0x0F) * 4
        bad = ihl < 20
        total = d.u16(idx, 2)
        flags_frag = d.u16(idx, 6)
        proto = d.u8(idx, 9)
        here = d.cur[idx]
        sel, unset = _ip_header(d, idx, 4, proto, total, ttl_at=8)
        c["ip_id"][sel] = d.u16(sel, 4)
        c["ip_flags"][sel] = flags_frag[unset] >> 13
        c["ip_frag"][sel] = flags_frag[unset] & 0x1FFF
        # Like tshark, a total length beyond the frame's reported length is trimmed to it.
        d.ip_rest[idx] = np.minimum(total, d.wire_end[idx] - here) - ihl
        frag = ((flags_frag & 0x2000) != 0) | ((flags_frag & 0x1FFF) != 0)
        c["flags"][idx[frag]] |= F_FRAGMENT
        nxt = np.full(len(idx), DONE, dtype=np.int8)
        for p, k in IPPROTO_NEXT.items():
            if k not in (IP6EXT, IP6FRAG):
                nxt[proto == p] = k
        nxt[frag | bad] = DONE
        c["flags"][idx[bad]] |= F_MALFORMED
        d.go(idx, np.maximum(ihl, 20), kinds=nxt)
    idx = d.take(IPV6, 40)
    if len(idx):
        plen = d.u16(idx, 4)
        nh = d.u8(idx, 6)
        here = d.cur[idx]
        _ip_header(d, idx, 6, nh, plen, ttl_at=7)
        d.ip_rest[idx] = np.minimum(plen, d.wire_end[idx] - here - 40)
        d.go(idx, 40, kinds=_ipproto_kinds(nh))
    idx = d.take(IP6EXT, 8)
    if len(idx):
        nh = d.u8(idx, 0)
        hlen = (d.u8(idx, 1) + 1) * 8
        d.ip_rest[idx] -= hlen
        d.go(idx, hlen, kinds=_ipproto_kinds(nh))
    idx = d.take(IP6FRAG, 8)
    if len(idx):
        nh = d.u8(idx, 0)
        offm = d.u16(idx, 2)
        c["flags"][idx] |= F_FRAGMENT
        d.ip_rest[idx] -= 8
        # Only the first fragment carries the transport header, and tshark decodes it only
        # once reassembled: stop here and leave the reassembly to the per-packet summary.
        d.go(idx, 8, kinds=np.full(len(idx), DONE, dtype=np.int8))
        del nh, offm
    idx = d.take(ARP, 8)
    if len(idx):
        c["l3"][idx] = np.where(c["l3"][idx] == 0, L3_ARP, c["l3"][idx])
        d.first("arp_hdr", idx, d.cur[idx])
        d.go(idx, 0, kinds=np.full(len(idx), DONE, dtype=np.int8))


def _ip_header(d: _Decoder, idx: np.ndarray, version: int, proto: np.ndarray, length: np.ndarray,
               ttl_at: int) -> tuple[np.ndarray, np.ndarray]:
    """What IPv4 and IPv6 headers share: the first one fills the ip_* columns, every one moves
    net_hdr (the Source/Destination layer), a second one marks a tunnel.

    Returns the packets whose first IP header this is, and their mask within ``idx``."""
    c = d.cols
    here = d.cur[idx]
    c["flags"][idx[c["l3"][idx] != 0]] |= F_TUNNEL
    d.first("ip_hdr", idx, here)
    unset = c["ip_proto"][idx] == -1
    sel = idx[unset]
    c["l3"][sel] = version
    c["ip_proto"][sel] = proto[unset]
    c["ip_ttl"][sel] = d.u8(sel, ttl_at)
    c["ip_len"][sel] = length[unset]
    c["net_hdr"][idx] = here
    return sel, unset


def _ipproto_kinds(proto: np.ndarray) -> np.ndarray:
    nxt = np.full(len(proto), DONE, dtype=np.int8)
    for p, k in IPPROTO_NEXT.items():
        nxt[proto == p] = k
    return nxt


def _quoted(d: _Decoder, kind: int, proto: int) -> None:
    """Record the ports of a transport header quoted inside an ICMP error, and stop there.

    An error quotes only the first 8 bytes of the transport header (RFC 792), so a quoted TCP
    header is expected to be cut: that is not a malformed packet.
    """
    c = d.cols
    idx = np.flatnonzero((d.kind == kind) & ((c["flags"] & F_QUOTED) != 0) & (c["l4"] != 0))
    if len(idx) == 0:
        return
    fits = d.cur[idx] + 4 <= d.end[idx]
    sel = idx[fits & (c["q_l4"][idx] == 0)]
    c["q_l4"][sel] = proto
    c["q_sport"][sel] = d.u16(sel, 0)
    c["q_dport"][sel] = d.u16(sel, 2)
    d.kind[idx] = DONE


def _transport_layers(d: _Decoder) -> None:
    c = d.cols
    _quoted(d, TCP, 6)
    _quoted(d, UDP, 17)
    idx = d.take(TCP, 20)
    if len(idx):
        first = c["l4"][idx] == 0
        sel = idx[first]
        hlen = (d.u8(sel, 12) >> 4) * 4
        c["l4"][sel] = 6
        c["l4_hdr"][sel] = d.cur[sel]
        c["sport"][sel] = d.u16(sel, 0)
        c["dport"][sel] = d.u16(sel, 2)
        c["seq"][sel] = d.u32(sel, 4)
        c["ack"][sel] = d.u32(sel, 8)
        c["tcp_flags"][sel] = d.u16(sel, 12) & 0x0FFF
        c["tcp_hlen"][sel] = hlen
        c["tcp_win"][sel] = d.u16(sel, 14)
        rest = d.ip_rest[sel]
        c["pl_off"][sel] = d.cur[sel] + hlen
        c["pl_len"][sel] = np.where(rest >= hlen, rest - hlen, 0)
        c["flags"][sel[hlen < 20]] |= F_MALFORMED
        d.go(idx, 0, kinds=np.full(len(idx), DONE, dtype=np.int8))
    idx = d.take(UDP, 8)
    if len(idx):
        first = c["l4"][idx] == 0
        sel = idx[first]
        c["l4"][sel] = 17
        c["l4_hdr"][sel] = d.cur[sel]
        c["sport"][sel] = d.u16(sel, 0)
        c["dport"][sel] = d.u16(sel, 2)
        ulen = d.u16(sel, 4)
        c["pl_off"][sel] = d.cur[sel] + 8
        c["pl_len"][sel] = np.maximum(ulen - 8, 0)
        d.go(idx, 0, kinds=np.full(len(idx), DONE, dtype=np.int8))
    for kind, proto in ((ICMP, 1), (ICMPV6, 58)):
        idx = d.take(kind, 4)
        if len(idx):
            first = c["l4"][idx] == 0
            sel = idx[first]
            c["l4"][sel] = proto
            c["l4_hdr"][sel] = d.cur[sel]
            c["icmp_type"][sel] = d.u8(sel, 0)
            c["icmp_code"][sel] = d.u8(sel, 1)
            # An ICMP error quotes the packet it reports on: its IP and transport headers are
            # decoded too (as more occurrences), but never become this frame's own transport.
            error = first & np.isin(d.u8(idx, 0), ICMP_ERRORS[proto])
            nxt = np.full(len(idx), DONE, dtype=np.int8)
            nxt[error] = IPV4 if proto == 1 else IPV6
            c["flags"][idx[error]] |= F_QUOTED
            d.go(idx, np.where(error, 8, 0), kinds=nxt)
