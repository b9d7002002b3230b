"""The TCP passes of the index: sequence analysis, then reassembly replay, on two cores.

Both passes work stream by stream, so from PARALLEL_FROM segments on the streams are cut in two
halves of about the same work (procpool.far_half): a worker process analyses and then replays
the far half while this process does the same with the near half.  Each half goes from one pass
to the next without waiting for the other, and the worker gets one job instead of two (its
input and output cross once).  The worker reads the payloads it replays from the capture file
itself: they are most of the file, far too much to send.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.core import indexfiles, pdus, procpool, tcpindex
from app.core.pdus import payloads
from app.core.pdus import tcp as pdutcp
from app.core.pdus.state import Result
from app.core.tcp import TcpSegments
from app.core.tcp.analysis import StreamSummary, analyze_for_index, merge_summaries

log = logging.getLogger("wirelens")
# TCP segments from which half of the streams go to the worker process: below, starting and
# feeding it costs about what it saves.
PARALLEL_FROM = 200_000
# What a candidate segment costs the replay, counted in segments of the analysis (measured on
# the generated 1M-packet capture: about 1 and 2 microseconds): the halves balance both passes.
REPLAY_WEIGHT = 2
# The worker's share of the work: this process also computes the frame columns meanwhile and
# merges the halves (on the generated 1M-packet capture, equal halves left the worker waiting
# 0.1 s).
WORKER_SHARE = 0.53
# The replay's columns that the analysis computes, with the analysis field giving each
FROM_ANALYSIS = {"tcp_seq": "seq", "tcp_analysis": "analysis"}


@dataclass
class Half:
    """What one process needs for its half of the streams."""

    segments: TcpSegments       # the analysis input
    rows: np.ndarray            # replay candidates (packets from 0), by stream, frame order within
    keys: np.ndarray            # their protocol keys
    at: np.ndarray              # the position of each candidate among ``segments``
    decoded: dict[str, np.ndarray]  # the replay's other columns, per candidate


# (analysis values per segment, per-stream summary, replayed candidates, their outcomes)
Outcome = tuple[dict[str, np.ndarray], StreamSummary, np.ndarray, Result]


def tcp_columns(data: np.ndarray, cols: dict[str, np.ndarray],
                release: Callable[[], None] = lambda: None,
                capture: str | os.PathLike | None = None,
                meanwhile: Callable[[], None] = lambda: None) -> tuple[dict[str, np.ndarray], StreamSummary | dict]:
    """The TCP columns of the index (stream numbers, tcp.ANALYSIS_COLUMNS, the PDU columns of
    app.core.pdus) and the per-stream summary arrays.

    ``capture``: the path of the file ``data`` maps; without it (nothing for a worker to read)
    everything runs here.  ``meanwhile`` runs once this process's half is done, before it waits
    for the worker's (always runs)."""
    n = len(cols["l4"])
    stream, direction, reused = tcpindex.tcp_streams(cols)
    out = {"tcp_stream": stream, "tcp_dir": direction}
    rows = np.flatnonzero(stream >= 0)
    if len(rows) == 0:
        meanwhile()
        return {**out, **tcpindex.empty_analysis(n), **pdus.empty_tcp_pdu_columns(n)}, {}
    source = {**cols, "tcp_stream": stream, "tcp_dir": direction}
    candidates, keys = pdus.tcp_candidates(data, source, release)
    segments = tcpindex.segment_maker(data, cols, rows, stream, direction, reused, release)
    rank = np.cumsum(stream >= 0) - 1  # each TCP packet's position among ``rows``
    parts: list[np.ndarray] = [np.arange(len(rows))]
    if len(rows) >= PARALLEL_FROM and capture is not None:
        weights = np.ones(n, dtype=np.int64)
        weights[candidates] += REPLAY_WEIGHT
        far = procpool.far_half(stream[rows], weights[rows], WORKER_SHARE)
        if far.any() and not far.all():
            parts = [np.flatnonzero(~far), np.flatnonzero(far)]
    side = np.zeros(len(rows), dtype=np.int8)  # which part each segment is in ...
    where = np.empty(len(rows), dtype=np.int64)  # ... and where in it
    for k, part in enumerate(parts):
        side[part] = k
        where[part] = np.arange(len(part))
    cand_side = side[rank[candidates]]

    def half(k: int) -> Half:
        pick = np.flatnonzero(cand_side == k)
        # connection by connection, frame order within (the candidates are in frame order)
        pick = pick[np.argsort(stream[candidates[pick]], kind="stable")]
        c = candidates[pick]
        decoded = {name: source[name][c] for name in pdutcp.COLUMNS if name not in FROM_ANALYSIS}
        return Half(segments(parts[k]), c, keys[pick], where[rank[c]], decoded)

    with payloads.reader(data, capture) as read:
        if len(parts) == 1:
            results = [run_half(half(0), read, release)]
            meanwhile()
        else:
            # The far half first, so that the worker starts as early as possible; its input is
            # not kept here meanwhile (a failing worker's half is gathered again).
            with payloads.reader(data, None) as indexed:  # the bytes indexed, not the file now
                mark = payloads.fingerprint(indexed, len(data))
            future = procpool.submit(half_in_worker, os.fspath(capture), len(data), mark,
                                     half(1))
            near = half(0)
            indexfiles.drop_pages(cols)  # what the passes need of them is in the halves now
            results = [run_half(near, read, release)]
            del near
            meanwhile()
            results.append(procpool.result(future, lambda: run_half(half(1), read, release)))
            del future
    return _merge(n, out, rows, stream[rows], parts, results)


