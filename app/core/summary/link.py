"""Link layers of the packet list: Ethernet (802.1Q, QinQ, PPPoE, 802.3/LLC), BSD loopback,
raw IP, Linux cooked capture v1/v2.

Each function consumes its header, records itself in frame.protocols, sets the hardware
addresses as Source/Destination (they stay when no network layer overwrites them, as for ARP),
and hands the rest to the network layer.
"""
from __future__ import annotations

from .columns import Cols, mac
from . import l2, net

# Ethertypes handled by the network layer; anything else ends as "data".
ETH_VLAN = {0x8100, 0x88A8, 0x9100}
ETH_PPPOE_SESSION = 0x8864
ETH_PPPOE_DISCOVERY = 0x8863

# Link types (pcap LINKTYPE_* numbers) and the first frame.protocols entry tshark shows.
LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_LOOP = 1, 0, 108
LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6 = 101, 228, 229
LINKTYPE_SLL, LINKTYPE_SLL2 = 113, 276
# DLT_RAW as numbered on some BSDs (pcapng writers on macOS/OpenBSD use these).
RAW_ALIASES = {12, 14}


def dissect_link(c: Cols, frame: bytes, linktype: int, ctx) -> None:
    if linktype == LINKTYPE_ETHERNET:
        ethernet(c, frame, ctx)
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        loopback(c, frame, linktype == LINKTYPE_LOOP, ctx)
    elif linktype == LINKTYPE_RAW or linktype in RAW_ALIASES:
        c.add("raw")
        raw_ip(c, frame, ctx)
    elif linktype == LINKTYPE_IPV4:
        net.ipv4(c, frame, ctx)
    elif linktype == LINKTYPE_IPV6:
        net.ipv6(c, frame, ctx)
    elif linktype == LINKTYPE_SLL:
        sll(c, frame, ctx)
    elif linktype == LINKTYPE_SLL2:
        sll2(c, frame, ctx)
    else:
        # No dissector for this encapsulation: the whole frame is undissected data.
        c.set_protocol("UNKNOWN")
        c.set_info(f"Link type {linktype} not supported")
        c.add("data")


def raw_ip(c: Cols, buf: bytes, ctx) -> None:
    version = buf[0] >> 4 if buf else 0
    if version == 4:
        net.ipv4(c, buf, ctx)
    elif version == 6:
        net.ipv6(c, buf, ctx)
    else:
        c.add("data")


def ethernet(c: Cols, frame: bytes, ctx) -> None:
    c.add("eth")
    if len(frame) < 14:
        raise IndexError("short ethernet header")
    c.set_addresses(mac(frame[6:12]), mac(frame[0:6]))
    c.set_protocol("Ethernet")
    etype = int.from_bytes(frame[12:14], "big")
    if etype <= 1500:
        # 802.3 length field: LLC follows; the length bounds the payload (trailer excluded).
        l2.llc(c, frame[14:14 + etype], ctx)
        return
    ethertype(c, etype, frame[14:], ctx)


def ethertype(c: Cols, etype: int, buf: bytes, ctx) -> None:
    """The payload of an Ethernet/VLAN/SLL header selected by an ethertype."""
    c.add("ethertype")
    while etype in ETH_VLAN:
        c.add("vlan")
        if len(buf) < 4:
            raise IndexError("short vlan tag")
        etype = int.from_bytes(buf[2:4], "big")
        buf = buf[4:]
        if etype <= 1500:
            l2.llc(c, buf[:etype], ctx)
            return
        c.add("ethertype")
    if etype == 0x0800:
        net.ipv4(c, buf, ctx)
    elif etype == 0x86DD:
        net.ipv6(c, buf, ctx)
    elif etype in (0x0806, 0x8035):
        net.arp(c, buf)
    elif etype == ETH_PPPOE_SESSION:
        pppoe_session(c, buf, ctx)
    elif etype == ETH_PPPOE_DISCOVERY:
        c.add("pppoed")
        c.set_protocol("PPPoED")
        c.set_info(_PPPOED_CODES.get(buf[1], f"Unknown (0x{buf[1]:02x})"))
    elif etype == 0x88CC:
        l2.lldp(c, buf)
    else:
        c.add("data")


