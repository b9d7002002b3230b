"""The TCP passes of the index: sequence analysis, then reassembly replay, on two cores.

Both passes work stream by stream, so from PARALLEL_FROM segments on the streams are cut into
PIECES pieces of about the same work (procpool.pieces).  This process takes pieces from the
first on, a worker process from the last on, each piece going through both passes in the
process that took it, until they meet: the work splits itself by how fast each process
actually runs (a host may give one core much less time than the other), and the worker gets one
job.  A piece is taken by creating its file in a folder both processes see (Claims).

Little crosses between the processes: which packets make each piece.  The worker reads the
payloads it replays from the capture file itself (they are most of the file), and when the
index build keeps its columns in files (a big capture) it maps them too, gathers its pieces'
input from them, and writes its rows of the analysis and PDU columns straight into the
index's new column files: only its per-stream summary comes back.
"""
from __future__ import annotations

import logging
import mmap
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from app.core import indexfiles, pdus, procpool, tcpindex
from app.core.pdus import payloads
from app.core.pdus import tcp as pdutcp
from app.core.pdus.state import Result
from app.core.tcp import TcpSegments
from app.core.tcp.analysis import StreamSummary, analyze_for_index, merge_summaries

log = logging.getLogger("wirelens")
# TCP segments from which the streams are cut in pieces for two processes: below, starting and
# feeding the worker costs about what it saves.
PARALLEL_FROM = 200_000
# What replaying a segment with payload costs, counted in analysed segments (measured on the
# generated 1M-packet capture: about 2 and 1 microseconds): pieces balance both passes.
REPLAY_WEIGHT = 2
# Pieces the streams are cut into: the processes finish within about one piece's work of each
# other (a piece costs no measurable overhead at 16 on the generated 1M-packet capture).
PIECES = 16
# The replay's columns that the analysis computes, with the analysis field giving each
FROM_ANALYSIS = {"tcp_seq": "seq", "tcp_analysis": "analysis"}
# The decoded columns the passes read
DECODED = ("l4", "ts_sec", "ts_nsec", "flags", "seq", "ack", "tcp_flags", "pl_len", "tcp_win",
           "tcp_ws", "offset", "l4_hdr", "tcp_hlen", "caplen", "pl_off", "sport", "dport")


@dataclass
class Gathered:
    """A piece's input to both passes, gathered by the process that took it."""

    segments: TcpSegments       # the analysis input
    rows: np.ndarray            # replay candidates (packets from 0), by stream, frame order within
    keys: np.ndarray            # their protocol keys
    at: np.ndarray              # the position of each candidate among ``segments``
    decoded: dict[str, np.ndarray]  # the replay's other columns, per candidate


@dataclass
class Part:
    """Which packets make one piece, and where their columns are: each process gathers its own
    pieces (the columns of a big capture are mapped files, which the worker maps too)."""

    cols: dict[str, np.ndarray]  # the DECODED columns of every packet
    stream: np.ndarray           # ... their tcp.stream (-1: not TCP), direction and port reuse
    direction: np.ndarray
    reused: np.ndarray
    rows: np.ndarray             # the piece's TCP packets, ascending
    t0: int                      # the capture's first TCP second: one time origin for all pieces

    def gather(self, data: np.ndarray, release: Callable[[], None] | None = None) -> Gathered:
        """The piece's analysis input and replay candidates; ``data``: the capture's bytes."""
        c, keys = pdus.tcp_candidates(data, {**self.cols, "tcp_stream": self.stream},
                                      release or (lambda: None), among=self.rows)
        by_connection = np.argsort(self.stream[c], kind="stable")  # frame order within each
        c, keys = c[by_connection], keys[by_connection]
        decoded = {name: self.cols[name][c] for name in pdutcp.COLUMNS
                   if name not in FROM_ANALYSIS and name in self.cols}
        decoded["tcp_stream"], decoded["tcp_dir"] = self.stream[c], self.direction[c]
        segments = tcpindex.tcp_segments(data, self.cols, self.rows, self.stream, self.direction,
                                         self.reused, self.t0, release)
        return Gathered(segments, c, keys, np.searchsorted(self.rows, c), decoded)


# (analysis values per segment, per-stream summary, replayed candidates, their outcomes)
Outcome = tuple[dict[str, np.ndarray], StreamSummary, np.ndarray, Result]


