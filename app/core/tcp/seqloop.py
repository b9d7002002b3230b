"""The sequential part of the TCP analysis: Wireshark 4.0's tcp_analyze_sequence_number().

Each segment depends on the state its flow (and the reverse flow) reached after the previous
segments, so this is one tight pass over plain Python ints.  It mirrors packet-tcp.c closely,
including its 32-bit wrap-around arithmetic, its "0 means not seen yet" sentinels, its unsigned
32-bit duplicate ACK counter and its unsigned 64-bit time differences; comments name the checks
they reproduce.  Everything computable from whole arrays (previous ack/window/time of each flow,
zero window, window full, initial RTT, relative numbers, scaling) is done in prior.py/vector.py.

Two details were settled against the tshark 4.0.17 references rather than the source at hand:
an ACK beyond the reverse flow's highest continuous sequence number is an "ACKed unseen segment"
only while that flow still has unacknowledged segments (it then resets the flow's
maxseqtobeacked to its nextseq and sets its duplicate ACK counter to -1, which the fast
retransmission test, counting unsigned, reads as "many").
"""
from __future__ import annotations

from collections import deque

import numpy as np

from app.core.tcp.flags import (
    ACK_LOST_SEGMENT, DUPLICATE_ACK, FAST_RETRANSMISSION, KEEP_ALIVE, KEEP_ALIVE_ACK, LOST_SEGMENT,
    OUT_OF_ORDER, RETRANSMISSION, REUSED_PORTS, SPURIOUS_RETRANSMISSION, WINDOW_UPDATE,
    ZERO_WINDOW_PROBE, ZERO_WINDOW_PROBE_ACK,
)
from app.core.tcp.prior import ZWP_CANDIDATE

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
HALF = 0x80000000
FAST_RT_NS = 20_000_000  # fast retransmission: within 20 ms of the last duplicate ACK
OOO_DEFAULT_NS = 3_000_000  # out-of-order threshold while the initial RTT is unknown
MAX_UNACKED = 10_000  # TCP_MAX_UNACKED_SEGMENTS
CHUNK = 65_536  # rows converted to Python ints at a time


class LoopResult:
    """Sparse results of :func:`run`: only segments with a non-zero mask are listed."""

    __slots__ = ("rows", "masks", "dup_num", "dup_frame", "overrides")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.masks: list[int] = []
        self.dup_num: list[int] = []
        self.dup_frame: list[int] = []
        # (row, flow, new base) when a SYN-ACK moved its flow's base sequence number.
        self.overrides: list[tuple[int, int, int]] = []


def run(cols: dict[str, np.ndarray], reused: np.ndarray, base: list[int], base_row: list[int],
        rtt_ns: list[int], rtt_row: list[int], rows: np.ndarray | None = None) -> LoopResult:
    """Analyse every segment, or only ``rows`` (ascending): whole streams the loop would not
    flag may be left out (app/core/tcp/plain.py), as streams share no state.

    ``cols`` holds one int64 array per row value: flow (2 * dense stream + direction), flags,
    seq, ack, len (tcp.len, -1 for segments Wireshark does not analyse), win (raw window), time
    (ns), and from app/core/tcp/prior.py own_ack, own_win, rev_ack, rev_time, pre_bits.  Values
    needed only on rare paths are read from the arrays there.  ``base``/``base_row`` give each
    flow's initial base sequence number and the row that set it; ``base`` is updated here when
    a SYN-ACK overrides it.  ``rtt_ns``/``rtt_row``: each stream's initial RTT and the row after
    which it is known.  Rows become Python ints one chunk at a time (less memory, same loop).
    Duplicate ACK frames are returned as row numbers (-1: frame 0).
    """
    nflows = len(base)
    res = LoopResult()
    # Per-flow state (tcp_analyze_seq_flow_info_t and tcp_flow_t fields); lastack, window and
    # lastacktime come precomputed in ``prior``.
    nextseq = [0] * nflows
    nextseqtime = [0] * nflows
    maxseqtobeacked = [0] * nflows
    # row of the last segment that changed the ACK value; -1 (frame 0 for Wireshark) until one
    # did, so that the value never depends on the segments of other streams
    lastnondupack = [-1] * nflows
    dupacknum = [0] * nflows  # guint32 in Wireshark: -1 stands for 0xFFFFFFFF
    lastflags = [0] * nflows
    # nextseq of the segments not yet acked (Wireshark's ual list; only count and emptiness
    # matter), kept sorted in sequence space so that an ACK removes a prefix
    unacked: list[deque | None] = [None] * nflows
    unsorted = [False] * nflows
    st = (nextseq, nextseqtime, maxseqtobeacked, lastnondupack, dupacknum, lastflags, unacked,
          unsorted)
    n = len(cols["flow"])
    names = ("flow", "flags", "seq", "ack", "len", "time", "own_ack", "rev_ack", "pre_bits")
    rare = (cols["win"], cols["own_win"], cols["rev_time"])
    if rows is not None:
        n = len(rows)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        if rows is None:
            chunk = [range(lo, hi)] + [cols[name][lo:hi].tolist() for name in names]
        else:
            part = rows[lo:hi]
            chunk = [part.tolist()] + [cols[name][part].tolist() for name in names]
        _chunk(chunk, rare, reused, base, base_row, rtt_ns, rtt_row, st, res)
    return res


