"""Choosing the application protocol of a TCP/UDP payload, as tshark 4.0 does by default, and
the classifier entry point for the packet index.

Selection order (Wireshark's decode_tcp_ports / decode_udp_ports): the dissector registered for
the lower port, then the one for the higher port, then the heuristic dissectors; a dissector may
reject a payload that is not its protocol, and then the next candidate is tried.  Payloads nobody
claims are "data" and keep Protocol TCP/UDP.

Pre-filtering for the index (no false negatives for what this module can name):
  * a TCP payload can only be named when one of its ports is in TCP_PORTS, or it starts with one
    of TCP_HEURISTIC_PREFIXES (HTTP request/response lines that tshark's HTTP heuristic finds
    on any port: a first line starting or ending with "HTTP/1.x");
  * a UDP payload can only be named when one of its ports is in UDP_PORTS, or it starts with
    one of UDP_HEURISTIC_PREFIXES (SIP and SSDP start lines on other ports), or it may be QUIC:
    first byte & QUIC_LONG_HEADER_BIT (IETF QUIC long header), or first byte & 0x09 == 0x09
    with bytes 9:11 == b"Q0" (gQUIC header with version), or the conversation is already
    known to be QUIC/gQUIC (classify_app's conversation argument).
Everything else is plain TCP/UDP without looking at the payload.
"""
from __future__ import annotations

import struct

from .columns import Cols
from . import dns, http, textproto, tls, udpapps

# port -> dissector key; the HTTP list is Wireshark's default http.tcp.port range.
TCP_PORTS: dict[int, str] = {
    **{p: "http" for p in (80, 3128, 3132, 5985, 8080, 8088, 11371, 1900, 2869, 2710)},
    **{p: "tls" for p in (443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061)},
    21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 5353: "mdns", 5355: "llmnr",
}
UDP_PORTS: dict[int, str] = {
    53: "dns", 5353: "mdns", 5355: "llmnr", 137: "nbns", 67: "dhcp", 68: "dhcp",
    123: "ntp", 1900: "ssdp", 5060: "sip", 443: "quic", 80: "quic", 546: "dhcpv6", 547: "dhcpv6",
    520: "rip", 17500: "db-lsp-disc", 111: "rpc", 2049: "rpc",
}
TCP_HEURISTIC_PREFIXES: tuple[bytes, ...] = http.REQUEST_PREFIXES + (b"HTTP/",)
UDP_HEURISTIC_PREFIXES: tuple[bytes, ...] = textproto.SIP_PREFIXES + (b"M-SEARCH ", b"NOTIFY ")
QUIC_LONG_HEADER_BIT = 0x80

_TCP_HANDLERS = {
    "http": http.http_tcp,
    "tls": tls.tls,
    "ftp": textproto.ftp,
    "ssh": textproto.ssh,
    "smtp": textproto.smtp,
    "dns": lambda c, d, sp, dp, ctx: dns.dns_tcp(c, d, "DNS"),
    "mdns": lambda c, d, sp, dp, ctx: dns.dns_tcp(c, d, "MDNS"),
    "llmnr": lambda c, d, sp, dp, ctx: dns.dns_tcp(c, d, "LLMNR"),
}
_UDP_HANDLERS = {
    "dns": lambda c, d, sp, dp, ctx: dns.dns(c, d, "DNS"),
    "mdns": lambda c, d, sp, dp, ctx: dns.dns(c, d, "MDNS"),
    "llmnr": lambda c, d, sp, dp, ctx: dns.dns(c, d, "LLMNR"),
    "nbns": lambda c, d, sp, dp, ctx: dns.nbns(c, d),
    "dhcp": lambda c, d, sp, dp, ctx: udpapps.dhcp(c, d),
    "dhcpv6": lambda c, d, sp, dp, ctx: udpapps.dhcpv6(c, d),
    "ntp": lambda c, d, sp, dp, ctx: udpapps.ntp(c, d),
    "rip": lambda c, d, sp, dp, ctx: udpapps.rip(c, d),
    "db-lsp-disc": lambda c, d, sp, dp, ctx: udpapps.db_lsp_disc(c, d),
    "rpc": lambda c, d, sp, dp, ctx: udpapps.rpc(c, d),
    "ssdp": lambda c, d, sp, dp, ctx: http.ssdp(c, d),
    "sip": lambda c, d, sp, dp, ctx: textproto.sip(c, d),
    "quic": lambda c, d, sp, dp, ctx: tls.quic(c, d, ctx),
}


