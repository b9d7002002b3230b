"""IP fragment reassembly for the index: the frame that completes a datagram gets its transport.

tshark decodes the transport header of a fragmented datagram in the frame whose fragment
completes it ("Reassembled in #N"); the earlier fragments stay plain IP. Fragments are rare, so
this runs in Python over just those packets, after the vectorised pass has flagged them.
"""
from __future__ import annotations

import struct

import numpy as np

from app.core import layers

MAX_DATAGRAM = 65_535 + 8


def fragment_facts(frame: bytes, hdr: int) -> tuple | None:
    """(version, identification, offset, length, more, protocol, payload start) of the IP
    header at ``hdr`` when it is a fragment's, else None."""
    try:
        version = frame[hdr] >> 4
        if version == 4:
            ihl = (frame[hdr] & 0x0F) * 4
            total, ident, flags_frag, proto = struct.unpack_from("!H H H x B", frame, hdr + 2)
            return (4, ident, (flags_frag & 0x1FFF) * 8, total - ihl, bool(flags_frag & 0x2000),
                    proto, hdr + ihl)
        if version == 6:
            nh = frame[hdr + 6]
            pos = hdr + 40
            plen = struct.unpack_from("!H", frame, hdr + 4)[0]
            for _ in range(8):
                if nh not in (0, 43, 60) or pos + 8 > len(frame):
                    break
                nh, pos = frame[pos], pos + (frame[pos + 1] + 1) * 8
            if nh != 44 or pos + 8 > len(frame):
                return None
            offm, ident = struct.unpack_from("!H I", frame, pos + 2)
            return (6, ident, offm & 0xFFF8, plen - (pos + 8 - hdr - 40), bool(offm & 1),
                    frame[pos], pos + 8)
    except (IndexError, struct.error):
        return None
    return None


def reassemble(index_frame, cols: dict[str, np.ndarray]) -> None:
    """Fill the transport columns of frames that complete a fragmented datagram (in place).

    ``index_frame(i)`` returns packet i's bytes.
    """
    frag = np.flatnonzero((cols["flags"] & layers.F_FRAGMENT) != 0)
    pending: dict[tuple, dict] = {}
    for i in frag.tolist():
        hdr = int(cols["ip_hdr"][i])
        if hdr < 0:
            continue
        frame = index_frame(i)
        facts = fragment_facts(frame, hdr)
        if facts is None:
            continue
        version, ident, offset, length, more, proto, start = facts
        key = (version, int(cols["ip_src"][i]), int(cols["ip_dst"][i]), ident, proto)
        entry = pending.setdefault(key, {"parts": {}, "total": None, "first": None})
        entry["parts"][offset] = max(0, length)
        if offset == 0:
            entry["first"] = (frame, start)
        if not more:
            entry["total"] = offset + max(0, length)
        total = entry["total"]
        if total is None or entry["first"] is None or total > MAX_DATAGRAM:
            continue
        covered = 0
        for off in sorted(entry["parts"]):
            if off > covered:
                break
            covered = max(covered, off + entry["parts"][off])
        if covered < total:
            continue
        del pending[key]
        _set_transport(cols, i, proto, entry["first"], total)


def _set_transport(cols, i: int, proto: int, first: tuple[bytes, int], total: int) -> None:
    frame, start = first
    head = frame[start:]
    if proto == 17 and len(head) >= 8:
        sport, dport, ulen = struct.unpack_from("!HHH", head)
        cols["l4"][i] = 17
        cols["sport"][i], cols["dport"][i] = sport, dport
        cols["pl_len"][i] = max(0, ulen - 8)
    elif proto == 6 and len(head) >= 20:
        sport, dport, seq, ack, off_flags, win = struct.unpack_from("!HHIIHH", head)
        hlen = (off_flags >> 12) * 4
        cols["l4"][i] = 6
        cols["sport"][i], cols["dport"][i] = sport, dport
        cols["seq"][i], cols["ack"][i] = seq, ack
        cols["tcp_flags"][i] = off_flags & 0x0FFF
        cols["tcp_hlen"][i] = hlen
        cols["tcp_win"][i] = win
        cols["pl_len"][i] = max(0, total - hlen)
    elif proto in (1, 58) and len(head) >= 2:
        cols["l4"][i] = proto
        cols["icmp_type"][i], cols["icmp_code"][i] = head[0], head[1]
    else:
        return
    # The transport header lies in another frame: offsets into this one stay unknown.
    cols["l4_hdr"][i] = -1
    cols["pl_off"][i] = -1
    cols["flags"][i] = (int(cols["flags"][i]) & ~layers.F_FRAGMENT & 0xFF) | layers.F_REASSEMBLED
