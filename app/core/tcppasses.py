"""The TCP passes of the index: sequence analysis, then reassembly replay, on two cores.

Both passes work stream by stream, so from PARALLEL_FROM segments on the streams are cut in two
halves of about the same work (procpool.far_half): a worker process analyses and then replays
the far half while this process does the same with the near half.  Each half goes from one pass
to the next without waiting for the other, and the worker gets one job.

Little crosses between the processes: which packets make the half.  The worker reads the
payloads it replays from the capture file itself (they are most of the file), and when the
index build keeps its columns in files (a big capture) it maps them too, gathers its half's
input from them, and writes its rows of the analysis and PDU columns straight into the
index's new column files: only its per-stream summary comes back.
"""
from __future__ import annotations

import logging
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
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
# What replaying a segment with payload costs, counted in analysed segments (measured on the
# generated 1M-packet capture: about 2 and 1 microseconds): the halves balance both passes.
REPLAY_WEIGHT = 2
# The worker's share of the work (this process computes the frame columns meanwhile; the
# worker finds its half's replay candidates itself).
WORKER_SHARE = 0.52
# The replay's columns that the analysis computes, with the analysis field giving each
FROM_ANALYSIS = {"tcp_seq": "seq", "tcp_analysis": "analysis"}
# The decoded columns the passes read
DECODED = ("l4", "ts_sec", "ts_nsec", "flags", "seq", "ack", "tcp_flags", "pl_len", "tcp_win",
           "tcp_ws", "offset", "l4_hdr", "tcp_hlen", "caplen", "pl_off", "sport", "dport")


@dataclass
class Half:
    """What one process needs for its half of the streams."""

    segments: TcpSegments       # the analysis input
    rows: np.ndarray            # replay candidates (packets from 0), by stream, frame order within
    keys: np.ndarray            # their protocol keys
    at: np.ndarray              # the position of each candidate among ``segments``
    decoded: dict[str, np.ndarray]  # the replay's other columns, per candidate


@dataclass
class Part:
    """Which packets make one half, and where their columns are: each process gathers its own
    half (the columns of a big capture are mapped files, which the worker maps too)."""

    cols: dict[str, np.ndarray]  # the DECODED columns of every packet
    stream: np.ndarray           # ... their tcp.stream (-1: not TCP), direction and port reuse
    direction: np.ndarray
    reused: np.ndarray
    rows: np.ndarray             # the half's TCP packets, ascending
    t0: int                      # the capture's first TCP second: one time origin for both halves
    out: dict[str, np.ndarray] | None  # the TCP column files to fill (None: in memory there)

    def gather(self, data: np.ndarray, release: Callable[[], None] | None = None) -> Half:
        """The half's analysis input and replay candidates; ``data``: the capture's bytes."""
        c, keys = pdus.tcp_candidates(data, {**self.cols, "tcp_stream": self.stream},
                                      release or (lambda: None), among=self.rows)
        by_connection = np.argsort(self.stream[c], kind="stable")  # frame order within each
        c, keys = c[by_connection], keys[by_connection]
        decoded = {name: self.cols[name][c] for name in pdutcp.COLUMNS
                   if name not in FROM_ANALYSIS and name in self.cols}
        decoded["tcp_stream"], decoded["tcp_dir"] = self.stream[c], self.direction[c]
        segments = tcpindex.tcp_segments(data, self.cols, self.rows, self.stream, self.direction,
                                         self.reused, self.t0, release)
        return Half(segments, c, keys, np.searchsorted(self.rows, c), decoded)


# (analysis values per segment, per-stream summary, replayed candidates, their outcomes)
Outcome = tuple[dict[str, np.ndarray], StreamSummary, np.ndarray, Result]


