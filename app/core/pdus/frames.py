"""Packet-list context that is not TCP reassembly: IP fragments, ICMP echo pairs and QUIC.

* IP fragments: the index (``app.core.reassembly``) flags the frame completing a datagram; here
  each such frame gets the index of its datagram's first fragment, so the reassembled payload
  can be rebuilt from the capture when the row is shown (``fragment_facts`` parses them).
* ICMP/ICMPv6 echo: each reply is matched, vectorised, with the latest earlier request carrying
  the same (request source, request destination, identifier, sequence number), as tshark's
  "(request in N)" shows it.
* QUIC: tshark keeps dissecting a UDP conversation as QUIC once a packet of it was recognised,
  and shows short-header connection IDs with the length the receiver chose in its long headers.
"""
from __future__ import annotations

import struct
from typing import Callable

import numpy as np

from app.core import layers
from app.core.reassembly import fragment_facts
from app.core.summary import UDP_PORTS, classify_app, quic_connection_ids

ECHO_TYPES = {1: (8, 0), 58: (128, 129)}       # (request, reply) per ICMP version
_LENGTH_CHECKED = {"dns", "mdns", "llmnr", "nbns"}   # UDP handlers that take any 12+ bytes
CONV_QUIC, CONV_GQUIC = 1, 2


def _frame(data: np.ndarray, cols: dict[str, np.ndarray], i: int) -> bytes:
    start = int(cols["offset"][i])
    return data[start:start + int(cols["caplen"][i])].tobytes()