@dataclass
class Claims:
    """The pieces taken so far: a piece belongs to the process that creates its file first
    (an atomic step of the file system that both processes see)."""

    folder: str

    @classmethod
    def new(cls) -> "Claims":
        return cls(tempfile.mkdtemp(prefix="wirelens-pieces-"))

    def take(self, piece: int) -> bool:
        try:
            os.close(os.open(os.path.join(self.folder, str(piece)),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Done:
    """What a process did: its pieces, their streams and the per-stream summary of these and,
    unless it wrote them into the column files itself, the outcome of their rows."""

    pieces: list[int]
    streams: np.ndarray
    summary: StreamSummary
    outcome: Outcome | None


def tcp_columns(data: np.ndarray, cols: dict[str, np.ndarray],
                release: Callable[[], None] = lambda: None,
                capture: str | os.PathLike | None = None,
                meanwhile: Callable[[], None] = lambda: None,
                folder: Path | None = None) -> tuple[dict[str, np.ndarray], StreamSummary | dict]:
    """The TCP columns of the index (stream numbers, tcp.ANALYSIS_COLUMNS, the PDU columns of
    app.core.pdus) and the per-stream summary arrays.

    ``capture``: the path of the file ``data`` maps; without it (nothing for a worker to read)
    everything runs here.  ``meanwhile`` runs before this process takes its first piece, while
    the worker starts (always runs).  ``folder``: where the analysis and PDU
    columns are created as files (the worker then fills its rows itself, and nothing is copied
    back); without it they are kept in memory."""
    n = len(cols["l4"])
    stream, direction, reused = tcpindex.tcp_streams(cols)
    # Zeroed; the values of packets without any are written below (each piece its own packets').
    new = (lambda name, dtype: np.zeros(n, dtype=dtype)) if folder is None else (
        lambda name, dtype: indexfiles.create(Path(folder) / f"{name}.npy", n, dtype))
    out = {name: new(name, dtype)
           for name, dtype in {**tcpindex.ANALYSIS_COLUMNS, **pdus.TCP_PDU_COLUMNS}.items()}
    rows = np.flatnonzero(stream >= 0)
    if len(rows) == 0:
        _no_segment(out, stream < 0)
        meanwhile()
        return {"tcp_stream": stream, "tcp_dir": direction, **out}, {}
    piece = np.zeros(len(rows), dtype=np.int64)
    if len(rows) >= PARALLEL_FROM and capture is not None:
        # a segment with payload is (nearly always) replayed as well as analysed
        weights = 1 + REPLAY_WEIGHT * (cols["pl_len"][rows] > 0)
        piece = procpool.pieces(stream[rows], weights, PIECES)
    decoded = {name: cols[name] for name in DECODED}
    t0 = int(cols["ts_sec"][rows[0]])
    parts = [Part(decoded, stream, direction, reused, rows[piece == k], t0)
             for k in np.unique(piece).tolist()]
    claims = future = None
    if len(parts) > 1:
        # The worker first, so that it starts as early as possible: it gathers its pieces
        # itself, from the same (mapped) columns.
        with payloads.reader(data, None) as indexed:  # the bytes indexed, not the file now
            mark = payloads.fingerprint(indexed, len(data))
        try:
            claims = Claims.new()
        except OSError as exc:  # no temporary folder: this process takes every piece
            # the message only: a handler keeping the exception would keep this frame's map
            log.warning("No folder to share the TCP pieces in (%s): one process does them",
                        str(exc))
        else:
            future = procpool.submit(pieces_in_worker, os.fspath(capture), len(data), mark,
                                     parts, claims, out if folder is not None else None)
    _no_segment(out, stream < 0)  # each piece fills its own packets, and no piece these
    meanwhile()  # while the worker starts: it takes more pieces meanwhile
    size = int(stream.max()) + 1
    try:
        with payloads.reader(data, capture) as read:
            # the worker's first piece is its own: it does at least that much, even when late
            mine = range(len(parts) - 1) if future is not None else range(len(parts))
            done = [_outcome(parts, _take(parts, mine, claims, data, read, release), size)]
            fill(out, parts, done[0])
            if future is not None:
                back = procpool.result(future, lambda: None)
                if back is None:  # the worker failed: whatever it took is done here
                    left = [k for k in range(len(parts)) if k not in done[0].pieces]
                    back = _outcome(parts, _take(parts, left, None, data, read, release), size)
                if back.outcome is not None:  # the worker fills column files itself
                    fill(out, parts, back)
                done.append(back)
                del future
    finally:
        if claims is not None:
            claims.remove()
    out.update(tcp_stream=stream, tcp_dir=direction)
    if len(done) == 1:
        return out, done[0].summary
    return out, merge_summaries([(d.streams, d.summary) for d in done], size)


def _rows(parts: list[Part], pieces: list[int]) -> np.ndarray:
    """The packets of the given pieces, one piece after the other."""
    return np.concatenate([np.zeros(0, np.int64)] + [parts[k].rows for k in pieces])


def _take(parts: list[Part], order: Iterable[int], claims: Claims | None, data: np.ndarray,
          read: pdutcp.Read, release: Callable[[], None] = lambda: None) -> list[tuple[int, Outcome]]:
    """Gather and run the pieces in ``order`` while they can be taken (all of them without
    ``claims``): the pieces taken, with their outcomes."""
    done = []
    for k in order:
        if claims is not None and not claims.take(k):
            break  # the other process took it, and the ones beyond it before
        gathered = parts[k].gather(data, release)
        indexfiles.drop_pages(parts[k].cols)  # what the piece needs of them is gathered
        done.append((k, run_piece(gathered, read, release)))
        del gathered
    return done


def _outcome(parts: list[Part], done: list[tuple[int, Outcome]], size: int) -> Done:
    """The outcomes of the pieces ``done`` as one, their rows one piece after the other."""
    pieces = [k for k, _ in done]
    outcomes = [o for _, o in done]
    names = outcomes[0][0].keys() if outcomes else ()
    values = {name: np.concatenate([o[0][name] for o in outcomes]) for name in names}
    ids = [np.unique(parts[k].stream[parts[k].rows]) for k in pieces]
    summary = merge_summaries([(i, o[1]) for i, o in zip(ids, outcomes)], size)
    replayed = np.concatenate([np.zeros(0, np.int64)] + [o[2] for o in outcomes])
    streams = np.concatenate([np.zeros(0, np.int64)] + ids)  # pieces share no stream
    return Done(pieces, streams, summary,
                (values, summary, replayed, Result.joined([o[3] for o in outcomes])))


def fill(out: dict[str, np.ndarray], parts: list[Part], done: Done) -> None:
    """Write the outcome of the pieces ``done`` into the TCP columns ``out`` (the pages of a
    column file are dropped from this process's memory once written: the file has them)."""
    values, _summary, replayed, result = done.outcome
    if done.pieces:
        rows = _rows(parts, done.pieces)
        tcpindex.fill_analysis(out, rows, values, _drop)
        for name, value in pdus.NO_PDU.items():  # then the replayed segments' values
            out[name][rows] = value
        pdus.fill_tcp_pdu_columns(out, replayed, result, _drop)


def _no_segment(out: dict[str, np.ndarray], rows: np.ndarray) -> None:
    """The TCP columns' values of packets that are no analysed segment (the others are 0)."""
    for name, value in {**tcpindex.NO_ANALYSIS, **pdus.NO_PDU}.items():
        out[name][rows] = value


def _drop(column: np.ndarray) -> None:
    indexfiles.drop_pages({"column": column})


def run_piece(piece: Gathered, read: pdutcp.Read,
              release: Callable[[], None] = lambda: None) -> Outcome:
    """Analyse the segments of ``piece``, then replay its candidates."""
    values, summary = analyze_for_index(piece.segments)
    cols = dict(piece.decoded)
    for name, field in FROM_ANALYSIS.items():
        cols[name] = values[field][piece.at]
    result = Result(len(piece.rows))
    # A flaw in the replay must cost the rows their reassembly context, not the index.
    try:
        pdutcp.replay_blocks(read, cols, piece.rows, piece.keys, result, release,
                             at=np.arange(len(piece.rows)))
    except Exception:  # noqa: BLE001
        log.exception("TCP reassembly context could not be computed")
        result = Result(len(piece.rows))
    return values, summary, piece.rows, result


def pieces_in_worker(path: str, size: int, fingerprint: int, parts: list[Part], claims: Claims,
                     out: dict[str, np.ndarray] | None) -> Done:
    """In the worker: take the pieces ``parts`` from the last on, reading the capture at
    ``path``, whose first ``size`` bytes were indexed.  Their TCP columns are filled here when
    they are files (``out``; the summary goes back), else their outcome goes back to be
    filled there."""
    with payloads.reader(None, path) as read:
        # A capture replaced or cut since it was indexed would give other roles, silently.
        if os.path.getsize(path) < size or payloads.fingerprint(read, size) != fingerprint:
            raise RuntimeError(f"{path} changed since it was indexed")
        with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
            data = np.frombuffer(mm, dtype=np.uint8)
            try:
                done = _take(parts, range(len(parts) - 1, -1, -1), claims, data, read)
            finally:
                del data  # the map cannot close while a view of it is alive
    outcome = _outcome(parts, done, int(parts[0].stream.max()) + 1)
    if out is not None:
        fill(out, parts, outcome)
        outcome.outcome = None  # in the files now
    return outcome
