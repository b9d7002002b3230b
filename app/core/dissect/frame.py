"""The Frame layer (Wireshark's first tree item): timestamps, lengths, interface, comments."""
from __future__ import annotations

import time

from .meta import FrameMeta
from .node import Node, add, expert, mk, text

# pcap LINKTYPE -> (Wireshark WTAP_ENCAP number, encapsulation name) as frame.encap_type shows it
ENCAPS: dict[int, tuple[int, str]] = {
    1: (1, "Ethernet"),
    0: (15, "NULL/Loopback"),
    108: (174, "OpenBSD loopback"),
    101: (7, "Raw IP"),
    12: (7, "Raw IP"),
    14: (7, "Raw IP"),
    228: (129, "Raw IPv4"),
    229: (130, "Raw IPv6"),
    113: (25, "Linux cooked-mode capture v1"),
    276: (210, "Linux cooked-mode capture v2"),
}


def _bytes_bits(n: int) -> str:
    return f"{n} bytes ({n * 8} bits)"


def _secs(x: float) -> str:
    return f"{x:.9f} seconds"


def arrival_time(sec: int, nsec: int) -> str:
    """Arrival time as Wireshark prints it, in UTC: ``Jun 29, 2010 19:41:35.135052000 UTC``."""
    try:
        t = time.gmtime(sec)
    except (OverflowError, OSError, ValueError):
        return f"{sec}.{nsec:09d}"
    return f"{time.strftime('%b', t)} {t.tm_mday:2d}, {t.tm_year} " \
           f"{time.strftime('%H:%M:%S', t)}.{nsec:09d} UTC"


def frame_node(meta: FrameMeta, linktype: int) -> Node:
    """The frame layer; ``frame.protocols`` is filled in once the frame is dissected."""
    wl, cl = meta.wire_len, meta.cap_len
    label = f"Frame {meta.number}: {wl} bytes on wire ({wl * 8} bits), {cl} bytes captured ({cl * 8} bits)"
    if meta.has_interface_id:
        if meta.interface_name:
            label += f" on interface {meta.interface_name}, id {meta.interface_id}"
        else:
            label += f" on unnamed interface, id {meta.interface_id}"
    fr = mk("frame", label, None, 0, cl)
    if meta.comments:
        # Wireshark 4.0 shows comments in a "Packet comments" tree beside the frame tree; here it
        # sits first inside the frame node so that the frame stays the first layer.
        pc = add(fr, "pkt_comment", "Packet comments", None, 0, 0)
        for c in meta.comments:
            cn = add(pc, "frame.comment", c, c, 0, 0)
            expert(cn, c, "Comment", "Comment", 0, 0)
    if meta.has_interface_id:
        shown = meta.interface_name or "unknown"
        iid = add(fr, "frame.interface_id", f"Interface id: {meta.interface_id} ({shown})",
                  meta.interface_id, 0, 0)
        if meta.interface_name:
            add(iid, "frame.interface_name", f"Interface name: {meta.interface_name}",
                meta.interface_name, 0, 0)
    enc_num, enc_name = ENCAPS.get(linktype, (0, "Unknown"))
    add(fr, "frame.encap_type", f"Encapsulation type: {enc_name} ({enc_num})", enc_num, 0, 0)
    arrival = arrival_time(meta.epoch_sec, meta.epoch_nsec)
    add(fr, "frame.time", f"Arrival Time: {arrival}", arrival, 0, 0)
    add(fr, "frame.offset_shift", f"[Time shift for this packet: {_secs(0.0)}]", 0.0, 0, 0)
    epoch_txt = f"{meta.epoch_sec}.{meta.epoch_nsec:09d}"
    add(fr, "frame.time_epoch", f"Epoch Time: {epoch_txt} seconds",
        meta.epoch_sec + meta.epoch_nsec / 1e9, 0, 0)
    if meta.time_delta is not None:
        add(fr, "frame.time_delta", f"[Time delta from previous captured frame: {_secs(meta.time_delta)}]",
            meta.time_delta, 0, 0)
    add(fr, "frame.time_relative", f"[Time since reference or first frame: {_secs(meta.time_relative)}]",
        meta.time_relative, 0, 0)
    add(fr, "frame.number", f"Frame Number: {meta.number}", meta.number, 0, 0)
    add(fr, "frame.len", f"Frame Length: {_bytes_bits(wl)}", wl, 0, 0)
    add(fr, "frame.cap_len", f"Capture Length: {_bytes_bits(cl)}", cl, 0, 0)
    add(fr, "frame.marked", "[Frame is marked: False]", False, 0, 0)
    add(fr, "frame.ignored", "[Frame is ignored: False]", False, 0, 0)
    return fr


def set_protocols(fr: Node, protocols: list[str]) -> None:
    """Add the ``[Protocols in frame: ...]`` line once the layers are known."""
    p = ":".join(protocols)
    add(fr, "frame.protocols", f"[Protocols in frame: {p}]", p, 0, 0)


def unknown_note(fr: Node, linktype: int) -> None:
    """Explain that the link type has no dissector here."""
    text(fr, f"[Link type {linktype} is not dissected]")