def pppoe_session(c: Cols, buf: bytes, ctx) -> None:
    c.add("pppoes")
    c.set_protocol("PPPoES")
    length = int.from_bytes(buf[4:6], "big")
    payload = buf[6:6 + length]
    c.add("ppp")
    c.set_protocol("PPP")
    proto = int.from_bytes(payload[0:2], "big")
    if proto == 0x0021:
        net.ipv4(c, payload[2:], ctx)
    elif proto == 0x0057:
        net.ipv6(c, payload[2:], ctx)
    elif proto in _PPP_CONTROL:
        layer, name = _PPP_CONTROL[proto]
        c.add(layer)
        c.set_protocol(name)
        code = payload[2]
        codes = _CHAP_CODES if layer == "chap" else _PAP_CODES if layer == "pap" else _PPP_CODES
        c.set_info(codes.get(code, f"Unknown (0x{code:02x})"))
    else:
        c.add("data")


_PPPOED_CODES = {0x09: "Active Discovery Initiation (PADI)", 0x07: "Active Discovery Offer (PADO)",
                 0x19: "Active Discovery Request (PADR)",
                 0x65: "Active Discovery Session-confirmation (PADS)",
                 0xA7: "Active Discovery Terminate (PADT)"}
_PPP_CONTROL = {0xC021: ("lcp", "PPP LCP"), 0x8021: ("ipcp", "PPP IPCP"),
                0x8057: ("ipv6cp", "PPP IPV6CP"), 0xC023: ("pap", "PPP PAP"),
                0xC223: ("chap", "PPP CHAP")}
_PPP_CODES = {1: "Configuration Request", 2: "Configuration Ack", 3: "Configuration Nak",
              4: "Configuration Reject", 5: "Termination Request", 6: "Termination Ack",
              7: "Code Reject", 8: "Protocol Reject", 9: "Echo Request", 10: "Echo Reply",
              11: "Discard Request", 12: "Identification"}
_CHAP_CODES = {1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}
_PAP_CODES = {1: "Authenticate-Request", 2: "Authenticate-Ack", 3: "Authenticate-Nak"}


def loopback(c: Cols, frame: bytes, network_order: bool, ctx) -> None:
    c.add("null")
    c.set_protocol("NULL")
    raw = frame[0:4]
    if len(raw) < 4:
        raise IndexError("short loopback header")
    family = int.from_bytes(raw, "big" if network_order else "little")
    if not network_order and family > 0xFFFF:
        # Written on a host of the other byte order: Wireshark guesses the same way.
        family = int.from_bytes(raw, "big")
    buf = frame[4:]
    if family == 2:
        net.ipv4(c, buf, ctx)
    elif family in (10, 23, 24, 28, 30):
        net.ipv6(c, buf, ctx)
    else:
        c.add("data")


def sll(c: Cols, frame: bytes, ctx) -> None:
    c.add("sll")
    c.set_protocol("SLL")
    if len(frame) < 16:
        raise IndexError("short SLL header")
    halen = int.from_bytes(frame[4:6], "big")
    hatype = int.from_bytes(frame[2:4], "big")
    _sll_source(c, hatype, frame[6:6 + min(halen, 8)])
    proto = int.from_bytes(frame[14:16], "big")
    _sll_payload(c, hatype, proto, frame[16:], ctx)


def sll2(c: Cols, frame: bytes, ctx) -> None:
    c.add("sll")
    c.set_protocol("SLL")
    if len(frame) < 20:
        raise IndexError("short SLL2 header")
    proto = int.from_bytes(frame[0:2], "big")
    hatype = int.from_bytes(frame[8:10], "big")
    halen = frame[11]
    _sll_source(c, hatype, frame[12:12 + min(halen, 8)])
    _sll_payload(c, hatype, proto, frame[20:], ctx)


def _sll_source(c: Cols, hatype: int, addr: bytes) -> None:
    # Only a source address is captured; Destination stays empty.
    if len(addr) == 6:
        c.set_addresses(mac(addr), "")
    elif addr:
        c.set_addresses(addr.hex(":"), "")


def _sll_payload(c: Cols, hatype: int, proto: int, buf: bytes, ctx) -> None:
    if proto == 0x0004:          # 802.2 LLC frames
        l2.llc(c, buf, ctx)
    elif proto < 0x0600:
        c.add("data")
    else:
        ethertype(c, proto, buf, ctx)