def fragments(data: np.ndarray, cols: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """(first fragment per completing frame, {completing frame: ICMP header bytes})."""
    n = len(cols["flags"])
    first = np.full(n, -1, dtype=np.int32)
    heads: dict[int, bytes] = {}
    mask = layers.F_FRAGMENT | layers.F_REASSEMBLED
    pending: dict[tuple, list] = {}
    for i in np.flatnonzero((cols["flags"] & mask) != 0).tolist():
        hdr = int(cols["ip_hdr"][i])
        if hdr < 0:
            continue
        frame = _frame(data, cols, i)
        facts = fragment_facts(frame, hdr)
        if facts is None:
            continue
        version, ident, offset, _, _, proto, start = facts
        key = (version, int(cols["ip_src"][i]), int(cols["ip_dst"][i]), ident, proto)
        entry = pending.get(key)
        if entry is None:
            entry = pending[key] = [i, None]
            if len(pending) > 65536:           # abandoned datagrams must not pile up
                pending.pop(next(iter(pending)))
        if offset == 0:
            entry[1] = frame[start:start + 8]
        if cols["flags"][i] & layers.F_REASSEMBLED:
            del pending[key]
            first[i] = entry[0]
            if entry[1] is not None:
                heads[i] = entry[1]
    return first, heads


# Packets read from between two releases of the file pages: the kernel maps up to 64 KB around
# each page read, so scattered packets map far more than the bytes they give.
GATHER = 1024


def gather(data: np.ndarray, at: np.ndarray, release: Callable[[], None],
           offsets: tuple[int, ...] = (0,)) -> np.ndarray:
    """``data[at + k]`` for each k of ``offsets`` (one column each; one dimension for the
    default), a block of rows at a time, releasing the file pages read after each block: the
    positions are spread over the whole file, which must never be mapped in memory at once.
    All bytes of a row are read in the same block, so each page is faulted in once."""
    out = np.empty((len(at), len(offsets)), dtype=np.uint8)
    step = np.asarray(offsets, dtype=np.int64)
    for lo in range(0, len(at), GATHER):
        out[lo:lo + GATHER] = data[at[lo:lo + GATHER, None] + step]
        release()
    return out[:, 0] if offsets == (0,) else out


def echo_requests(data: np.ndarray, cols: dict[str, np.ndarray], heads: dict[int, bytes],
                  release: Callable[[], None] = lambda: None) -> np.ndarray:
    """For each echo reply, the index of its request (-1 elsewhere)."""
    n = len(cols["l4"])
    request_in = np.full(n, -1, dtype=np.int32)
    l4 = cols["l4"]
    parts = []
    for proto, (req, rep) in ECHO_TYPES.items():
        rows = np.flatnonzero((l4 == proto) & np.isin(cols["icmp_type"], (req, rep)))
        if len(rows) == 0:
            continue
        hdr = cols["l4_hdr"][rows].astype(np.int64)
        ident = np.full(len(rows), -1, dtype=np.int64)
        seq = np.full(len(rows), -1, dtype=np.int64)
        ok = (hdr >= 0) & (hdr + 8 <= cols["caplen"][rows])
        at = cols["offset"][rows][ok].astype(np.int64) + hdr[ok]
        b = gather(data, at, release, (4, 5, 6, 7)).astype(np.int64)
        ident[ok] = (b[:, 0] << 8) | b[:, 1]
        seq[ok] = (b[:, 2] << 8) | b[:, 3]
        for k in np.flatnonzero(~ok).tolist():
            head = heads.get(int(rows[k]))
            if head is not None and len(head) >= 8:
                ident[k], seq[k] = struct.unpack_from("!HH", head, 4)
        reply = cols["icmp_type"][rows] == rep
        parts.append((rows, ident, seq, reply))
    if not parts:
        return request_in
    rows = np.concatenate([p[0] for p in parts])
    ident = np.concatenate([p[1] for p in parts])
    seq = np.concatenate([p[2] for p in parts])
    reply = np.concatenate([p[3] for p in parts])
    src = cols["net_src"][rows].astype(np.int64)
    dst = cols["net_dst"][rows].astype(np.int64)
    keep = (ident >= 0) & (src >= 0) & (dst >= 0)
    rows, ident, seq, reply, src, dst = (a[keep] for a in (rows, ident, seq, reply, src, dst))
    a = np.where(reply, dst, src)
    b = np.where(reply, src, dst)
    k1 = (a << 32) | b
    k2 = (ident << 16) | seq
    order = np.lexsort((rows, k2, k1))
    rows, reply, k1, k2 = rows[order], reply[order], k1[order], k2[order]
    pos = np.arange(len(rows))
    new_group = np.ones(len(rows), dtype=bool)
    new_group[1:] = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    last_request = np.maximum.accumulate(np.where(~reply, pos, -1))
    matched = reply & (last_request >= group_start)
    request_in[rows[matched]] = rows[last_request[matched]]
    return request_in


def quic(data: np.ndarray, cols: dict[str, np.ndarray],
         release: Callable[[], None] = lambda: None) -> tuple[np.ndarray, np.ndarray]:
    """(conversation code, receiver's connection ID length) per packet for QUIC conversations."""
    n = len(cols["l4"])
    conv = np.zeros(n, dtype=np.uint8)
    dcid = np.zeros(n, dtype=np.uint8)
    stream = cols["udp_stream"]
    rows = np.flatnonzero((cols["l4"] == 17) & (stream >= 0) & (cols["pl_len"] > 0)
                          & (cols["pl_off"] >= 0))
    if len(rows) == 0:
        return conv, dcid
    at = (cols["offset"][rows] + cols["pl_off"][rows]).astype(np.int64)
    room = np.minimum(cols["pl_len"][rows], cols["caplen"][rows] - cols["pl_off"][rows])
    first = np.where(room > 0, gather(data, np.minimum(at, len(data) - 1), release), 0)
    gquic = (room >= 11) & ((first & 0x09) == 0x09)
    version = gather(data, at[gquic], release, (9, 10))
    gquic[gquic] = (version[:, 0] == ord("Q")) & (version[:, 1] == ord("0"))
    cand = ((first & 0x80) != 0) | gquic
    # Ports whose dissector accepts any payload of 12 bytes or more never reach QUIC.
    taken = np.zeros(65536, dtype=bool)
    for port, key in UDP_PORTS.items():
        taken[port] = key in _LENGTH_CHECKED
    sport, dport = cols["sport"][rows], cols["dport"][rows]
    low, high = np.minimum(sport, dport), np.maximum(sport, dport)
    cand &= ~((taken[low] | taken[high]) & (cols["pl_len"][rows] >= 12))
    found: dict[int, tuple[int, int]] = {}
    for k in np.flatnonzero(cand).tolist():
        s = int(stream[rows[k]])
        if s in found:
            continue
        payload = data[int(at[k]):int(at[k]) + int(room[k])].tobytes()
        name = classify_app("udp", int(sport[k]), int(dport[k]), payload)
        if name in ("QUIC", "GQUIC"):
            found[s] = (int(rows[k]), CONV_QUIC if name == "QUIC" else CONV_GQUIC)
    if not found:
        return conv, dcid
    ident_at = np.full(int(stream.max()) + 1, n, dtype=np.int64)
    code = np.zeros(len(ident_at), dtype=np.uint8)
    for s, (i, c) in found.items():
        ident_at[s], code[s] = i, c
    all_udp = np.flatnonzero(stream >= 0)
    later = all_udp > ident_at[stream[all_udp]]
    conv[all_udp[later]] = code[stream[all_udp[later]]]
    _connection_ids(data, cols, rows[np.isin(stream[rows], list(found))], dcid)
    return conv, dcid


def _connection_ids(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray,
                    dcid: np.ndarray) -> None:
    """Each endpoint's chosen connection ID length (its long headers' SCID), applied to the
    packets sent to it."""
    scids: dict[tuple, int] = {}
    for i in rows.tolist():
        s = int(cols["udp_stream"][i])
        src = (s, int(cols["net_src"][i]), int(cols["sport"][i]))
        dst = (s, int(cols["net_dst"][i]), int(cols["dport"][i]))
        dcid[i] = min(255, scids.get(dst, 0))
        at = int(cols["offset"][i]) + int(cols["pl_off"][i])
        room = min(int(cols["pl_len"][i]), int(cols["caplen"][i]) - int(cols["pl_off"][i]))
        ids = quic_connection_ids(data[at:at + max(0, min(room, 600))].tobytes())
        if ids is not None:
            scids[src] = len(ids[1])
