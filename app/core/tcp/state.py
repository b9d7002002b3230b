"""Per-endpoint TCP connection state (RFC 9293 names) inferred from the segments of a capture.

Model: a segment seen in the capture is assumed to be delivered, so after every segment both the
sender's and the receiver's states move as RFC 9293 section 3.10 prescribes for sending and
receiving it.  Evidence rules where a capture cannot show everything:

* A stream that starts without a SYN: both endpoints are UNKNOWN until the endpoint itself sends a
  segment with ACK set (proof it is synchronized): then ESTABLISHED, or CLOSE-WAIT when the peer's
  FIN was already seen.  Receiving segments proves nothing about an UNKNOWN endpoint.
* A SYN puts the receiver in LISTEN (it is presumed listening; it is SYN-RECEIVED only once its
  SYN-ACK is seen).  A pure SYN sent by an endpoint that already received the peer's SYN is a
  simultaneous open (both SYN-RECEIVED); a FIN that does not acknowledge the peer's FIN already seen
  is a simultaneous close (both CLOSING).
* An RST closes both endpoints (CLOSED), except that a passive opener in SYN-RECEIVED returns to
  LISTEN.  Segments are not checked against the receive window.
* TIME-WAIT is not timed out: it lasts until the stream's next SYN (or the end of the capture).
* A SYN from CLOSED, LISTEN or TIME-WAIT starts a new connection; SYNs and SYN-ACKs seen in a
  synchronized state are duplicates and change nothing.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

M32 = 0xFFFFFFFF
HALF = 0x80000000


class TcpState(IntEnum):
    UNKNOWN = 0
    CLOSED = 1
    LISTEN = 2
    SYN_SENT = 3
    SYN_RECEIVED = 4
    ESTABLISHED = 5
    FIN_WAIT_1 = 6
    FIN_WAIT_2 = 7
    CLOSE_WAIT = 8
    CLOSING = 9
    LAST_ACK = 10
    TIME_WAIT = 11


STATE_NAMES: dict[int, str] = {s.value: s.name.replace("_", "-") for s in TcpState}

UNKNOWN, CLOSED, LISTEN, SYN_SENT, SYN_RECEIVED, ESTABLISHED = 0, 1, 2, 3, 4, 5
FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = 6, 7, 8, 9, 10, 11
_OPENABLE = (UNKNOWN, CLOSED, LISTEN, TIME_WAIT)
_ACK_WATCH = (SYN_RECEIVED, FIN_WAIT_1, CLOSING, LAST_ACK)
# States in which a segment without SYN/FIN/RST changes nothing, whichever way it goes.
_QUIET = frozenset({CLOSED, LISTEN, ESTABLISHED, FIN_WAIT_2, CLOSE_WAIT, TIME_WAIT})


def state_name(code: int) -> str:
    """RFC 9293 spelling of a state code, e.g. ``"SYN-RECEIVED"``."""
    return STATE_NAMES[int(code)]


def _acks(ack: int, value: int) -> bool:
    """GE_SEQ(ack, value + 1): the ACK covers the byte (SYN/FIN) numbered ``value``."""
    return ((ack - value - 1) & M32) < HALF


def track_states(flow: np.ndarray, flags: np.ndarray, seq: np.ndarray, ack: np.ndarray,
                 payload_len: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """States of endpoints A and B of each segment's stream after that segment.

    ``flow`` = 2 * dense stream + direction (direction 0 = sent by A).  ``order``: the rows
    sorted by stream, stably (computed when not given).  Returns two uint8 arrays of
    :class:`TcpState` codes.

    Streams are independent, so they are replayed one after the other; within a stream, once
    neither endpoint is in a state a plain ACK could change, the replay jumps to the stream's
    next SYN, FIN or RST: the rows in between keep the states of the row before them.  That
    leaves to the Python loop only the few rows around handshakes and closes.
    """
    n = len(flow)
    nend = int(flow.max()) + 2 if n else 0
    nend += nend & 1
    if order is None:
        order = np.argsort(flow >> 1, kind="stable")
    fl_s = flags[order].astype(np.int64)
    flow_s = flow[order]
    pos = np.arange(n)
    # next_stop[p]: the first row after p that is a SYN/FIN/RST or starts another stream
    stop = ((fl_s & 7) != 0) | np.r_[True, (flow_s[1:] >> 1) != (flow_s[:-1] >> 1)]
    following = np.minimum.accumulate(np.where(stop, pos, n)[::-1])[::-1]
    next_stop = np.r_[following[1:], n].tolist()
    st = [UNKNOWN] * nend
    isn = [-1] * nend  # own SYN sequence number
    finseq = [-1] * nend  # own FIN sequence number
    passive = [False] * nend  # came from LISTEN
    got_syn = [False] * nend  # received the peer's SYN while in LISTEN
    visited: list[int] = []
    codes: list[int] = []  # 16 * state A + state B after each visited row
    flow_l, fl_l = flow_s.tolist(), fl_s.tolist()
    # Read only at SYNs, FINs and the ACKs that complete them: item by item, not as lists
    seq_s, ack_s, len_s = seq[order], ack[order], payload_len[order]
    seq_l, ack_l, len_l = seq_s.item, ack_s.item, len_s.item
    i = 0
    while i < n:
        s_, fl = flow_l[i], fl_l[i]
        r_ = s_ ^ 1
        ss, rs = st[s_], st[r_]
        if fl & 4:  # RST
            ss = CLOSED
            rs = LISTEN if rs == SYN_RECEIVED and passive[r_] else CLOSED
            got_syn[s_] = got_syn[r_] = False
        elif fl & 2:  # SYN
            sq = seq_l(i)
            if not fl & 0x10:  # pure SYN
                if ss in _OPENABLE:
                    ss = SYN_RECEIVED if ss == LISTEN and got_syn[s_] else SYN_SENT
                    isn[s_], finseq[s_], passive[s_] = sq, -1, False
                elif ss == SYN_SENT:
                    isn[s_] = sq
                if rs in _OPENABLE:
                    rs = LISTEN
                    passive[r_], got_syn[r_], finseq[r_] = True, True, -1
                elif rs == SYN_SENT:
                    rs = SYN_RECEIVED  # simultaneous open
            else:  # SYN-ACK
                if ss in _OPENABLE or ss == SYN_SENT or ss == SYN_RECEIVED:
                    if ss != SYN_SENT and ss != SYN_RECEIVED:
                        passive[s_] = True
                    ss = SYN_RECEIVED
                    isn[s_], finseq[s_] = sq, -1
                if rs in (UNKNOWN, SYN_SENT, SYN_RECEIVED) and (
                        isn[r_] < 0 or _acks(ack_l(i), isn[r_])):
                    rs = ESTABLISHED
                    finseq[r_] = -1
        else:
            ackf = fl & 0x10
            if ackf:
                if ss == UNKNOWN:
                    ss = CLOSE_WAIT if finseq[r_] >= 0 else ESTABLISHED
                elif ss == SYN_SENT:
                    ss = ESTABLISHED  # its ACK proves the (missed) SYN-ACK arrived
                if rs in _ACK_WATCH:
                    a = ack_l(i)
                    if rs == SYN_RECEIVED:
                        if isn[r_] < 0 or _acks(a, isn[r_]):
                            rs = ESTABLISHED
                    elif finseq[r_] >= 0 and _acks(a, finseq[r_]):
                        rs = FIN_WAIT_2 if rs == FIN_WAIT_1 else (
                            TIME_WAIT if rs == CLOSING else CLOSED)
            if fl & 1:  # FIN
                fs = (seq_l(i) + len_l(i)) & M32
                if ss in (ESTABLISHED, SYN_RECEIVED, SYN_SENT, UNKNOWN):
                    ss = FIN_WAIT_1
                    finseq[s_] = fs
                elif ss == CLOSE_WAIT:
                    acked = ackf and finseq[r_] >= 0 and _acks(ack_l(i), finseq[r_])
                    ss = LAST_ACK if acked else CLOSING
                    finseq[s_] = fs
                if rs in (ESTABLISHED, SYN_RECEIVED):
                    rs = CLOSE_WAIT
                elif rs == FIN_WAIT_1:
                    rs = CLOSING
                elif rs == FIN_WAIT_2:
                    rs = TIME_WAIT
                if finseq[s_] < 0:
                    finseq[s_] = fs  # seen while the sender's state was unclear
        st[s_], st[r_] = ss, rs
        a, b = (rs, ss) if s_ & 1 else (ss, rs)
        visited.append(i)
        codes.append(a * 16 + b)
        i = next_stop[i] if a in _QUIET and b in _QUIET else i + 1
    # every row skipped takes the codes of the last visited row before it (same stream)
    last = np.zeros(n, dtype=np.int64)
    last[visited] = visited
    np.maximum.accumulate(last, out=last)
    values = np.zeros(n, dtype=np.uint8)
    values[visited] = codes
    out = np.empty(n, dtype=np.uint8)
    out[order] = values[last]
    return out >> 4, out & 15
