"""Dissector tables (Wireshark's ethertype / ip.proto / port tables) and the generic data layer.

Protocol modules register themselves here at import; dispatch goes through these tables so that the
modules do not import each other in circles. A dissector is ``fn(ctx, tvb, parent) -> int | None``:
it adds its layer (at top level, or inside ``parent`` for packets quoted by ICMP) and returns how
many bytes it claims (for link-layer trailers), or None for "everything".
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from .node import Ctx, Malformed, Node, Short, Tvb, add, hexstr

Dissector = Callable[[Ctx, Tvb, Optional[Node]], Optional[int]]

ETHERTYPE: dict[int, Dissector] = {}
IP_PROTO: dict[int, Dissector] = {}
TCP_PORT: dict[int, Dissector] = {}
UDP_PORT: dict[int, Dissector] = {}
# heuristics: fn(ctx, tvb, parent) -> bool (True when it took the payload)
TCP_HEUR: list[Callable[[Ctx, Tvb, Optional[Node]], bool]] = []
UDP_HEUR: list[Callable[[Ctx, Tvb, Optional[Node]], bool]] = []

ETHERTYPE_NAMES = {
    0x0800: "IPv4", 0x0806: "ARP", 0x8035: "RARP", 0x86DD: "IPv6", 0x8100: "802.1Q Virtual LAN",
    0x88A8: "802.1ad Provider Bridge (Q-in-Q)", 0x9100: "VLAN-tagged frame (Q-in-Q)",
    0x8863: "PPPoE Discovery", 0x8864: "PPPoE Session", 0x88CC: "802.1 Link Layer Discovery Protocol (LLDP)",
    0x888E: "802.1X Authentication", 0x8847: "MPLS label switched packet",
    0x8848: "MPLS multicast label switched packet",
    0x880B: "PPP", 0x6558: "Transparent Ethernet bridging", 0x0842: "Wake on LAN", 0x22F0: "AVTP",
    0x88E5: "802.1AE (MACsec)", 0x8809: "Slow Protocols", 0x88F7: "PTPv2 over Ethernet (IEEE1588)",
    0x0004: "802.2 LLC", 0x0001: "802.3", 0x0003: "All",
}

MAX_DEPTH = 12  # tunnels inside tunnels: stop before pathological nesting

PROTO_TITLES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "ipv6.fraghdr": "IPv6", "ipv6.hopopts": "IPv6",
                "ipv6.routing": "IPv6", "ipv6.dstopts": "IPv6", "icmpv6": "ICMPv6", "vlan": "802.1Q",
                "sll": "SLL", "null": "Null/Loopback", "data-text-lines": "Line-based text data"}


def proto_title(ctx: Ctx) -> str:
    """The name Wireshark uses in "[Malformed Packet: X]" for the protocol being dissected."""
    p = ctx.protocols[-1] if ctx.protocols else "frame"
    return PROTO_TITLES.get(p, p.upper())


def _run(fn: Dissector, ctx: Ctx, tvb: Tvb, parent: Node | None):
    """Call a dissector; reading past the bytes it was given is a cut or a malformed packet.

    Byte-level parsers index the frame directly: an IndexError (or a struct/decode error) there
    means the data ended early, which Wireshark reports like its own bounds exceptions.
    """
    try:
        return fn(ctx, tvb, parent)
    except (IndexError, struct.error, ValueError) as e:
        if tvb.cap_end < tvb.rep_end:
            raise Short(proto_title(ctx)) from e
        raise Malformed(proto_title(ctx)) from e


def etype_label(etype: int) -> str:
    """``IPv4 (0x0800)`` as Wireshark labels an EtherType."""
    return f"{ETHERTYPE_NAMES.get(etype, 'Unknown')} (0x{etype:04x})"


def data_layer(ctx: Ctx, tvb: Tvb, parent: Node | None = None, start: int | None = None) -> None:
    """Wireshark's "Data" layer for bytes no dissector claims."""
    s = tvb.start if start is None else start
    n_rep = tvb.rep_end - s
    if n_rep <= 0:
        return
    b = ctx.data[s:tvb.cap_end]
    lay = ctx.layer("data", f"Data ({n_rep} bytes)", s, len(b), parent)
    shown = hexstr(b[:48]) + ("…" if len(b) > 48 else "")
    add(lay, "data.data", f"Data: {shown}", b, s, len(b))
    add(lay, "data.len", f"[Length: {n_rep}]", n_rep, s, len(b))


def call_table(table: dict[int, Dissector], key: int, ctx: Ctx, tvb: Tvb,
               parent: Node | None) -> tuple[bool, int | None]:
    """Run the dissector registered for ``key``; (found, claimed length)."""
    fn = table.get(key)
    if fn is None:
        return False, None
    return True, _run(fn, ctx, tvb, parent)


def call_ethertype(ctx: Ctx, etype: int, tvb: Tvb, parent: Node | None,
                   add_ethertype: bool = True) -> int | None:
    """Dispatch on an EtherType (adding the "ethertype" pseudo-protocol like Wireshark)."""
    if add_ethertype:
        ctx.protocols.append("ethertype")
    if tvb.reported <= 0:
        return 0
    ctx.depth += 1
    try:
        if ctx.depth > MAX_DEPTH:
            data_layer(ctx, tvb, parent)
            return None
        found, used = call_table(ETHERTYPE, etype, ctx, tvb, parent)
        if not found:
            data_layer(ctx, tvb, parent)
        return used
    finally:
        ctx.depth -= 1


def call_ip_proto(ctx: Ctx, proto: int, tvb: Tvb, parent: Node | None) -> None:
    """Dispatch the payload of an IP packet on its protocol number."""
    if tvb.reported <= 0:
        return
    ctx.depth += 1
    try:
        if ctx.depth > MAX_DEPTH:
            data_layer(ctx, tvb, parent)
            return
        found, _ = call_table(IP_PROTO, proto, ctx, tvb, parent)
        if not found:
            data_layer(ctx, tvb, parent)
    finally:
        ctx.depth -= 1


def call_ports(table: dict[int, Dissector], heur: list, ctx: Ctx, sport: int, dport: int,
               tvb: Tvb, parent: Node | None) -> None:
    """Dispatch a TCP/UDP payload: lower port first, then the higher one, then heuristics."""
    if tvb.reported <= 0:
        return
    ctx.ports = (sport, dport)
    lo, hi = (sport, dport) if sport <= dport else (dport, sport)
    for port in (lo, hi):
        fn = table.get(port)
        if fn is not None and port != 0:
            if _run(fn, ctx, tvb, parent) is not False:
                return
    for h in heur:
        if _run(h, ctx, tvb, parent):
            return
    data_layer(ctx, tvb, parent)
