"""Whole-array parts of the TCP analysis: flows, base and relative sequence numbers, scaled
windows, completeness and handshakes.

Rows are segments in frame order.  A *flow* is one direction of one stream: ``2 * dense_stream +
direction``.  Helpers that need "the value in force for this stream just before row i" work on the
rows sorted by stream (stable), where each stream is a contiguous slice.
"""
from __future__ import annotations

import numpy as np

from app.core.tcp.model import ACK, FIN, RST, SYN


class Layout:
    """Dense stream ids, flow ids and the stream-sorted order of the rows."""

    def __init__(self, stream: np.ndarray, direction: np.ndarray) -> None:
        n = len(stream)
        if n and stream.min() >= 0 and stream.max() < 2 * n:
            # tcp.stream numbers are already small: use them as they are (gaps stay empty)
            self.dense = stream.astype(np.int64)
            self.stream_ids = np.arange(int(stream.max()) + 1)
        else:
            self.stream_ids, self.dense = np.unique(stream, return_inverse=True)
            self.dense = self.dense.astype(np.int64)
        self.nstreams = len(self.stream_ids)
        self.flow = self.dense * 2 + (direction != 0)
        self.order = np.argsort(self.dense, kind="stable")
        sorted_dense = self.dense[self.order]
        # start row (in sorted position) of the stream of each sorted position
        starts = np.flatnonzero(np.r_[n > 0, sorted_dense[1:] != sorted_dense[:-1]])
        counts = np.diff(np.r_[starts, len(sorted_dense)])
        self.slice_start = np.repeat(starts, counts)
        self.stream_start = np.zeros(self.nstreams, dtype=np.int64)
        self.stream_end = np.zeros(self.nstreams, dtype=np.int64)
        if len(starts):
            self.stream_start[sorted_dense[starts]] = starts
            self.stream_end[sorted_dense[starts]] = starts + counts


