"""TCP columns of the index: tshark's stream numbers and the sequence analysis of every segment.

Stream numbers are computed vectorised per conversation; only conversations where a SYN arrives
after the first segment (a possible port reuse) go through the exact, sequential rule of
``app.core.tcp.assign_streams``. The analysis (relative numbers, flags, states) then runs once
over all segments (app.core.tcppasses: on two cores for big captures) and is stored as columns,
so rows, filters and ladders read it directly.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from app.core import layers
from app.core.tcp import TcpSegments, assign_streams
from app.core.tcp.analysis import INDEX_FIELDS

SYN, ACK = 0x002, 0x010
# SYNs read between two releases of the file pages: the kernel maps up to 64 KB around each
# page read from the file, so a few thousand scattered SYNs would map hundreds of MB.
RELEASE_EVERY = 1024
# Index column of each INDEX_FIELDS value of the analysis, with its dtype
ANALYSIS_COLUMNS = {
    "tcp_seq": "u4", "tcp_ack": "u4", "tcp_nxtseq": "i8", "tcp_window": "i8", "tcp_analysis": "u4",
    "tcp_dup_num": "u4", "tcp_dup_frame": "i8", "tcp_state_a": "u1", "tcp_state_b": "u1",
}
# ... their value for a packet that is no analysed segment, where it is not 0
NO_ANALYSIS = {"tcp_nxtseq": -1}


def tcp_streams(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stream, direction, reused) for every packet (-1 / 0 / False where not TCP)."""
    n = len(cols["l4"])
    conv = cols["conv_tcp"]  # numbered while decoding (app.core.conversations)
    tcp = np.flatnonzero(conv >= 0)
    stream = np.full(n, -1, dtype=np.int32)
    direction = np.zeros(n, dtype=np.int8)
    reused = np.zeros(n, dtype=bool)
    if len(tcp) == 0:
        return stream, direction, reused
    c = conv[tcp]
    first = np.full(c.max() + 1, len(tcp), dtype=np.int64)
    np.minimum.at(first, c, np.arange(len(tcp)))
    pure_syn = (cols["tcp_flags"][tcp] & (SYN | ACK)) == SYN
    late_syn = pure_syn & (np.arange(len(tcp)) != first[c])
    suspect = np.zeros(len(first), dtype=bool)
    suspect[c[late_syn]] = True
    # unit = (conversation, sub-stream); stream numbers rank units by their first segment.
    rows = np.flatnonzero(suspect[c])
    direction_t = cols["conv_dir"][tcp].astype(np.int8)  # from the first packet's sender on
    if not len(rows):
        # No port reuse: the conversations, numbered by first appearance, are the streams.
        stream[tcp] = c
        direction[tcp] = direction_t
        return stream, direction, reused
    p = tcp[rows]
    ok = (cols["flags"][p] & (layers.F_MALFORMED | layers.F_FRAGMENT)) == 0
    local, d, r = assign_streams(cols["net_src"][p], cols["net_dst"][p], cols["sport"][p],
                                 cols["dport"][p], cols["tcp_flags"][p], cols["seq"][p],
                                 cols["ack"][p], ok)
    sub = np.zeros(len(tcp), dtype=np.int64)
    sub[rows] = local + 1  # distinct from the unsplit conversations' 0
    direction_t[rows] = d
    reused[p] = r
    unit_key = (c.astype(np.int64) << 32) | sub
    uniq, inverse = np.unique(unit_key, return_inverse=True)
    unit_first = np.full(len(uniq), len(tcp), dtype=np.int64)
    np.minimum.at(unit_first, inverse, np.arange(len(tcp)))
    rank = np.empty(len(uniq), dtype=np.int32)
    rank[np.argsort(unit_first, kind="stable")] = np.arange(len(uniq), dtype=np.int32)
    stream[tcp] = rank[inverse]
    direction[tcp] = direction_t
    return stream, direction, reused


def syn_window_scales(data: np.ndarray, cols: dict[str, np.ndarray]) -> np.ndarray:
    """The ``tcp_ws`` column of a decoded chunk: the window-scale option shift of each SYN
    (-1 elsewhere), read while the chunk's packets are in the CPU cache."""
    out = np.full(len(cols["l4"]), -1, dtype=np.int8)
    syn = np.flatnonzero((cols["l4"] == 6) & (cols["l4_hdr"] >= 0) & ((cols["tcp_flags"] & SYN) != 0))
    if len(syn):
        out[syn] = _window_scales(data, cols, syn)
    return out


