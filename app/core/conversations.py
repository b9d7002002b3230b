"""Conversation numbers and rough TCP sequence numbers, computed chunk by chunk while decoding.

tshark numbers TCP and UDP conversations in the order their first packet appears, so the number
of a packet's conversation never depends on later packets: it can be given as each chunk is
decoded (in the upload follower, beside the upload) instead of by a pass over the whole capture
at the end. These numbers ignore TCP port reuse (the index's TCP analysis splits reused
conversations later); with them come the direction of each TCP segment and sequence numbers
relative to the first segment of its direction seen so far, which is what a capture still being
read shows (``tcpindex.quick_columns``).

The columns are working columns of the index builder (``WORKING``): the finished index keeps
the exact values under their own names instead.
"""
from __future__ import annotations

import numpy as np

from app.core.streams import conversation_ids, pair_keys, udp_ports

SYN, ACK = 0x002, 0x010
M32 = 0xFFFFFFFF
# Working columns added to each decoded chunk: (dtype, value where the packet has none)
WORKING = {"conv_tcp": (np.int32, -1), "conv_dir": (np.int8, 0), "quick_seq": (np.uint32, 0),
           "quick_ack": (np.uint32, 0), "quick_nxtseq": (np.int64, -1)}
# ... and the columns the finished index keeps as they are: tshark's udp.stream
COLUMNS = {**WORKING, "udp_stream": (np.int32, -1)}


class _Numbering:
    """Conversation numbers of one protocol: unordered endpoint pairs in order of appearance."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.first_source: list[tuple] = []  # per conversation: the source of its first packet

    def number(self, rows: np.ndarray, src: np.ndarray, sport: np.ndarray, dst: np.ndarray,
               dport: np.ndarray, token: list) -> tuple[np.ndarray, np.ndarray]:
        """(conversation, direction) of the packets ``rows`` of a chunk; ``src``/``dst`` are
        the chunk's address numbers, ``token[a]`` the capture-wide identity of address a.
        Direction 0: sent by the source of the conversation's first packet."""
        ea = (src[rows].astype(np.int64) << 16) | sport[rows]
        eb = (dst[rows].astype(np.int64) << 16) | dport[rows]
        lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
        pairs, first, inverse = np.unique(pair_keys(lo, hi), return_index=True, return_inverse=True)
        conv = np.empty(len(pairs), dtype=np.int64)
        a_is_lo = np.empty(len(pairs), dtype=bool)
        for j in np.argsort(first).tolist():  # new conversations in order of appearance
            row = int(first[j])
            low, high = int(lo[row]), int(hi[row])
            key_lo = (token[low >> 16], low & 0xFFFF)
            key_hi = (token[high >> 16], high & 0xFFFF)
            cid = self.ids.get((key_lo, key_hi))
            if cid is None:
                cid = self.ids[(key_lo, key_hi)] = len(self.first_source)
                self.first_source.append(key_lo if int(ea[row]) == low else key_hi)
            conv[j] = cid
            a_is_lo[j] = self.first_source[cid] == key_lo
        a_side = np.where(a_is_lo[inverse], lo, hi)
        return conv[inverse], (ea != a_side).astype(np.int8)


