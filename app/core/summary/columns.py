"""A small model of Wireshark's column machinery, shared by the protocol summarisers.

Dissectors in Wireshark write the Protocol and Info columns in turn: each layer overwrites or
appends, and TCP analysis prefixes are protected by a "fence" that later col_set/col_clear calls
keep.  Reproducing those semantics (rather than building strings at the end) is what makes the
Info text come out byte-identical to tshark's in the odd cases, e.g.
"[TCP Fast Retransmission] HTTP/1.1 200 OK " where HTTP replaced TCP's text after the fence.
"""
from __future__ import annotations

import socket


class Cols:
    """The five packet-list values being built for one frame."""

    __slots__ = ("protocol", "info", "fence", "src", "dst", "layers", "writable", "reported", "echo", "ip_depth", "ip_reassembled")

    def __init__(self) -> None:
        self.protocol = ""
        self.info = ""
        self.fence = 0          # Info characters before this index survive set/clear
        self.src = ""
        self.dst = ""
        self.layers: list[str] = []
        self.writable = True    # False while dissecting a packet quoted inside ICMP
        # bytes the current layer claims to have beyond the captured end (from IP/UDP lengths);
        # > 0 means a parser running off the end hit "Packet size limited during capture"
        self.reported = 0
        self.echo: tuple[str, tuple] | None = None   # ICMP echo matching key, see icmp.py
        self.ip_depth = 0              # IP headers so far (tunnels); bounded against loops
        self.ip_reassembled = False    # FrameContext.ip_payload already used by a fragment

    # -- Protocol column -------------------------------------------------------------------
    def set_protocol(self, name: str) -> None:
        if self.writable:
            self.protocol = name

    # -- Info column -------------------------------------------------------------------------
    def set_info(self, text: str) -> None:
        if self.writable:
            self.info = self.info[: self.fence] + text

    def clear_info(self) -> None:
        self.set_info("")

    def append_info(self, text: str) -> None:
        if self.writable:
            self.info += text

    def append_sep(self, sep: str, text: str) -> None:
        """col_append_sep_str: the separator only when the column already holds text."""
        if self.writable:
            self.info += (sep + text) if self.info else text

    def prepend_fence(self, text: str) -> None:
        """col_prepend_fence_fstr: put text in front and protect it."""
        if self.writable:
            self.info = text + self.info
            self.fence += len(text)

    def set_fence(self) -> None:
        if self.writable:
            self.fence = len(self.info)

    # -- addresses and protocol stack ------------------------------------------------------
    def set_addresses(self, src: str, dst: str) -> None:
        if self.writable:
            self.src, self.dst = src, dst

    def add(self, layer: str) -> None:
        self.layers.append(layer)


def mac(b: bytes) -> str:
    """Ethernet address as Wireshark prints it with name resolution off."""
    return b.hex(":")


def ip4(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, b)


def ip6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


# IP protocol numbers as Wireshark names them (ipproto_val); only the ones worth naming here.
IPPROTO_NAMES = {
    0: "IPv6 Hop-by-Hop Option", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP",
    17: "UDP", 41: "IPv6", 43: "IPv6 Routing", 44: "IPv6 Fragment", 46: "RSVP", 47: "GRE",
    50: "ESP", 51: "AH", 58: "ICMPv6", 59: "IPv6 No Next Header", 60: "IPv6 Destination Option",
    88: "EIGRP", 89: "OSPF IGP", 103: "PIM", 112: "VRRP", 132: "SCTP", 136: "UDPLite",
}