def window_scale_options(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray,
                         release: Callable[[], None] | None = None) -> np.ndarray:
    """The window-scale option shift of each SYN among ``rows`` (-1 when absent), by parsing options.

    SYNs are spread over the whole file: ``release`` (drop the file pages read so far from
    memory) is called every few thousand of them, so reading them never maps the whole file."""
    out = np.full(len(rows), -1, dtype=np.int16)
    syn = np.flatnonzero(cols["tcp_flags"][rows] & SYN)
    for lo in range(0, len(syn), RELEASE_EVERY):
        block = syn[lo:lo + RELEASE_EVERY]
        out[block] = _window_scales(data, cols, rows[block])
        if release is not None:
            release()
    return out


def _ws_options(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray,
                release: Callable[[], None] | None) -> np.ndarray:
    """The window-scale option of ``rows``: from the ``tcp_ws`` column read while decoding,
    except for the frames that got their TCP header from IP reassembly since."""
    ws = np.asarray(cols["tcp_ws"])[rows].astype(np.int16)
    again = np.flatnonzero((cols["flags"][rows] & layers.F_REASSEMBLED) != 0)
    if len(again):
        ws[again] = window_scale_options(data, cols, rows[again], release)
    return ws


def _window_scales(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Walk the options of all ``rows`` at once, one option per step (at most 40 steps: each
    consumes a byte or more of an options area of at most 40 bytes)."""
    offset = cols["offset"][rows].astype(np.int64)
    start = offset + cols["l4_hdr"][rows]
    end = np.minimum(start + cols["tcp_hlen"][rows], offset + cols["caplen"][rows])
    pos = start + 20
    out = np.full(len(rows), -1, dtype=np.int16)
    live = np.flatnonzero(pos < end)
    while len(live):
        p, e = pos[live], end[live]
        kind = data[p]
        other = kind > 1  # 0 ends the list, 1 is one byte of padding
        sized = other & (p + 1 < e)
        length = np.ones(len(live), dtype=np.int64)
        length[sized] = data[p[sized] + 1]
        scale = sized & (kind == 3) & (length == 3) & (p + 2 < e)
        out[live[scale]] = np.minimum(data[p[scale] + 2], 14)
        done = (kind == 0) | (other & ~sized) | (sized & (length < 2)) | scale
        pos[live] = p + length
        live = live[~done & (pos[live] < e)]
    return out


def tcp_segments(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray,
                 stream: np.ndarray, direction: np.ndarray, reused: np.ndarray, t0: int,
                 release: Callable[[], None] | None = None) -> TcpSegments:
    """The TcpSegments of the TCP packets ``rows`` (ascending), for the analysis of their
    streams; times count from the second ``t0`` (the analysis compares them with fixed
    thresholds: every part of a capture takes the same origin)."""
    return TcpSegments(
        number=rows + 1, time=(cols["ts_sec"][rows] - t0) + cols["ts_nsec"][rows] / 1e9,
        stream=stream[rows], direction=direction[rows], seq_raw=cols["seq"][rows],
        ack_raw=cols["ack"][rows], flags=cols["tcp_flags"][rows],
        payload_len=np.maximum(cols["pl_len"][rows], 0), window_value=cols["tcp_win"][rows],
        ws_option=_ws_options(data, cols, rows, release),
        analyzable=(cols["flags"][rows] & (layers.F_MALFORMED | layers.F_FRAGMENT)) == 0,
        reused=reused[rows],
    )


def fill_analysis(out: dict[str, np.ndarray], rows: np.ndarray, values: dict[str, np.ndarray],
                  done: Callable[[np.ndarray], None] = lambda column: None) -> None:
    """Copy the analysis ``values`` (INDEX_FIELDS) of the segments ``rows`` into the columns,
    calling ``done`` with each column once it is filled."""
    for name, field in zip(ANALYSIS_COLUMNS, INDEX_FIELDS):
        out[name][rows] = values[field]
        done(out[name])


def quick_columns(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TCP columns good enough while a capture is still being read.

    The conversation numbers, directions and relative numbers computed while decoding
    (app.core.conversations: port reuse ignored, each direction's first segment seen as
    base); windows are unscaled and no analysis flag is set yet. The finished index replaces
    all of it with the exact analysis.
    """
    n = len(cols["l4"])
    return {
        "tcp_stream": cols["conv_tcp"], "tcp_dir": cols["conv_dir"],
        "tcp_seq": cols["quick_seq"], "tcp_ack": cols["quick_ack"],
        "tcp_nxtseq": cols["quick_nxtseq"], "tcp_window": cols["tcp_win"].astype(np.int64),
        "tcp_analysis": np.zeros(n, np.uint32), "tcp_dup_num": np.zeros(n, np.uint32),
        "tcp_dup_frame": np.zeros(n, np.int64), "tcp_state_a": np.zeros(n, np.uint8),
        "tcp_state_b": np.zeros(n, np.uint8),
    }