def first_rows(keys: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """For every key in range(size): the first row where ``mask`` holds, else len(keys)."""
    out = np.full(size, len(keys), dtype=np.int64)
    rows = np.flatnonzero(mask)
    np.minimum.at(out, keys[rows], rows)
    return out


def initial_bases(lay: Layout, seq: np.ndarray, ack: np.ndarray, flags: np.ndarray,
                  ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each flow's base sequence number and the row that set it (len(rows) if never).

    Wireshark sets a flow's base on its first analysed segment (the SYN's seq, else seq - 1) or
    earlier, from the first ACK-carrying segment of the reverse flow (its ack - 1).
    """
    n = len(seq)
    nflows = lay.nstreams * 2
    own = first_rows(lay.flow, ok, nflows)
    rev = first_rows(lay.flow ^ 1, ok & ((flags & ACK) != 0), nflows)
    base = np.zeros(nflows, dtype=np.int64)
    has_own = own < n
    o = own[has_own]
    base[has_own] = (seq[o].astype(np.int64) - ((flags[o] & SYN) == 0)) & 0xFFFFFFFF
    use_rev = rev < own
    base[use_rev] = (ack[rev[use_rev]].astype(np.int64) - 1) & 0xFFFFFFFF
    return base, np.minimum(own, rev)


def relative_numbers(lay: Layout, seq: np.ndarray, ack: np.ndarray, flags: np.ndarray,
                     plen: np.ndarray, ok: np.ndarray, base: np.ndarray,
                     overrides: list[tuple[int, int, int]]):
    """tcp.seq, tcp.ack (uint32) and tcp.nxtseq (int64, -1 absent) for every row."""
    base_own = base[lay.flow]
    base_rev = base[lay.flow ^ 1]
    for row, flow, value in overrides:  # rare: a SYN-ACK moved its flow's base
        s = flow >> 1
        pos = lay.order[lay.stream_start[s]:lay.stream_end[s]]
        later = pos[pos >= row]
        base_own[later[lay.flow[later] == flow]] = value
        base_rev[later[lay.flow[later] == (flow ^ 1)]] = value
    seq64 = seq.astype(np.int64)
    ack64 = ack.astype(np.int64)
    rel_seq = np.where(ok, (seq64 - base_own) & 0xFFFFFFFF, seq64)
    rel_ack = np.where(ok & ((flags & ACK) != 0), (ack64 - base_rev) & 0xFFFFFFFF, ack64)
    nxt = (rel_seq + plen + ((flags & (SYN | FIN)) != 0)) & 0xFFFFFFFF
    nxtseq = np.where(ok, nxt, -1)
    return rel_seq.astype(np.uint32), rel_ack.astype(np.uint32), nxtseq


def scaled_window(window_value: np.ndarray, flags: np.ndarray, own_scale: np.ndarray,
                  ok: np.ndarray) -> np.ndarray:
    """tcp.window_size: the raw value shifted by a known scale (never for SYNs)."""
    win = window_value.astype(np.int64)
    shift = np.where(ok & ((flags & SYN) == 0) & (own_scale >= 0), own_scale, 0)
    return win << shift.astype(np.int64)


def completeness(lay: Layout, flags: np.ndarray, plen: np.ndarray, ok: np.ndarray,
                 reused: np.ndarray) -> np.ndarray:
    """Final tcp.completeness of every dense stream (bitwise OR of its segments' contributions)."""
    n = len(flags)
    out = np.zeros(lay.nstreams, dtype=np.uint8)
    if not n:
        return out
    syn = (flags & SYN) != 0
    ackf = (flags & ACK) != 0
    data = ok & (plen > 0)
    bits = ((syn & ackf) * 2 + (ackf & ~syn) * np.where(data, 8, 4)
            + ((flags & (FIN | ACK)) == (FIN | ACK)) * 16 + ((flags & RST) != 0) * 32)
    used = lay.stream_end > lay.stream_start
    starts = lay.stream_start[used]
    first = lay.order[starts]
    pure_syn = syn[first] & ~ackf[first]
    # The first segment creates the conversation: only a pure SYN counts, plus TFO data unless the
    # SYN reopened a used 4-tuple (Wireshark then sets the value to 1 directly).
    bits[first] = np.where(pure_syn, 1 + 8 * (data[first] & ~reused[first]), 0)
    sorted_bits = bits[lay.order].astype(np.uint8)
    out[used] = np.bitwise_or.reduceat(sorted_bits, starts)
    return out


def handshakes(lay: Layout, number: np.ndarray, direction: np.ndarray, seq: np.ndarray,
               ack: np.ndarray, flags: np.ndarray) -> dict[str, np.ndarray]:
    """Per dense stream: SYN / SYN-ACK / final ACK frames, ISNs and the client direction."""
    n = len(flags)
    ns = lay.nstreams
    rows = np.arange(n)
    dense = lay.dense
    sa_bits = flags & (SYN | ACK)
    syn_row = first_rows(dense, sa_bits == SYN, ns)
    has_syn = syn_row < n
    client = np.full(ns, -1, dtype=np.int8)
    client[has_syn] = direction[syn_row[has_syn]]
    c = client[dense]
    sa_ok = (sa_bits == (SYN | ACK)) & ((c == -1) | ((direction != c) & (rows > syn_row[dense])))
    synack_row = first_rows(dense, sa_ok, ns)
    has_sa = synack_row < n
    no_client = has_sa & (client == -1)
    client[no_client] = 1 - direction[synack_row[no_client]]
    server_isn = np.full(ns, -1, dtype=np.int64)
    server_isn[has_sa] = seq[synack_row[has_sa]]
    client_isn = np.full(ns, -1, dtype=np.int64)
    client_isn[has_syn] = seq[syn_row[has_syn]]
    want = (server_isn + 1) & 0xFFFFFFFF
    c = client[dense]
    ack_ok = ((sa_bits == ACK) & (direction == c) & (rows > synack_row[dense])
              & (server_isn[dense] >= 0) & (ack.astype(np.int64) == want[dense]))
    ack_row = first_rows(dense, ack_ok, ns)
    frames = np.r_[number, 0].astype(np.int64)  # row n -> frame 0 ("none")
    return {
        "syn_frame": frames[syn_row], "syn_ack_frame": frames[synack_row],
        "ack_frame": frames[ack_row], "client_isn": client_isn, "server_isn": server_isn,
        "client_direction": client,
    }
