"""Streams the sequential loop can skip: every segment in order, nothing for it to flag.

Most streams of a capture are uneventful: each direction's segments follow one another without
gaps, every pure ACK acknowledges something new and no ACK runs ahead of the data it covers.
For such a stream the loop of app/core/tcp/seqloop.py sets no flag, moves no base and leaves
its per-flow state (nextseq, maxseqtobeacked) equal to "the end of the flow's last segment";
streams share no state, so leaving those streams out changes no result.  Each condition below
is the negation of a branch of the loop that could flag a segment, evaluated on whole arrays
with that invariant; a stream is left to the loop as soon as one of its segments fails one.
The test is conservative: a stream the loop would not flag may still be sent to it.
"""
from __future__ import annotations

import numpy as np

from app.core.tcp.model import ACK, SYN
from app.core.tcp.prior import Prior
from app.core.tcp.seqloop import MAX_UNACKED  # beyond it a SYN/FIN no longer counts one byte
from app.core.tcp.vector import Layout

M32 = 0xFFFFFFFF
HALF = 0x80000000


def loop_rows(lay: Layout, prior: Prior, flags: np.ndarray, seq: np.ndarray, ack: np.ndarray,
              plen: np.ndarray, ok: np.ndarray, reused: np.ndarray, base: np.ndarray,
              base_row: np.ndarray) -> np.ndarray:
    """The rows (frame order, ascending) of the streams the sequential loop must analyse.

    ``plen`` is tcp.len with 0 for unanalysable rows; ``base``/``base_row`` are the initial
    bases of app/core/tcp/vector.py.initial_bases()."""
    n = len(flags)
    rows = np.arange(n)
    fl = flags.astype(np.int64)
    sq = seq.astype(np.int64)
    ak = ack.astype(np.int64)
    synfin = (fl & 3) != 0
    nxt = (sq + plen + synfin) & M32  # where the segment leaves its flow's nextseq
    own, rev = prior.own_row, prior.rev_row  # the flow's / reverse flow's previous row, -1

    # Unanalysable rows, zero windows, window-full and probe candidates.  (A nextseq that
    # wraps to 0, "none yet" for the loop, takes the same branches here.)
    odd = ~ok | (prior.pre_bits != 0)
    # In order: every segment starts where its flow's previous one ended (no lost segment,
    # keep-alive, retransmission or out-of-order); a flow's first segment must not look like a
    # keep-alive one byte before "nextseq 0".
    odd |= np.where(own < 0, sq == M32, sq != nxt[np.maximum(own, 0)])
    # A pure ACK repeating the flow's last ACK: duplicate ACK, window update or their kin.
    odd |= (plen == 0) & ((fl & 7) == 0) & (ak == prior.own_ack)
    # An ACK beyond the reverse flow's nextseq (= its maxseqtobeacked here): ACKed unseen.
    rev_nxt = np.where(rev >= 0, nxt[np.maximum(rev, 0)], 0)
    odd |= ((fl & ACK) != 0) & (rev_nxt != 0) & (((rev_nxt - ak) & M32) >= HALF)
    # Data the reverse flow has acknowledged already: spurious retransmission.
    la = prior.rev_ack
    odd |= (plen > 0) & (la != 0) & (((sq + plen - la - 1) & M32) >= HALF - 1)
    # SYNs other than the one that set the flow's base: reused ports, restored nextseq or a
    # SYN-ACK moving the base.
    syn = (fl & SYN) != 0
    pure_syn = syn & ((fl & ACK) == 0)
    late = base_row[lay.flow] < rows
    odd |= pure_syn & (reused | late)
    odd |= syn & ~pure_syn & late & (sq != base[lay.flow])

    busy = np.zeros(lay.nstreams, dtype=bool)
    busy[lay.dense[odd]] = True
    busy |= (lay.stream_end - lay.stream_start) > MAX_UNACKED
    return np.flatnonzero(busy[lay.dense])
