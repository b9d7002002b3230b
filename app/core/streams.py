"""Whole-capture derivations of the index: the address table and TCP/UDP stream numbers.

Addresses are interned: every IPv4 and IPv6 address of the capture gets a small integer id
(IPv4 first, then IPv6), so columns stay narrow and a filter on an address compares integers.
Stream numbers follow tshark: conversations are numbered in the order their first packet
appears, separately for TCP and UDP.
"""
from __future__ import annotations

import ipaddress

import numpy as np

from app.core.pcapfile import u32be

NO_ADDR = -1


def _gather_addresses(data: np.ndarray, start: np.ndarray, hdr: np.ndarray):
    """Per packet with an IP header at ``hdr``: version, IPv4 src/dst, IPv6 src/dst bytes."""
    has = hdr >= 0
    idx = np.flatnonzero(has)
    at = start[idx] + hdr[idx]
    ver = data[at] >> 4
    v4 = idx[ver == 4]
    v6 = idx[ver == 6]
    at4 = start[v4] + hdr[v4]
    at6 = start[v6] + hdr[v6]
    src4, dst4 = u32be(data, at4 + 12), u32be(data, at4 + 16)
    span = np.arange(16)
    src6 = data[(at6 + 8)[:, None] + span] if len(v6) else np.zeros((0, 16), np.uint8)
    dst6 = data[(at6 + 24)[:, None] + span] if len(v6) else np.zeros((0, 16), np.uint8)
    return v4, v6, src4, dst4, src6, dst6


def raw_addresses(data: np.ndarray, cols: dict[str, np.ndarray]) -> dict:
    """The addresses of one chunk, gathered while its packets are still in the CPU cache.

    Interned per chunk already: ``u4``/``u6`` hold the chunk's distinct IPv4/IPv6 addresses,
    and per IP layer (``ip_hdr``, ``net_hdr``) the rows with an IPv4 and an IPv6 header plus
    the position of their source and destination in ``u4``/``u6``. Joining the chunks' small
    tables is then all that is left for the whole capture (``addresses``)."""
    start = cols["offset"]
    # Without tunnels the first IP layer is the last one: its addresses are read once.
    same = np.array_equal(cols["ip_hdr"], cols["net_hdr"])
    keys = ("net_hdr",) if same else ("ip_hdr", "net_hdr")
    found = {key: _gather_addresses(data, start, cols[key].astype(np.int64)) for key in keys}
    u4, inv4 = np.unique(np.concatenate([a for f in found.values() for a in (f[2], f[3])]),
                         return_inverse=True)
    six = np.concatenate([a for f in found.values() for a in (f[4], f[5])])
    u6, inv6 = np.unique(np.ascontiguousarray(six).view("V16").ravel(), return_inverse=True)
    out: dict = {"u4": u4.astype(np.uint32), "u6": u6.view(np.uint8).reshape(-1, 16)}
    at4 = at6 = 0
    for key, (v4, v6, *_rest) in found.items():
        k4, k6 = len(v4), len(v6)
        out[key] = (v4.astype(np.int32), v6.astype(np.int32),
                    inv4[at4:at4 + k4].astype(np.int32), inv4[at4 + k4:at4 + 2 * k4].astype(np.int32),
                    inv6[at6:at6 + k6].astype(np.int32), inv6[at6 + k6:at6 + 2 * k6].astype(np.int32))
        at4, at6 = at4 + 2 * k4, at6 + 2 * k6
    if same:
        out["ip_hdr"] = out["net_hdr"]
    return out


