"""Network Time Protocol (the 48-byte NTPv1-4 header), parsed with Scapy's NTPHeader fields."""
from __future__ import annotations

from scapy.layers.ntp import NTPHeader

from . import registry as reg
from .frame import arrival_time
from .node import Ctx, Node, Tvb, add, bitfield, ipv4
from .scapyfields import walk

LEAP = {0: "no warning", 1: "last minute of the day has 61 seconds",
        2: "last minute of the day has 59 seconds", 3: "unknown (clock unsynchronized)"}
MODES = {0: "reserved", 1: "symmetric active", 2: "symmetric passive", 3: "client", 4: "server",
         5: "broadcast", 6: "reserved for NTP control message", 7: "reserved for private use"}
NTP_EPOCH_OFFSET = 2208988800


def ntp_time(raw: bytes) -> str:
    """An NTP 64-bit timestamp as Wireshark prints it (``NULL`` for zero)."""
    sec, frac = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")
    if sec == 0 and frac == 0:
        return "NULL"
    # era 0 before 1968 wraps to era 1, as RFC 4330 suggests
    unix = sec - NTP_EPOCH_OFFSET if sec & 0x80000000 else sec + 0x100000000 - NTP_EPOCH_OFFSET
    return arrival_time(unix, (frac * 1_000_000_000) >> 32)


def _stratum(v: int) -> str:
    if v == 0:
        return "unspecified or invalid (0)"
    if v == 1:
        return "primary reference (1)"
    if v < 16:
        return f"secondary reference ({v})"
    return f"reserved: {v} ({v})"


def dissect_ntp(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    """One NTP packet (control and private modes show only their first byte)."""
    s = tvb.start
    d = ctx.data
    lay = ctx.layer("ntp", "Network Time Protocol", s, tvb.captured, parent)
    tvb.check(s, 1, "NTP")
    b0 = d[s]
    li, vn, mode = b0 >> 6, (b0 >> 3) & 7, b0 & 7
    lay["label"] = f"Network Time Protocol (NTP Version {vn}, {MODES[mode]})"
    fn = add(lay, "ntp.flags", f"Flags: 0x{b0:02x}, Leap Indicator: {LEAP[li]}, Version number: NTP Version {vn}, "
             f"Mode: {MODES[mode]}", b0, s, 1)
    bitfield(fn, "ntp.flags.li", "Leap Indicator", b0, 0xC0, 8, s, 1, f"{LEAP[li]} ({li})")
    bitfield(fn, "ntp.flags.vn", "Version number", b0, 0x38, 8, s, 1, f"NTP Version {vn} ({vn})")
    bitfield(fn, "ntp.flags.mode", "Mode", b0, 0x07, 8, s, 1, f"{MODES[mode]} ({mode})")
    if mode in (6, 7):
        return
    f = walk(NTPHeader, d, s, min(tvb.cap_end, s + 48), stop_after="precision")
    tvb.check(s, 48, "NTP")
    st, poll, prec = f["stratum"], f["poll"], f["precision"]
    add(lay, "ntp.stratum", f"Peer Clock Stratum: {_stratum(st)}", st, s + 1, 1)
    add(lay, "ntp.ppoll", f"Peer Polling Interval: {poll} ({2 ** poll if 0 <= poll < 32 else 0} seconds)"
        if 0 <= poll < 32 else f"Peer Polling Interval: invalid ({poll})", poll, s + 2, 1)
    add(lay, "ntp.precision", f"Peer Clock Precision: {2.0 ** prec:.6f} seconds", prec, s + 3, 1)
    rd, rdisp = ctx.u32(s + 4), ctx.u32(s + 8)
    add(lay, "ntp.rootdelay", f"Root Delay: {rd / 65536:.6f} seconds", rd / 65536, s + 4, 4)
    add(lay, "ntp.rootdispersion", f"Root Dispersion: {rdisp / 65536:.6f} seconds", rdisp / 65536, s + 8, 4)
    ref = d[s + 12:s + 16]
    if st <= 1:
        txt = ref.rstrip(b"\x00").decode("latin-1") or "NULL"
    else:
        txt = ipv4(ref)
    add(lay, "ntp.refid", f"Reference ID: {txt}", ref, s + 12, 4)
    for i, (name, title) in enumerate((("reftime", "Reference Timestamp"), ("org", "Origin Timestamp"),
                                       ("rec", "Receive Timestamp"), ("xmt", "Transmit Timestamp"))):
        o = s + 16 + 8 * i
        add(lay, f"ntp.{name}", f"{title}: {ntp_time(d[o:o + 8])}", ntp_time(d[o:o + 8]), o, 8)


def _ntp_port(ctx: Ctx, tvb: Tvb, parent: Node | None) -> None:
    dissect_ntp(ctx, tvb, parent)


reg.UDP_PORT[123] = _ntp_port
