"""Wireshark's packet-list columns for one packet, computed from its bytes.

    summarize(frame, linktype, tcp=None, *, context=None, wire_len=None) -> Summary

Summary holds the Protocol, Info, Source and Destination columns and frame.protocols as
tshark 4.0 prints them.  Pure Python byte parsing (no Scapy): a row costs tens of microseconds.
What one packet cannot know (relative TCP numbers, analysis flags, reassembly, request/reply
matching) comes in through TcpContext and FrameContext (see context.py); without them the
summary shows what the packet alone says (raw sequence numbers, no "[TCP ...]" prefixes).

Also exported: classify_app (application Protocol of a TCP/UDP payload, for the packet index;
port and prefix tables in apps.py), echo_key (ICMP request/reply matching key) and
negotiated_version (TLS version a Server Hello selects, for TcpContext.tls_version).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .apps import (QUIC_LONG_HEADER_BIT, TCP_HEURISTIC_PREFIXES, TCP_PORTS,
                   UDP_HEURISTIC_PREFIXES, UDP_PORTS, classify_app)
from .columns import Cols
from .context import FrameContext, TcpContext
from .link import dissect_link
from .tls import negotiated_version, quic_connection_ids

__all__ = [
    "Summary", "TcpContext", "FrameContext", "summarize", "classify_app", "echo_key",
    "negotiated_version", "quic_connection_ids", "TCP_PORTS", "UDP_PORTS",
    "TCP_HEURISTIC_PREFIXES", "UDP_HEURISTIC_PREFIXES", "QUIC_LONG_HEADER_BIT",
]

SIZE_LIMITED = "[Packet size limited during capture]"
MALFORMED = "[Malformed Packet]"


@dataclass
class Summary:
    protocol: str
    info: str
    source: str
    destination: str
    protocols: str


class _Ctx:
    __slots__ = ("tcp", "frame", "carried", "missing")

    def __init__(self, tcp: TcpContext | None, frame: FrameContext | None,
                 missing: int | None = None) -> None:
        self.tcp, self.frame = tcp, frame
        self.carried = 0      # bytes of the dissected TCP data that came from earlier segments
        self.missing = missing  # bytes the capture dropped at the end (None: unknown)


def _dissect(frame: bytes, linktype: int, tcp: TcpContext | None,
             context: FrameContext | None, wire_len: int | None) -> Cols:
    c = Cols()
    try:
        missing = None if wire_len is None else max(0, wire_len - len(frame))
        dissect_link(c, frame, linktype, _Ctx(tcp, context, missing))
    except (IndexError, struct.error, ValueError, KeyError):
        # Running off the captured bytes: tshark distinguishes bytes the capture dropped
        # (snaplen) from a packet whose own lengths do not add up.
        if c.reported > 0 or (wire_len is not None and wire_len > len(frame)):
            c.writable = True
            c.append_info(SIZE_LIMITED)
        else:
            c.writable = True
            c.append_info(MALFORMED)
            c.add("_ws.malformed")
    return c


def summarize(frame: bytes, linktype: int, tcp: TcpContext | None = None, *,
              context: FrameContext | None = None, wire_len: int | None = None) -> Summary:
    """The packet-list columns of one frame (linktype: pcap LINKTYPE_* number).

    wire_len (the original length on the wire) only refines how a frame that ends early is
    reported; leave it None when unknown."""
    c = _dissect(frame, linktype, tcp, context, wire_len)
    return Summary(c.protocol, c.info, c.src, c.dst, ":".join(c.layers))


def echo_key(frame: bytes, linktype: int) -> tuple[str, tuple] | None:
    """("request" | "reply", key) for an ICMP/ICMPv6 echo, else None.

    The key (request source, request destination, identifier, sequence number) is the same for a
    request and its reply, so a per-flow pass can map each reply to the latest earlier request
    with that key and pass FrameContext(request_in=...) to summarize()."""
    return _dissect(frame, linktype, None, None, None).echo
