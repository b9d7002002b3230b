"""ICMP and ICMPv6 in the packet list, and the echo matching key for a per-flow pass.

Echo Info follows tshark 4.0: "Echo (ping) request  id=0x0001, seq=1/256, ttl=64" (the type
text is padded to 20 characters, seq shown in both byte orders) and for ICMPv6
"Echo (ping) request id=0x0001, seq=1, hop limit=64"; replies add " (request in N)" when the
request's frame number is known (FrameContext.request_in).  Error messages quote the offending
packet, which is dissected for frame.protocols but does not change the columns.
"""
from __future__ import annotations

import struct

from .columns import Cols, ip6, mac

ICMP_TYPES = {0: "Echo (ping) reply", 3: "Destination unreachable",
              4: "Source quench (flow control)", 5: "Redirect", 8: "Echo (ping) request",
              9: "Router advertisement", 10: "Router solicitation", 11: "Time-to-live exceeded",
              12: "Parameter problem", 13: "Timestamp request", 14: "Timestamp reply",
              15: "Information request", 16: "Information reply", 17: "Address mask request",
              18: "Address mask reply"}
UNREACH = {0: "Network unreachable", 1: "Host unreachable", 2: "Protocol unreachable",
           3: "Port unreachable", 4: "Fragmentation needed", 5: "Source route failed",
           6: "Destination network unknown", 7: "Destination host unknown",
           8: "Source host isolated", 9: "Network administratively prohibited",
           10: "Host administratively prohibited", 11: "Network unreachable for TOS",
           12: "Host unreachable for TOS", 13: "Communication administratively filtered",
           14: "Host precedence violation", 15: "Precedence cutoff in effect"}
REDIRECT = {0: "Redirect for network", 1: "Redirect for host",
            2: "Redirect for TOS and network", 3: "Redirect for TOS and host"}
TIME_EXCEEDED = {0: "Time to live exceeded in transit", 1: "Fragment reassembly time exceeded"}
_CODES = {3: UNREACH, 5: REDIRECT, 11: TIME_EXCEEDED}


def icmp(c: Cols, buf: bytes, meta, ctx) -> None:
    c.add("icmp")
    c.set_protocol("ICMP")
    itype, code = buf[0], buf[1]
    text = f"{ICMP_TYPES.get(itype, 'Unknown ICMP (obsolete or malformed?)'):<20}"
    if itype in _CODES:
        text += f" ({_CODES[itype].get(code, 'Unknown code')})"
    if itype in (0, 8, 13, 14, 15, 16, 17, 18):
        ident = int.from_bytes(buf[4:6], "big")
        seq = int.from_bytes(buf[6:8], "big")
        seq_le = int.from_bytes(buf[6:8], "little")
        text += f" id=0x{ident:04x}, seq={seq}/{seq_le}, ttl={meta.ttl}"
        text += _matched(itype == 0, ctx)
        if itype in (0, 8):
            _note_echo(c, itype == 0, ident, seq)
    c.set_info(text)
    if itype in (0, 8):
        if len(buf) > 8:
            c.add("data")
    elif itype in (3, 4, 5, 11, 12):
        _quoted(c, buf[8:], 4, ctx)


def _note_echo(c: Cols, is_reply: bool, ident: int, seq: int) -> None:
    # The matching key is in request direction so a reply finds its request.
    if c.writable:
        src, dst = (c.dst, c.src) if is_reply else (c.src, c.dst)
        c.echo = ("reply" if is_reply else "request", (src, dst, ident, seq))


def _matched(is_reply: bool, ctx) -> str:
    frame = ctx.frame
    if frame is None:
        return ""
    if is_reply and frame.request_in:
        return f" (request in {frame.request_in})"
    if not is_reply and frame.reply_in:
        return f" (reply in {frame.reply_in})"
    return ""


def _quoted(c: Cols, inner: bytes, version: int, ctx) -> None:
    """The packet inside an ICMP error: listed in frame.protocols, columns untouched."""
    if not inner:
        return
    from . import net
    saved_reported = c.reported
    c.writable = False
    try:
        if version == 4:
            net.ipv4(c, inner, _NoFrag, quoted=True)
        else:
            net.ipv6(c, inner, _NoFrag, quoted=True)
    except (IndexError, ValueError, struct.error):
        pass
    finally:
        c.writable = True
        c.reported = saved_reported


class _NoFrag:
    tcp = None
    frame = None


ICMP6_TYPES = {1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded",
               4: "Parameter Problem", 128: "Echo (ping) request", 129: "Echo (ping) reply",
               130: "Multicast Listener Query", 131: "Multicast Listener Report",
               132: "Multicast Listener Done", 133: "Router Solicitation",
               134: "Router Advertisement", 135: "Neighbor Solicitation",
               136: "Neighbor Advertisement", 137: "Redirect", 143: "Multicast Listener Report Message v2"}
UNREACH6 = {0: "no route to destination", 1: "communication with destination administratively prohibited",
            2: "beyond scope of source address", 3: "Address unreachable", 4: "Port unreachable",
            5: "source address failed ingress/egress policy", 6: "reject route to destination"}


def icmpv6(c: Cols, buf: bytes, meta, ctx) -> None:
    c.add("icmpv6")
    c.set_protocol("ICMPv6")
    itype, code = buf[0], buf[1]
    text = ICMP6_TYPES.get(itype, f"Unknown ({itype})")
    if itype == 1:
        text += f" ({UNREACH6.get(code, 'Unknown')})"
    if itype in (128, 129):
        ident = int.from_bytes(buf[4:6], "big")
        seq = int.from_bytes(buf[6:8], "big")
        text += f" id=0x{ident:04x}, seq={seq}, hop limit={meta.ttl}"
        text += _matched(itype == 129, ctx)
        _note_echo(c, itype == 129, ident, seq)
    elif itype == 135:
        text += f" for {ip6(buf[8:24])}" + _lladdr(buf[24:], 1, " from ")
    elif itype == 136:
        flags = buf[4]
        names = [n for bit, n in ((0x80, "rtr"), (0x40, "sol"), (0x20, "ovr")) if flags & bit]
        text += f" {ip6(buf[8:24])} ({', '.join(names) if names else 'none'})"
        text += _lladdr(buf[24:], 2, " is at ")
    elif itype == 133:
        text += _lladdr(buf[8:], 1, " from ")
    elif itype == 134:
        text += _lladdr(buf[16:], 1, " from ")
    c.set_info(text)
    if itype in (128, 129):
        if len(buf) > 8:
            c.add("data")
    elif itype in (1, 2, 3, 4):
        _quoted(c, buf[8:], 6, ctx)


def _lladdr(opts: bytes, wanted: int, prefix: str) -> str:
    off = 0
    while off + 2 <= len(opts):
        otype, olen = opts[off], opts[off + 1] * 8
        if olen == 0:
            break
        if otype == wanted and olen >= 8:
            return prefix + mac(opts[off + 2:off + 8])
        off += olen
    return ""
