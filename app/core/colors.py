"""Wireshark's default colouring rules, evaluated for one packet-list row.

The rules and their order are those of Wireshark's default ``colorfilters`` file; the first rule
that matches names the row's colour. Only the rules whose protocols Wirelens decodes are kept.
Each rule maps to a CSS class (``static/css/wirelens.css`` holds Wireshark's colours).
"""
from __future__ import annotations

from app.core import layers
from app.core.indexview import CaptureIndex
from app.core.tcp.flags import FLAG_BITS

BAD_TCP_EXCLUDED = ("window_update", "keep_alive", "keep_alive_ack")
ROUTING = {"CDP", "HSRP", "EIGRP", "OSPF", "BGP", "VRRP", "CARP", "GVRP", "IGMP", "RIPv1", "RIPv2"}
SMB = {"SMB", "SMB2", "NBSS", "NBNS", "NBDS"}


def _bad_tcp(idx: CaptureIndex, i: int) -> bool:
    if "tcp_analysis" not in idx.cols:
        return False
    bits = int(idx["tcp_analysis"][i])
    if not bits:
        return False
    for name in BAD_TCP_EXCLUDED:
        bits &= ~FLAG_BITS[name]
    return bits != 0


def rule_for(idx: CaptureIndex, i: int, protocol: str) -> str:
    """The CSS class of the first default colouring rule that packet ``i`` matches."""
    l4 = int(idx["l4"][i])
    icmp_type = int(idx["icmp_type"][i])
    tcp_flags = int(idx["tcp_flags"][i])
    if l4 == 6 and _bad_tcp(idx, i):
        return "c-bad-tcp"
    if protocol == "STP":
        return "c-routing"
    if (l4 == 1 and icmp_type in (3, 4, 5, 11)) or (l4 == 58 and 1 <= icmp_type <= 4):
        return "c-icmp-error"
    if int(idx["l3"][i]) == layers.L3_ARP:
        return "c-arp"
    if l4 in (1, 58):
        return "c-icmp"
    if l4 == 6 and tcp_flags & 0x04:
        return "c-tcp-rst"
    ttl = int(idx["ip_ttl"][i])
    if int(idx["l3"][i]) == 4 and 0 <= ttl < 5 and not _multicast_v4(idx, i):
        return "c-ttl-low"
    if protocol in SMB:
        return "c-smb"
    if protocol.startswith("HTTP") or (l4 == 6 and 80 in (int(idx["sport"][i]), int(idx["dport"][i]))):
        return "c-http"
    if protocol in ROUTING:
        return "c-routing"
    if l4 == 6 and tcp_flags & 0x03:
        return "c-tcp-synfin"
    if l4 == 6:
        return "c-tcp"
    if l4 == 17:
        return "c-udp"
    if int(idx["eth_dst"][i]) >> 40 & 1:
        return "c-broadcast"
    return "c-default"


def _multicast_v4(idx: CaptureIndex, i: int) -> bool:
    addr = idx.address(int(idx["ip_dst"][i])) or ""
    first = addr.split(".", 1)[0]
    return first.isdigit() and 224 <= int(first) <= 239
