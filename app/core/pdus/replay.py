"""The TCP reassembly replay of app.core.pdus.tcp over every candidate connection of a capture.

Connections are independent, so from PARALLEL_FROM candidate segments on, the connections of
about half of them are replayed in a worker process (app.core.procpool) while this process
replays the others.  The worker reads the payloads from the capture file itself: they are most
of the file, far too much to send.

Payloads are read with ``pread`` rather than through a memory map: connection by connection,
the reads jump all over the file, and each first touch of a mapped page costs a fault that
also maps the 64 KB around it (eight times slower for the 1M-packet capture's replay reads).
"""
from __future__ import annotations

import contextlib
import os
import zlib
from typing import Callable

import numpy as np

from app.core import procpool

from . import tcp
from .state import Result

# Candidate segments from which half of the connections go to the worker process: below, the
# worker costs about what it saves.
PARALLEL_FROM = 100_000
FINGERPRINT = 65536  # bytes at each end of the capture that the worker checks


def run(data: np.ndarray, cols: dict[str, np.ndarray], rows: np.ndarray, keys: np.ndarray,
        release: Callable[[], None] = lambda: None,
        capture: str | os.PathLike | None = None) -> tuple[np.ndarray, Result]:
    """The reassembly roles of the TCP segments ``rows`` (frame order) with protocol ``keys``.

    Returns the rows in the order the result lists them: connection by connection, frame order
    within.  ``data`` holds the bytes of the capture file ``capture``; without that path
    (nothing for a worker to read) every connection is replayed in this process.
    """
    order = np.lexsort((rows, cols["tcp_stream"][rows]))
    rows, keys = rows[order], keys[order]
    out = Result(len(rows))
    if len(rows) == 0:
        return rows, out
    n = cut = len(rows)
    if capture is not None and n >= PARALLEL_FROM:
        far = procpool.far_half(cols["tcp_stream"][rows])
        if far.any() and not far.all():
            cut = int(np.argmax(far))  # rows are sorted by connection: the far half is a suffix
    future = None
    if cut < n:
        far_rows, far_keys = rows[cut:], keys[cut:]
        far_cols = {name: cols[name][far_rows] for name in tcp.COLUMNS}
        with _reader(data, None) as read:
            mark = _fingerprint(read, len(data))
        future = procpool.submit(replay_file, os.fspath(capture), len(data), mark, far_cols,
                                 far_rows, far_keys)
        del far_cols
    with _reader(data, capture) as read:
        tcp.replay_blocks(read, cols, rows[:cut], keys[:cut], out.part(0, cut), release)
        if cut < n:
            def here() -> Result:
                part = Result(n - cut)
                tcp.replay_blocks(read, cols, far_rows, far_keys, part, release)
                return part

            part = procpool.result(future, here)
            for name in Result.__slots__:
                getattr(out, name)[cut:] = getattr(part, name)
    return rows, out


def replay_file(path: str, size: int, fingerprint: int, cols: dict[str, np.ndarray],
                rows: np.ndarray, keys: np.ndarray) -> Result:
    """In the worker: replay ``rows`` (``cols`` holds their tcp.COLUMNS, in the same order),
    reading the capture at ``path``, whose first ``size`` bytes were indexed."""
    with _reader(None, path) as read:
        # A capture replaced or cut since it was indexed would give other roles, silently.
        if os.path.getsize(path) < size or _fingerprint(read, size) != fingerprint:
            raise RuntimeError(f"{path} changed since it was indexed")
        out = Result(len(rows))
        tcp.replay_blocks(read, cols, rows, keys, out, at=np.arange(len(rows)))
        return out


@contextlib.contextmanager
def _reader(data: np.ndarray | None, capture: str | os.PathLike | None):
    """``read(offset, length)``: pread on the capture file when its path is known, else slices
    of ``data`` (its bytes in memory)."""
    if capture is None:
        with memoryview(data) as mv:
            yield lambda at, length: bytes(mv[at:at + length])
        return
    fd = os.open(capture, os.O_RDONLY)
    try:
        yield lambda at, length: os.pread(fd, length, at)
    finally:
        os.close(fd)


def _fingerprint(read: tcp.Read, size: int) -> int:
    """CRC of the first and last FINGERPRINT bytes of the capture's first ``size`` bytes."""
    head = read(0, min(size, FINGERPRINT))
    return zlib.crc32(read(max(0, size - FINGERPRINT), min(size, FINGERPRINT)), zlib.crc32(head))