def _chunk(chunk, rare, reused, base, base_row, rtt_ns, rtt_row, st, res) -> None:
    """The per-segment loop over one chunk of rows (state in ``st``, results in ``res``)."""
    (nextseq, nextseqtime, maxseqtobeacked, lastnondupack, dupacknum, lastflags, unacked,
     unsorted) = st
    wins, own_wins, rev_times = rare
    rows, masks, dnums, dframes = res.rows, res.masks, res.dup_num, res.dup_frame
    for i, f, flags, seq, ack, sl, t, lack, la, pre in zip(*chunk):
        ta = 0
        # --- dissect_tcp(): conversation handling before the analysis -----------------------
        if flags & 2:
            if not flags & 0x10:
                if reused[i]:
                    ta = REUSED_PORTS  # the SYN opened a new conversation on a used 4-tuple
                elif base_row[f] < i:
                    if seq != base[f]:
                        ta = REUSED_PORTS  # (a new stream would have been started)
                    else:
                        nextseq[f] = maxseqtobeacked[f]  # same ISN: restore (issue 17616)
            elif base_row[f] < i and seq != base[f]:
                base[f] = seq
                ta = REUSED_PORTS
                res.overrides.append((i, f, seq))
        if sl < 0:
            if ta:
                rows.append(i)
                masks.append(ta)
                dnums.append(0)
                dframes.append(0)
            continue
        r = f ^ 1
        nseq = nextseq[f]
        sfr = flags & 7  # SYN|FIN|RST
        # --- tcp_analyze_sequence_number() ------------------------------------------------
        if pre & ZWP_CANDIDATE and seq == nseq:
            ta |= ZERO_WINDOW_PROBE  # one byte at nextseq into a zero window (goto finished_fwd)
        else:
            if pre:
                ta |= pre & 0xFFFF  # ZERO WINDOW, WINDOW FULL
            if seq != nseq:
                if nseq and (nseq - seq) & M32 >= HALF and not flags & 4:
                    ta |= LOST_SEGMENT  # GT_SEQ(seq, nextseq), not for RST
                elif sl <= 1 and not sfr and seq == (nseq - 1) & M32:
                    ta |= KEEP_ALIVE
            if sl == 0 and ack == lack and seq == nseq and not sfr:
                win = int(wins[i])
                if win != own_wins[i]:
                    if win:
                        ta |= WINDOW_UPDATE
                elif win:
                    if lastflags[r] & KEEP_ALIVE:
                        ta |= KEEP_ALIVE_ACK
                    else:
                        d = dupacknum[f]
                        d = 1 if d == -1 else d + 1
                        dupacknum[f] = d
                        ta |= DUPLICATE_ACK
                        dnums.append(d)
                        dframes.append(lastnondupack[f])
                elif lastflags[r] & ZERO_WINDOW_PROBE:
                    ta |= ZERO_WINDOW_PROBE_ACK
        # finished_fwd: a new ACK value resets the duplicate ACK counter
        if ack != lack:
            lastnondupack[f] = i
            dupacknum[f] = 0
        # ACKED LOST PACKET: beyond the reverse flow's highest continuous sequence number,
        # while some of its segments are still unacked
        mr = maxseqtobeacked[r]
        if mr and flags & 0x10 and (mr - ack) & M32 >= HALF and unacked[r]:
            maxseqtobeacked[r] = nextseq[r]
            ta |= ACK_LOST_SEGMENT
            dupacknum[r] = -1
        # RETRANSMISSION / FAST RETRANSMISSION / SPURIOUS / OUT-OF-ORDER
        synfin = flags & 3
        if (sl or synfin) and not ta & KEEP_ALIVE:
            # LT_SEQ(seq, nextseq), except one byte behind (the previous segment was a window
            # probe) when this segment carries more than one byte
            not_adv = (seq != nseq and nseq and (seq - nseq) & M32 >= HALF
                       and not (sl > 1 and (nseq - 1) & M32 == seq))
            if sl and la and (seq + sl - la - 1) & M32 >= HALF - 1:
                ta |= SPURIOUS_RETRANSMISSION  # LE_SEQ(seq + seglen, rev lastack)
            elif not_adv:
                dr = dupacknum[r]
                if ((dr >= 2 or dr == -1) and la == seq
                        and (t - int(rev_times[i])) & M64 < FAST_RT_NS):
                    ta |= FAST_RETRANSMISSION
                else:
                    s = f >> 1
                    rtt = rtt_ns[s] if rtt_row[s] < i else 0
                    thres = OOO_DEFAULT_NS if rtt == 0 else rtt & M64
                    if ((t - nextseqtime[f]) & M64 < thres
                            and nseq != (seq + sl + (1 if synfin else 0)) & M32):
                        ta |= OUT_OF_ORDER
                    else:
                        ta |= RETRANSMISSION
        # finished_checking_retransmission_type: store the segment as unacked (at most
        # TCP_MAX_UNACKED_SEGMENTS; only then does a SYN/FIN count one more byte)
        nxt = (seq + sl) & M32
        if sl or synfin:
            ul = unacked[f]
            if ul is None:
                ul = unacked[f] = deque()
            if len(ul) < MAX_UNACKED:
                if synfin:
                    nxt = (nxt + 1) & M32
                if ul and (ul[-1] - nxt) & M32 < HALF:
                    unsorted[f] = True  # not after the tail: !GT_SEQ(nxt, tail)
                ul.append(nxt)
        # remember the highest sequence number seen and the highest continuous one
        if not ta & ZERO_WINDOW_PROBE:
            if not nseq or (nseq - nxt) & M32 >= HALF:  # GT_SEQ(nxt, nextseq)
                nextseq[f] = nseq = nxt
                nextseqtime[f] = t
            mx = maxseqtobeacked[f]
            if seq == mx or not mx:
                maxseqtobeacked[f] = nseq
        # remove the reverse flow's segments this ACK covers (LE_SEQ(nextseq, ack))
        ul = unacked[r]
        if ul:
            if unsorted[r]:
                keep = sorted((u for u in ul if (ack - u) & M32 >= HALF),  # GT_SEQ(u, ack)
                              key=lambda u: (u - ack) & M32)
                unacked[r] = deque(keep)
                unsorted[r] = False
            else:
                while ul and (ul[0] - ack - 1) & M32 >= HALF - 1:
                    ul.popleft()
        lastflags[f] = ta
        if ta:
            rows.append(i)
            masks.append(ta)
            if not ta & DUPLICATE_ACK:
                dnums.append(0)
                dframes.append(0)
