"""TCP sequence analysis of a whole capture, as tshark 4.0 computes it in a single pass.

``analyze()`` turns the per-segment arrays of :class:`TcpSegments` into :class:`TcpAnalysis`:
relative sequence numbers, tcp.nxtseq, scaled windows, completeness and handshakes come from whole
arrays (app/core/tcp/vector.py, app/core/tcp/prior.py); the flags that depend on the order of
segments come from one tight loop (app/core/tcp/seqloop.py) over the streams that need it
(app/core/tcp/plain.py); endpoint states from
app/core/tcp/state.py.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from app.core.tcp import plain, seqloop, vector
from app.core.tcp.model import StreamSummary, TcpAnalysis, TcpSegments
from app.core.tcp.prior import Prior
from app.core.tcp.state import track_states


def analyze(seg: TcpSegments, states: bool = True) -> TcpAnalysis:
    """Analyse ``seg`` (frame order).  ``states=False`` skips the endpoint state machine."""
    n = len(seg)
    lay = vector.Layout(seg.stream, seg.direction)
    ok = seg.analyzable
    plen = np.where(ok, seg.payload_len, 0).astype(np.int64)
    base, base_row = vector.initial_bases(lay, seg.seq_raw, seg.ack_raw, seg.flags, ok)
    times = np.rint(seg.time * 1e9).astype(np.int64)

    prior = Prior(lay, seg.flags, seg.seq_raw, seg.ack_raw, plen, seg.window_value,
                  seg.ws_option, times, ok)
    cols = {"flow": lay.flow, "flags": seg.flags, "seq": seg.seq_raw, "ack": seg.ack_raw,
            "len": np.where(ok, plen, -1), "win": seg.window_value, "time": times}
    for name in ("own_ack", "own_win", "rev_ack", "rev_time", "pre_bits"):
        cols[name] = getattr(prior, name)
    busy = plain.loop_rows(lay, prior, seg.flags, seg.seq_raw, seg.ack_raw, plen, ok,
                           seg.reused, base, base_row)
    loop = seqloop.run(cols, seg.reused, base.tolist(), base_row.tolist(),
                       prior.rtt_ns.tolist(), prior.rtt_row.tolist(), busy)

    rel_seq, rel_ack, nxtseq = vector.relative_numbers(
        lay, seg.seq_raw, seg.ack_raw, seg.flags, plen, ok, base, loop.overrides)
    mask = np.zeros(n, dtype=np.uint32)
    dup_num = np.zeros(n, dtype=np.uint32)
    dup_frame = np.zeros(n, dtype=np.int64)
    if loop.rows:
        rows = np.array(loop.rows, dtype=np.int64)
        mask[rows] = loop.masks
        dup_num[rows] = loop.dup_num
        dup_rows = np.array(loop.dup_frame, dtype=np.int64)
        frames = np.r_[seg.number, 0]  # row -1: no segment changed the ACK yet, frame 0
        dup_frame[rows] = np.where(dup_num[rows] > 0, frames[dup_rows], 0)

    if states:
        state_a, state_b = track_states(lay.flow, seg.flags, seg.seq_raw, seg.ack_raw, plen,
                                        lay.order)
    else:
        state_a = state_b = np.zeros(n, dtype=np.uint8)

    return TcpAnalysis(
        seq=rel_seq, ack=rel_ack, nxtseq=nxtseq,
        window_size=vector.scaled_window(seg.window_value, seg.flags, prior.own_scale, ok),
        win_scale=prior.own_scale.astype(np.int8), analysis=mask, dup_ack_num=dup_num,
        dup_ack_frame=dup_frame, state_a=state_a, state_b=state_b,
        streams=_stream_summary(lay, seg, plen, ok, prior.rtt_ns),
    )


# StreamSummary fields: (value of a stream number without segments, dtype)
_SUMMARY_EMPTY = {
    "completeness": (0, np.uint8), "syn_frame": (0, np.int64), "syn_ack_frame": (0, np.int64),
    "ack_frame": (0, np.int64), "client_isn": (-1, np.int64), "server_isn": (-1, np.int64),
    "client_direction": (-1, np.int8), "initial_rtt": (np.nan, np.float64),
}
# The TcpAnalysis fields the packet index stores
INDEX_FIELDS = ("seq", "ack", "nxtseq", "window_size", "analysis", "dup_ack_num", "dup_ack_frame",
                "state_a", "state_b")


# Segments analysed together: the analysis holds a few hundred bytes of temporaries per
# segment, so the streams of a big capture are analysed a batch at a time (they are independent).
BATCH = 65_536


def analyze_for_index(seg: TcpSegments) -> tuple[dict[str, np.ndarray], StreamSummary]:
    """``analyze(seg)`` reduced to what the index stores (less to send back from a worker
    process): the INDEX_FIELDS arrays by name and the per-stream summary. Analysed in batches
    of whole streams of about BATCH segments."""
    batches = stream_batches(seg.stream, BATCH)
    if len(batches) == 1:
        res = analyze(seg)
        return {name: getattr(res, name) for name in INDEX_FIELDS}, res.streams
    values: dict[str, np.ndarray] = {}
    parts = []
    for rows in batches:
        res = analyze(TcpSegments(**{f.name: getattr(seg, f.name)[rows] for f in fields(seg)}))
        for name in INDEX_FIELDS:
            column = getattr(res, name)
            values.setdefault(name, np.empty(len(seg), dtype=column.dtype))[rows] = column
        parts.append((np.unique(seg.stream[rows]), res.streams))
        del res
    return values, merge_summaries(parts, int(seg.stream.max()) + 1)


def stream_batches(stream: np.ndarray, size: int) -> list[np.ndarray]:
    """The rows (ascending) of consecutive groups of whole streams of about ``size`` rows each
    (a stream longer than that is a batch of its own)."""
    if len(stream) <= size:
        return [np.arange(len(stream))]
    _ids, dense = np.unique(stream, return_inverse=True)
    counts = np.bincount(dense)
    row_batch = ((np.cumsum(counts) - counts) // size)[dense]
    order = np.argsort(row_batch, kind="stable")
    return np.split(order, np.cumsum(np.bincount(row_batch))[:-1])


def merge_summaries(parts: list[tuple[np.ndarray, StreamSummary]], size: int) -> StreamSummary:
    """One StreamSummary of ``size`` streams from the summaries of analyses of disjoint sets of
    streams, each given with the stream numbers it analysed (its values elsewhere are empty)."""
    merged = {}
    for name, (fill, dtype) in _SUMMARY_EMPTY.items():
        out = np.full(size, fill, dtype=dtype)
        for ids, summary in parts:
            out[ids] = getattr(summary, name)[ids]
        merged[name] = out
    return StreamSummary(**merged)


def _stream_summary(lay: vector.Layout, seg: TcpSegments, plen: np.ndarray, ok: np.ndarray,
                    first_rtt_ns: np.ndarray) -> StreamSummary:
    """Per-stream results, spread from dense stream ids to tcp.stream numbers."""
    size = int(lay.stream_ids.max()) + 1 if lay.nstreams else 0
    hs = vector.handshakes(lay, seg.number, seg.direction, seg.seq_raw, seg.ack_raw, seg.flags)
    rtt = first_rtt_ns.astype(np.float64) / 1e9
    rtt[rtt == 0] = np.nan
    values = dict(hs, completeness=vector.completeness(lay, seg.flags, plen, ok, seg.reused),
                  initial_rtt=rtt)
    spread = {}
    for name, (fill, dtype) in _SUMMARY_EMPTY.items():
        spread[name] = np.full(size, fill, dtype=dtype)
        spread[name][lay.stream_ids] = values[name]
    return StreamSummary(**spread)