def _ports(sport: int, dport: int) -> tuple[int, ...]:
    return (sport, dport) if sport <= dport else (dport, sport)


def dissect_tcp_app(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    for port in _ports(sport, dport):
        key = TCP_PORTS.get(port)
        if key is not None and _TCP_HANDLERS[key](c, data, sport, dport, ctx):
            return True
    tctx = ctx.tcp
    if tctx is not None and tctx.http_seen is not None:
        # The flow pass found HTTP dissecting this connection (tshark's heuristic claimed it).
        return http.http_tcp(c, data, sport, dport, ctx)
    if http.heuristic(data):
        # HTTP claims the payload; only a request or response line shows as HTTP.
        if data.startswith(TCP_HEURISTIC_PREFIXES) and http.looks_like_http(data):
            return http.http_message_list(c, data, ctx)
        return True
    return False


def dissect_udp_app(c: Cols, data: bytes, sport: int, dport: int, ctx) -> bool:
    frame = ctx.frame
    if frame is not None and frame.conversation in ("quic", "gquic"):
        if tls.quic(c, data, ctx):
            return True
    for port in _ports(sport, dport):
        key = UDP_PORTS.get(port)
        if key is not None and _UDP_HANDLERS[key](c, data, sport, dport, ctx):
            return True
    if data.startswith(textproto.SIP_PREFIXES) and textproto.sip(c, data):
        return True
    if data.startswith((b"M-SEARCH ", b"NOTIFY ")) and http.ssdp(c, data):
        return True
    if data[:1] and (data[0] & QUIC_LONG_HEADER_BIT or data[9:11] == b"Q0") and tls.quic(c, data, ctx):
        return True          # QUIC's heuristic: long headers on any port
    return False


def tcp_segment_start(c: Cols, pdu: bytes, prior: int, sport: int, dport: int,
                      read: bool | None = None) -> None:
    """What the application dissector leaves in the columns of a segment whose PDU needs more
    segments.  pdu: the PDU's bytes so far, ending with this segment; prior: how many of them
    came from earlier segments; read: whether the dissector read the PDU in this segment
    (TcpContext.pdu_dissected), None to judge it from the bytes.

    The dissector only runs on the segment that starts the PDU, and on later ones while it
    asked TCP for "one more segment" (HTTP headers not complete yet, chunked bodies); HTTP then
    shows the request/response line, TLS clears Info and adds itself."""
    keys = {TCP_PORTS.get(p) for p in (sport, dport)}
    if ("http" in keys or pdu.startswith(TCP_HEURISTIC_PREFIXES)) and http.looks_like_http(pdu):
        if read is None:
            read = prior == 0 or http.wants_more_segments(pdu[:prior])
        if http.has_first_line(pdu) and read:
            c.set_info(http.first_line(pdu) + " ")
    elif "tls" in keys and (read if read is not None else prior == 0 and tls.starts_record(pdu)):
        c.add("tls")
        c.clear_info()


class _Context:
    """No TCP knowledge: payloads are taken to start at a PDU boundary."""

    def __init__(self, conversation: str | None) -> None:
        from .context import FrameContext
        self.tcp = None
        self.frame = FrameContext(conversation=conversation)
        self.carried = 0


def classify_app(transport: str, sport: int, dport: int, payload: bytes,
                 conversation: str | None = None) -> str | None:
    """The Protocol column tshark shows for this payload, or None when it stays plain TCP/UDP.

    Names are Wireshark's ("HTTP", "HTTP/XML", "TLSv1.2", "DNS", "MDNS", "SIP/SDP", "QUIC",
    ...).  Without reassembly knowledge the payload is judged on its own: one that starts an
    application message is named, one that looks like the middle of a message (HTTP body, TLS
    record data) is None, as tshark shows such segments as TCP.  The same choice is made by
    summarize() when tcp is None.  conversation: as FrameContext.conversation (lets QUIC
    short-header packets of a known QUIC conversation be named)."""
    if not payload:
        return None
    if transport not in ("tcp", "udp"):
        raise ValueError(f"unknown transport {transport!r}")
    c = Cols()
    ctx = _Context(conversation)
    try:
        if transport == "tcp":
            found = dissect_tcp_app(c, payload, sport, dport, ctx)
        else:
            found = dissect_udp_app(c, payload, sport, dport, ctx)
    except (IndexError, ValueError, KeyError, struct.error):
        # a payload cut short still names its protocol, as in the packet list
        found = bool(c.protocol)
    return c.protocol if found and c.protocol else None
