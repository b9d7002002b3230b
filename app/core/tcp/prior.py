"""Per-row values that only depend on earlier rows of the same stream, computed on whole arrays.

Wireshark keeps, per flow, the window-scale state and the ack, window and time of the flow's last
analysed segment and, per stream, the time of the most recent SYN and the initial RTT.  None of
these depend on the sequence analysis itself, so they are derived here in stream-sorted order
(each stream a contiguous, time-ordered slice) with "carry the last marked row forward"
operations, and the checks that need nothing else (ZERO WINDOW, WINDOW FULL) are evaluated here
too.  The sequential loop (app/core/tcp/seqloop.py) then reads them as plain inputs.
"""
from __future__ import annotations

import numpy as np

from app.core.tcp.flags import WINDOW_FULL, ZERO_WINDOW
from app.core.tcp.model import ACK, FIN, RST, SYN
from app.core.tcp.vector import Layout

M32 = 0xFFFFFFFF
# pre_bits marker (not a Wireshark flag): one-byte segment while the reverse window is zero, the
# zero window probe test then only needs seq == nextseq.
ZWP_CANDIDATE = 1 << 30


class Prior:
    """Values in force when each row arrives (int64 arrays in row order unless noted)."""

    own_scale: np.ndarray  # window-scale state of the sending flow (shift, -1 unknown, -2 none)
    rev_scale: np.ndarray  # ... and of the reverse flow
    own_ack: np.ndarray  # fwd->lastack (0 before the flow's first analysed segment)
    own_win: np.ndarray  # fwd->window (G_MAXUINT32 before)
    rev_ack: np.ndarray  # rev->lastack
    rev_win: np.ndarray  # rev->window
    rev_time: np.ndarray  # rev->lastacktime (ns)
    pre_bits: np.ndarray  # ZERO_WINDOW | WINDOW_FULL | ZWP_CANDIDATE bits
    rtt_ns: np.ndarray  # per dense stream: initial RTT (0 unknown)
    rtt_row: np.ndarray  # per dense stream: row after which it is known (n: never)
    own_row: np.ndarray  # the sending flow's previous analysed row (-1 none)
    rev_row: np.ndarray  # the reverse flow's previous analysed row (-1 none)

    def __init__(self, lay: Layout, flags: np.ndarray, seq: np.ndarray, ack: np.ndarray,
                 plen: np.ndarray, window: np.ndarray, ws_option: np.ndarray, times: np.ndarray,
                 ok: np.ndarray) -> None:
        n = len(flags)
        o = lay.order
        self._o = o
        self._start = lay.slice_start
        self._pos = np.arange(n)
        fl = flags[o].astype(np.int64)
        d = (lay.flow[o] & 1).astype(bool)
        oks = ok[o]
        ack_s = ack[o].astype(np.int64)
        win_s = window[o].astype(np.int64)
        t_s = times[o]
        own_sc, rev_sc = self._scales(lay.dense[o], d, fl, ws_option[o])
        self.own_scale = self._unsort(own_sc)
        self.rev_scale = self._unsort(rev_sc)
        # last analysed segment of the own and the reverse flow
        p0, p1 = self._prev(oks & ~d), self._prev(oks & d)
        own, rev = np.where(d, p1, p0), np.where(d, p0, p1)
        self.own_row = self._unsort(np.where(own >= 0, o[np.maximum(own, 0)], -1))
        self.rev_row = self._unsort(np.where(rev >= 0, o[np.maximum(rev, 0)], -1))
        rev_ack = self._take(ack_s, rev, 0)
        rev_win = self._take(win_s, rev, M32)
        self.own_ack = self._unsort(self._take(ack_s, own, 0))
        self.own_win = self._unsort(self._take(win_s, own, M32))
        self.rev_ack = self._unsort(rev_ack)
        self.rev_win = self._unsort(rev_win)
        self.rev_time = self._unsort(self._take(t_s, rev, 0))
        # ZERO WINDOW: a zero window in a segment without SYN/FIN/RST
        plain = (fl & (SYN | FIN | RST)) == 0
        bits = np.where(oks & plain & (win_s == 0), ZERO_WINDOW, 0)
        # WINDOW FULL: the segment ends exactly at the reverse flow's advertised window edge.
        # The reverse flow's scale counts only once it sent an ACK without SYN (is_first_ack,
        # set by its SYNs, cleared by its other ACKs, for every segment, analysed or not).
        marked = (fl & (SYN | ACK)) != 0
        q0, q1 = self._prev(marked & ~d), self._prev(marked & d)
        q = np.where(d, q0, q1)
        rev_first_ack = (q >= 0) & ((fl[np.maximum(q, 0)] & SYN) != 0)
        shift = np.where((rev_sc == -2) | rev_first_ack, 0, np.maximum(rev_sc, 0))
        edge = (rev_ack + ((rev_win << shift) & M32)) & M32
        plen_s = plen[o]
        end = (seq[o].astype(np.int64) + plen_s) & M32
        full = oks & plain & (plen_s > 0) & (rev_sc != -1) & (end == edge)
        probe = oks & (plen_s == 1) & (rev_win == 0)
        self.pre_bits = self._unsort(bits | np.where(full, WINDOW_FULL, 0)
                                     | np.where(probe, ZWP_CANDIDATE, 0))
        self.rtt_ns, self.rtt_row = self._initial_rtt(lay, fl, t_s)

    # -- helpers working on stream-sorted positions ------------------------------------------
    def _prev(self, mark: np.ndarray) -> np.ndarray:
        """Position of the last marked position before each one, in the same stream (-1)."""
        if not len(mark):
            return np.zeros(0, dtype=np.int64)
        acc = np.maximum.accumulate(np.where(mark, self._pos, -1))
        prev = np.r_[-1, acc[:-1]]
        prev[prev < self._start] = -1
        return prev

    @staticmethod
    def _take(values: np.ndarray, pos: np.ndarray, default: int) -> np.ndarray:
        return np.where(pos >= 0, values[np.maximum(pos, 0)], default).astype(np.int64)

    def _unsort(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        out[self._o] = values
        return out

    def _scales(self, dense: np.ndarray, d: np.ndarray, fl: np.ndarray, ws: np.ndarray):
        """Window-scale state of the own and reverse flow just before each position.

        Only SYNs and segments carrying the option change it: those few positions are replayed
        (pdu_store_window_scale_option() then verify_tcp_window_scaling()), then carried forward.
        """
        ev = np.flatnonzero(((fl & SYN) != 0) | (ws >= 0))
        after = np.full((2, len(fl)), -1, dtype=np.int64)
        state: dict[int, list[int]] = {}
        rows = zip(ev.tolist(), dense[ev].tolist(), d[ev].tolist(), fl[ev].tolist(),
                   ws[ev].tolist())
        for p, s, di, f, w in rows:
            pair = state.get(s)
            if pair is None:
                pair = state[s] = [-1, -1]
            di = int(di)
            if w >= 0:
                pair[di] = min(w, 14)
            if f & SYN:
                if pair[di] == -1:  # no WS in this SYN (or SYN-ACK): no scaling either way
                    pair[0] = pair[1] = -2
                elif f & ACK and pair[1 - di] == -2:  # WS in the SYN-ACK only
                    pair[di] = -2
            after[0, p], after[1, p] = pair
        mark = np.zeros(len(fl), dtype=bool)
        mark[ev] = True
        prev = self._prev(mark)
        a = self._take(after[0], prev, -1)
        b = self._take(after[1], prev, -1)
        return np.where(d, b, a), np.where(d, a, b)

    def _initial_rtt(self, lay: Layout, fl: np.ndarray, t_s: np.ndarray):
        """Per dense stream: initial RTT in ns (0 = unknown) and the row that set it.

        Wireshark: at each ACK without SYN, if a pure SYN was seen and the RTT is still zero,
        RTT = now - time of the most recent pure SYN.
        """
        n = len(fl)
        syn_ack = fl & (SYN | ACK)
        last_syn = self._prev(syn_ack == SYN)
        delta = t_s - self._take(t_s, last_syn, 0)
        cand = np.flatnonzero((syn_ack == ACK) & (last_syn >= 0) & (delta != 0))
        first = np.full(lay.nstreams, n, dtype=np.int64)
        np.minimum.at(first, lay.dense[self._o[cand]], cand)
        found = first < n
        rtt = np.zeros(lay.nstreams, dtype=np.int64)
        row = np.full(lay.nstreams, n, dtype=np.int64)
        rtt[found] = delta[first[found]]
        row[found] = self._o[first[found]]
        return rtt, row
