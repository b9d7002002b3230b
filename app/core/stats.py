"""Statistics → Conversations and Endpoints for Ethernet, IPv4, IPv6, TCP and UDP.

Conversations are unordered address pairs (plus ports for TCP/UDP); endpoints are single
addresses (plus port). Both are grouped with numpy over the index, A being the first packet's
source, as Wireshark's tables show them.
"""
from __future__ import annotations

import numpy as np

from app.core.indexview import CaptureIndex

KINDS = ("eth", "ipv4", "ipv6", "tcp", "udp")


def _mac(value: int) -> str:
    return ":".join(f"{(value >> (8 * k)) & 0xFF:02x}" for k in range(5, -1, -1))


def _keys(index: CaptureIndex, kind: str):
    """(rows, src key, dst key, text of a key) for the packets that have ``kind``."""
    if kind == "eth":
        rows = np.flatnonzero(np.asarray(index["eth_type"]) >= 0)
        src = np.asarray(index["eth_src"])[rows].astype(np.int64)
        dst = np.asarray(index["eth_dst"])[rows].astype(np.int64)
        return rows, src, dst, lambda k: _mac(int(k))
    if kind in ("ipv4", "ipv6"):
        version = 4 if kind == "ipv4" else 6
        rows = np.flatnonzero((np.asarray(index["l3"]) == version) & (np.asarray(index["ip_src"]) >= 0))
        src = np.asarray(index["ip_src"])[rows].astype(np.int64)
        dst = np.asarray(index["ip_dst"])[rows].astype(np.int64)
        return rows, src, dst, lambda k: index.address(int(k))
    proto = 6 if kind == "tcp" else 17
    has = (np.asarray(index["l4"]) == proto) & (np.asarray(index["net_src"]) >= 0)
    # Unlike udp.stream, tshark's conversation tap leaves out headers quoted in ICMP errors.
    sport, dport = np.asarray(index["sport"]), np.asarray(index["dport"])
    if kind == "tcp":
        # tshark's conversation tap runs after the whole TCP header is read: a header whose
        # options the snap length cut off is not counted.
        l4_hdr = np.asarray(index["l4_hdr"]).astype(np.int64)
        cut = (l4_hdr >= 0) & (l4_hdr + np.asarray(index["tcp_hlen"]) > np.asarray(index["caplen"]))
        has &= ~cut
    rows = np.flatnonzero(has)
    src = (np.asarray(index["net_src"])[rows].astype(np.int64) << 16) | sport[rows]
    dst = (np.asarray(index["net_dst"])[rows].astype(np.int64) << 16) | dport[rows]
    return rows, src, dst, lambda k: f"{index.address(int(k) >> 16)}:{int(k) & 0xFFFF}"


def _relative(index: CaptureIndex, rows: np.ndarray) -> np.ndarray:
    sec = np.asarray(index["ts_sec"])
    nsec = np.asarray(index["ts_nsec"])
    return (sec[rows] - sec[0]) + (nsec[rows] - nsec[0]) / 1e9


def conversations(index: CaptureIndex, kind: str) -> list[dict]:
    rows, src, dst, text = _keys(index, kind)
    if len(rows) == 0:
        return []
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    pair = np.stack([lo, hi], axis=1)
    uniq, first, inverse = np.unique(pair, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    wire = np.asarray(index["wirelen"])[rows].astype(np.int64)
    a_of = src[first]  # A is the source of each conversation's first packet
    ab = src == a_of[inverse]
    k = len(uniq)
    t = _relative(index, rows)
    start = np.full(k, np.inf)
    np.minimum.at(start, inverse, t)
    end = np.full(k, -np.inf)
    np.maximum.at(end, inverse, t)
    stats = {
        "packets_ab": np.bincount(inverse, weights=ab, minlength=k),
        "bytes_ab": np.bincount(inverse, weights=np.where(ab, wire, 0), minlength=k),
        "packets_ba": np.bincount(inverse, weights=~ab, minlength=k),
        "bytes_ba": np.bincount(inverse, weights=np.where(ab, 0, wire), minlength=k),
    }
    out = []
    for g in np.argsort(first, kind="stable").tolist():
        a = int(a_of[g])
        b = int(uniq[g][1] if uniq[g][0] == a else uniq[g][0])
        out.append({
            "a": text(a), "b": text(b),
            "packets": int(stats["packets_ab"][g] + stats["packets_ba"][g]),
            "bytes": int(stats["bytes_ab"][g] + stats["bytes_ba"][g]),
            "a_to_b": {"packets": int(stats["packets_ab"][g]), "bytes": int(stats["bytes_ab"][g])},
            "b_to_a": {"packets": int(stats["packets_ba"][g]), "bytes": int(stats["bytes_ba"][g])},
            "start": round(float(start[g]), 9), "duration": round(float(end[g] - start[g]), 9),
            "first_packet": int(rows[first[g]]) + 1,
        })
    return out


def endpoints(index: CaptureIndex, kind: str) -> list[dict]:
    rows, src, dst, text = _keys(index, kind)
    if len(rows) == 0:
        return []
    wire = np.asarray(index["wirelen"])[rows].astype(np.int64)
    keys = np.concatenate([src, dst])
    sent = np.concatenate([np.ones(len(src), bool), np.zeros(len(dst), bool)])
    weights = np.concatenate([wire, wire])
    order = np.concatenate([np.arange(len(src)), np.arange(len(dst))])
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    k = len(uniq)
    tx_p = np.bincount(inverse, weights=sent, minlength=k)
    rx_p = np.bincount(inverse, weights=~sent, minlength=k)
    tx_b = np.bincount(inverse, weights=np.where(sent, weights, 0), minlength=k)
    rx_b = np.bincount(inverse, weights=np.where(sent, 0, weights), minlength=k)
    out = []
    for g in np.argsort(order[first], kind="stable").tolist():
        out.append({
            "address": text(int(uniq[g])), "packets": int(tx_p[g] + rx_p[g]), "bytes": int(tx_b[g] + rx_b[g]),
            "tx": {"packets": int(tx_p[g]), "bytes": int(tx_b[g])},
            "rx": {"packets": int(rx_p[g]), "bytes": int(rx_b[g])},
        })
    return out