class Conversations:
    """The working columns of each decoded chunk (see the module docstring)."""

    def __init__(self) -> None:
        self.tcp = _Numbering()
        self.udp = _Numbering()
        self.base = np.full(1024, -1, dtype=np.int64)  # per TCP flow (2 * conversation + dir)

    def add(self, cols: dict[str, np.ndarray], raw: dict) -> dict[str, np.ndarray]:
        """The working columns of a chunk: its decoded ``cols`` and its ``raw`` addresses
        (``streams.raw_addresses``)."""
        n = len(cols["l4"])
        out = {name: np.full(n, fill, dtype=dt) for name, (dt, fill) in COLUMNS.items()}
        v4, v6, src4, dst4, src6, dst6 = raw["net_hdr"]
        if len(v4) + len(v6) == 0:
            return out
        # chunk address numbers: IPv4 ones first, then IPv6 ones
        src = np.full(n, -1, dtype=np.int64)
        dst = np.full(n, -1, dtype=np.int64)
        src[v4], dst[v4] = src4, dst4
        src[v6], dst[v6] = len(raw["u4"]) + src6, len(raw["u4"]) + dst6
        token = raw["u4"].tolist() + [bytes(a) for a in raw["u6"]]
        has_ip = src >= 0
        tcp = np.flatnonzero(has_ip & (cols["l4"] == 6))
        if len(tcp):
            conv, direction = self.tcp.number(tcp, src, cols["sport"], dst, cols["dport"], token)
            out["conv_tcp"][tcp] = conv
            out["conv_dir"][tcp] = direction
            self._sequence_numbers(cols, tcp, conv * 2 + direction, out)
        has_udp, sport, dport = udp_ports(cols)
        udp = np.flatnonzero(has_ip & has_udp)
        if len(udp):
            out["udp_stream"][udp] = self.udp.number(udp, src, sport, dst, dport, token)[0]
        return out

    def _sequence_numbers(self, cols, rows: np.ndarray, flow: np.ndarray, out) -> None:
        """Sequence and acknowledgement numbers relative to the first segment seen of each
        direction (its seq for a SYN, else seq - 1); the ACK stays raw until the peer's
        first segment was seen."""
        if flow.max() + 2 > len(self.base):
            grown = np.full(max(2 * len(self.base), int(flow.max()) + 2), -1, dtype=np.int64)
            grown[:len(self.base)] = self.base
            self.base = grown
        flags = cols["tcp_flags"][rows].astype(np.int64)
        seq = cols["seq"][rows].astype(np.int64)
        ack = cols["ack"][rows].astype(np.int64)
        flows, first = np.unique(flow, return_index=True)
        new = self.base[flows] < 0
        f = first[new]
        self.base[flows[new]] = np.where(flags[f] & SYN, seq[f], (seq[f] - 1) & M32)
        own, peer = self.base[flow], self.base[flow ^ 1]
        rel_seq = (seq - own) & M32
        rel_ack = np.where((peer >= 0) & ((flags & ACK) != 0), (ack - peer) & M32, ack)
        plen = np.maximum(cols["pl_len"][rows].astype(np.int64), 0)
        out["quick_seq"][rows] = rel_seq
        out["quick_ack"][rows] = rel_ack
        out["quick_nxtseq"][rows] = rel_seq + plen + ((flags & 0x003) != 0)


def refresh(cols: dict[str, np.ndarray]) -> None:
    """Renumber the capture's conversations from its final columns when IP reassembly gave
    packets a TCP or UDP header that decoding did not see (the frame completing a fragmented
    datagram): rare, and then numbered over the whole capture at once."""
    has_ip = cols["net_src"] >= 0
    is_tcp = (cols["l4"] == 6) & has_ip
    has_udp, sport, dport = udp_ports(cols)
    is_udp = has_udp & has_ip
    if np.array_equal(is_tcp, cols["conv_tcp"] >= 0) and np.array_equal(is_udp, cols["udp_stream"] >= 0):
        return
    cols["conv_tcp"] = conversation_ids(is_tcp, cols["net_src"], cols["sport"], cols["net_dst"],
                                        cols["dport"])
    cols["conv_dir"] = directions(cols["conv_tcp"], cols["net_src"], cols["sport"])
    cols["udp_stream"] = conversation_ids(is_udp, cols["net_src"], sport, cols["net_dst"], dport)


def directions(conv: np.ndarray, src: np.ndarray, sport: np.ndarray) -> np.ndarray:
    """Per packet of a conversation (``conv`` >= 0): 0 when sent by the sender of the
    conversation's first packet, else 1 (its endpoint: address id ``src``, port ``sport``)."""
    out = np.zeros(len(conv), dtype=np.int8)
    rows = np.flatnonzero(conv >= 0)
    if len(rows):
        c = conv[rows]
        first = np.full(int(c.max()) + 1, len(rows), dtype=np.int64)
        np.minimum.at(first, c, np.arange(len(rows)))
        endpoint = (src[rows].astype(np.int64) << 16) | sport[rows]
        out[rows] = endpoint != endpoint[first[c]]
    return out