def addresses(n: int, chunks: list[tuple[int, dict]]) -> dict[str, np.ndarray]:
    """Intern the addresses of the first (``ip_*``) and last (``net_*``) IP layer of each packet.

    ``chunks`` holds (first packet index, ``raw_addresses`` result) for every decoded chunk.
    """
    tables4 = [raw["u4"] for _, raw in chunks]
    tables6 = [raw["u6"] for _, raw in chunks]
    addr4 = np.unique(np.concatenate(tables4)).astype(np.uint32) if tables4 else np.zeros(0, np.uint32)
    addr6 = _unique_rows16(np.concatenate(tables6)) if tables6 else np.zeros((0, 16), np.uint8)
    out = {"addr4": addr4, "addr6": addr6}
    view6 = addr6.view("V16").ravel() if len(addr6) else np.zeros(0, "V16")
    ids = {f"{prefix}_{side}": np.full(n, NO_ADDR, dtype=np.int32)
           for prefix in ("ip", "net") for side in ("src", "dst")}
    out.update(ids)
    for base, raw in chunks:
        # where each of the chunk's own addresses is in the capture's table
        to4 = np.searchsorted(addr4, raw["u4"]).astype(np.int32)
        to6 = (len(addr4) + np.searchsorted(view6, np.ascontiguousarray(raw["u6"]).view("V16").ravel())
               ).astype(np.int32)
        for key, prefix in (("ip_hdr", "ip"), ("net_hdr", "net")):
            v4, v6, src4, dst4, src6, dst6 = raw[key]
            for side, a4, a6 in (("src", src4, src6), ("dst", dst4, dst6)):
                column = ids[f"{prefix}_{side}"]
                column[base + v4] = to4[a4]
                if len(v6):
                    column[base + v6] = to6[a6]
    return out


def _unique_rows16(rows: np.ndarray) -> np.ndarray:
    """Sorted unique 16-byte rows, in the byte order that ``searchsorted`` on V16 uses.

    ``np.unique(axis=0)`` is an order of magnitude slower: sort two big-endian words instead.
    """
    if len(rows) == 0:
        return np.zeros((0, 16), np.uint8)
    words = np.ascontiguousarray(rows).view(">u8").reshape(-1, 2)
    order = np.lexsort((words[:, 1], words[:, 0]))
    w = words[order]
    keep = np.ones(len(w), dtype=bool)
    keep[1:] = (w[1:, 0] != w[:-1, 0]) | (w[1:, 1] != w[:-1, 1])
    return np.ascontiguousarray(rows[order][keep])


def address_text(addr4: np.ndarray, addr6: np.ndarray, addr_id: int) -> str:
    if addr_id < len(addr4):
        return str(ipaddress.IPv4Address(int(addr4[addr_id])))
    return str(ipaddress.IPv6Address(bytes(addr6[addr_id - len(addr4)])))


def pair_keys(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One int64 per endpoint pair (int64 endpoints ``lo`` <= ``hi``), ordered as the pairs:
    the endpoints side by side when they fit (fewer than 32768 addresses, the usual case),
    else their ranks."""
    if not len(hi) or hi.max() < 1 << 31:
        return (lo << 31) | hi
    lo_rank = np.unique(lo, return_inverse=True)[1]
    return lo_rank * len(hi) + np.unique(hi, return_inverse=True)[1]


def conversation_ids(mask: np.ndarray, a_addr, a_port, b_addr, b_port) -> np.ndarray:
    """Number the conversations of the packets in ``mask`` in order of first appearance.

    A conversation is the unordered pair of endpoints (address id, port); -1 elsewhere.
    """
    n = len(mask)
    out = np.full(n, -1, dtype=np.int32)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return out
    ea = (a_addr[idx].astype(np.int64) << 16) | a_port[idx].astype(np.int64)
    eb = (b_addr[idx].astype(np.int64) << 16) | b_port[idx].astype(np.int64)
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    order = np.argsort(pair_keys(lo, hi), kind="stable")  # stable: frame order within a pair
    lo_s, hi_s = lo[order], hi[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    group = np.cumsum(new_group) - 1
    # Rank groups by their first packet (the first of each sorted group, thanks to idx in lexsort).
    firsts = order[new_group]
    rank = np.empty(len(firsts), dtype=np.int32)
    rank[np.argsort(firsts, kind="stable")] = np.arange(len(firsts), dtype=np.int32)
    conv = np.empty(len(order), dtype=np.int32)
    conv[order] = rank[group]
    out[idx] = conv
    return out


def udp_ports(cols) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(has UDP, source port, destination port) per packet, the UDP header quoted inside an
    ICMP error included: tshark counts such a frame into the quoted datagram's conversation."""
    quoted = np.asarray(cols["q_l4"]) == 17
    has = (np.asarray(cols["l4"]) == 17) | quoted
    sport = np.where(quoted, cols["q_sport"], cols["sport"])
    dport = np.where(quoted, cols["q_dport"], cols["dport"])
    return has, sport, dport
