"""Writing a capture file holding a chosen set of packets (Wireshark's Export Specified Packets).

pcap captures are exported as pcap with the original file header and record bytes copied
verbatim; pcapng captures as pcapng with one interface block per interface and the packets'
comments kept, timestamps in nanoseconds.
"""
from __future__ import annotations

import io
import mmap
import struct

import numpy as np

from app.core.indexview import CaptureIndex


def export(idx: CaptureIndex, positions: np.ndarray) -> bytes:
    """The bytes of a capture file holding packets ``positions`` (0-based, in order)."""
    out = io.BytesIO()
    with open(idx.capture_path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if idx.n else None
        try:
            if idx.meta.format == "pcap":
                _pcap(idx, positions, mm, out)
            else:
                _pcapng(idx, positions, mm, out)
        finally:
            if mm is not None:
                mm.close()
    return out.getvalue()


def _pcap(idx: CaptureIndex, positions, mm, out) -> None:
    with open(idx.capture_path, "rb") as f:
        out.write(f.read(24))
    offsets = idx["offset"]
    caplen = idx["caplen"]
    for i in positions:
        start = int(offsets[i]) - 16  # the record header precedes the packet bytes
        out.write(mm[start : start + 16 + int(caplen[i])])


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _pcapng(idx: CaptureIndex, positions, mm, out) -> None:
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    for comment in idx.meta.section_comments:
        shb += _option(1, comment.encode())
    if idx.meta.section_comments:
        shb += _option(0, b"")
    out.write(_block(0x0A0D0D0A, shb))
    for iface in idx.meta.interfaces:
        body = struct.pack("<HHI", iface["linktype"], 0, iface["snaplen"])
        body += _option(9, b"\x09")  # nanosecond timestamps
        if iface.get("name"):
            body += _option(2, iface["name"].encode())
        body += _option(0, b"")
        out.write(_block(1, body))
    cols = idx.cols
    for i in positions:
        i = int(i)
        # pcapng timestamps are unsigned: a time before 1970 (a damaged offset) is written as 0.
        ts = max(0, int(cols["ts_sec"][i]) * 1_000_000_000 + int(cols["ts_nsec"][i]))
        start, cap = int(cols["offset"][i]), int(cols["caplen"][i])
        body = struct.pack("<IIIII", int(cols["iface"][i]), ts >> 32, ts & 0xFFFFFFFF, cap,
                           int(cols["wirelen"][i]))
        body += mm[start : start + cap] + b"\x00" * (-cap % 4)
        comments = idx.meta.comments.get(str(i + 1), [])
        for comment in comments:
            body += _option(1, comment.encode())
        if comments:
            body += _option(0, b"")
        out.write(_block(6, body))