def run_half(half: Half, read: pdutcp.Read, release: Callable[[], None] = lambda: None) -> Outcome:
    """Analyse the segments of ``half``, then replay its candidates."""
    values, summary = analyze_for_index(half.segments)
    cols = dict(half.decoded)
    for name, field in FROM_ANALYSIS.items():
        cols[name] = values[field][half.at]
    result = Result(len(half.rows))
    # A flaw in the replay must cost the rows their reassembly context, not the index.
    try:
        pdutcp.replay_blocks(read, cols, half.rows, half.keys, result, release,
                             at=np.arange(len(half.rows)))
    except Exception:  # noqa: BLE001
        log.exception("TCP reassembly context could not be computed")
        result = Result(len(half.rows))
    return values, summary, half.rows, result


def half_in_worker(path: str, size: int, fingerprint: int, half: Half) -> Outcome:
    """In the worker: ``run_half``, reading the capture at ``path``, whose first ``size`` bytes
    were indexed."""
    with payloads.reader(None, path) as read:
        # A capture replaced or cut since it was indexed would give other roles, silently.
        if os.path.getsize(path) < size or payloads.fingerprint(read, size) != fingerprint:
            raise RuntimeError(f"{path} changed since it was indexed")
        return run_half(half, read)


def _merge(n: int, out: dict[str, np.ndarray], rows: np.ndarray, tcp_stream: np.ndarray,
           parts: list[np.ndarray], results: list[Outcome | None]) -> tuple[dict, StreamSummary]:
    """The columns of every packet from the halves' outcomes (each dropped once copied): the
    columns are filled only now, while the halves ran they would only have held memory."""
    out.update(tcpindex.empty_analysis(n))
    out.update(pdus.empty_tcp_pdu_columns(n))
    summaries = []
    for k, part in enumerate(parts):
        values, summary, replayed, result = results[k]
        results[k] = None
        tcpindex.fill_analysis(out, rows[part], values)
        pdus.fill_tcp_pdu_columns(out, replayed, result)
        summaries.append((np.unique(tcp_stream[part]), summary))
        del values, replayed, result
    if len(parts) == 1:
        return out, summaries[0][1]
    return out, merge_summaries(summaries, int(tcp_stream.max()) + 1)
