"""How the TCP reassembly replay reads the payloads of a capture.

Payloads are read with ``pread`` rather than through a memory map: connection by connection,
the reads jump all over the file, and each first touch of a mapped page costs a fault that
also maps the 64 KB around it (eight times slower for the 1M-packet capture's replay reads).
A worker process replaying half of the connections (app.core.tcppasses) reads the file itself,
after checking it is still the file that was indexed.
"""
from __future__ import annotations

import contextlib
import os
import zlib

import numpy as np

from . import tcp

FINGERPRINT = 65536  # bytes at each end of the capture that a worker checks


@contextlib.contextmanager
def reader(data: np.ndarray | None, capture: str | os.PathLike | None):
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


def fingerprint(read: tcp.Read, size: int) -> int:
    """CRC of the first and last FINGERPRINT bytes of the capture's first ``size`` bytes."""
    head = read(0, min(size, FINGERPRINT))
    return zlib.crc32(read(max(0, size - FINGERPRINT), min(size, FINGERPRINT)), zlib.crc32(head))