def tcp_columns(data: np.ndarray, cols: dict[str, np.ndarray],
                release: Callable[[], None] = lambda: None,
                capture: str | os.PathLike | None = None,
                meanwhile: Callable[[], None] = lambda: None,
                folder: Path | None = None) -> tuple[dict[str, np.ndarray], StreamSummary | dict]:
    """The TCP columns of the index (stream numbers, tcp.ANALYSIS_COLUMNS, the PDU columns of
    app.core.pdus) and the per-stream summary arrays.

    ``capture``: the path of the file ``data`` maps; without it (nothing for a worker to read)
    everything runs here.  ``meanwhile`` runs once this process's half is done, before it waits
    for the worker's (always runs).  ``folder``: where the analysis and PDU columns are created
    as files (the worker then fills its rows itself, and nothing is copied back); without it
    they are kept in memory."""
    n = len(cols["l4"])
    stream, direction, reused = tcpindex.tcp_streams(cols)
    # Zeroed; the values of packets without any are written below (each half its own packets').
    new = (lambda name, dtype: np.zeros(n, dtype=dtype)) if folder is None else (
        lambda name, dtype: indexfiles.create(Path(folder) / f"{name}.npy", n, dtype))
    out = {name: new(name, dtype)
           for name, dtype in {**tcpindex.ANALYSIS_COLUMNS, **pdus.TCP_PDU_COLUMNS}.items()}
    rows = np.flatnonzero(stream >= 0)
    if len(rows) == 0:
        _no_segment(out, stream < 0)
        meanwhile()
        return {"tcp_stream": stream, "tcp_dir": direction, **out}, {}
    far = np.zeros(len(rows), dtype=bool)
    if len(rows) >= PARALLEL_FROM and capture is not None:
        # a segment with payload is (nearly always) replayed as well as analysed
        weights = 1 + REPLAY_WEIGHT * (cols["pl_len"][rows] > 0)
        far = procpool.far_half(stream[rows], weights, WORKER_SHARE)
        if far.all():
            far[:] = False
    decoded = {name: cols[name] for name in DECODED}
    t0 = int(cols["ts_sec"][rows[0]])

    def part(side: bool) -> Part:
        return Part(decoded, stream, direction, reused, rows[far == side], t0,
                    out if folder is not None else None)

    parts = [part(True)] if far.any() else []
    future = None
    if parts:
        # The far half first, so that the worker starts as early as possible: it gathers its
        # half itself, from the same (mapped) columns.
        with payloads.reader(data, None) as indexed:  # the bytes indexed, not the file now
            mark = payloads.fingerprint(indexed, len(data))
        future = procpool.submit(half_in_worker, os.fspath(capture), len(data), mark, parts[0])
    parts.insert(0, part(False))
    _no_segment(out, stream < 0)  # each half fills its own packets, and no half these
    with payloads.reader(data, capture) as read:
        near = parts[0].gather(data, release)
        if len(parts) > 1:
            indexfiles.drop_pages(cols)  # what the passes need of them is in the halves now
        summaries = [fill(out, parts[0], run_half(near, read, release))]
        del near
        meanwhile()
        if len(parts) > 1:
            back = procpool.result(
                future, lambda: run_half(parts[1].gather(data, release), read, release))
            # the worker fills the column files itself; columns in memory are filled here
            summaries.append(back if isinstance(back, StreamSummary) else fill(out, parts[1], back))
            del future
    out.update(tcp_stream=stream, tcp_dir=direction)
    if len(parts) == 1:
        return out, summaries[0]
    streams = [np.unique(stream[part.rows]) for part in parts]
    return out, merge_summaries(list(zip(streams, summaries)), int(stream.max()) + 1)


def fill(out: dict[str, np.ndarray], part: Part, outcome: Outcome) -> StreamSummary:
    """Write a half's outcome into the TCP columns ``out`` (the pages of a column file are
    dropped from this process's memory once written: the file has them); its summary."""
    values, summary, replayed, result = outcome
    tcpindex.fill_analysis(out, part.rows, values, _drop)
    for name, value in pdus.NO_PDU.items():  # then the replayed segments' values
        out[name][part.rows] = value
    pdus.fill_tcp_pdu_columns(out, replayed, result, _drop)
    return summary


def _no_segment(out: dict[str, np.ndarray], rows: np.ndarray) -> None:
    """The TCP columns' values of packets that are no analysed segment (the others are 0)."""
    for name, value in {**tcpindex.NO_ANALYSIS, **pdus.NO_PDU}.items():
        out[name][rows] = value


def _drop(column: np.ndarray) -> None:
    indexfiles.drop_pages({"column": column})


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


def half_in_worker(path: str, size: int, fingerprint: int, part: Part) -> StreamSummary | Outcome:
    """In the worker: gather ``part`` and ``run_half`` it, reading the capture at ``path``,
    whose first ``size`` bytes were indexed.  Its TCP columns are filled here when they are
    files (the summary comes back), else its outcome goes back to be filled there."""
    with payloads.reader(None, path) as read:
        # A capture replaced or cut since it was indexed would give other roles, silently.
        if os.path.getsize(path) < size or payloads.fingerprint(read, size) != fingerprint:
            raise RuntimeError(f"{path} changed since it was indexed")
        with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
            data = np.frombuffer(mm, dtype=np.uint8)
            try:
                half = part.gather(data)
            finally:
                del data  # the map cannot close while a view of it is alive
        indexfiles.drop_pages(part.cols)  # what the passes need of them is in the half now
        outcome = run_half(half, read)
    if part.out is not None:
        return fill(part.out, part, outcome)
    return outcome
