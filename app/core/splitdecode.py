"""Decoding the rest of a big pcap file on two cores.

Walking a pcap file is sequential: each record's header says where the next one starts. To let
the index worker process decode the second half of what is left while this process decodes
the first, the record where that half begins is found without walking to it: a position is
taken when CHAIN consecutive record headers from it are plausible and link up. The guess is
then confirmed by this process's own walk, which must end exactly there; if it does not, the
worker's half is dropped and the walk simply goes on (only time is lost).

The worker's builder does not number conversations: numbering follows the order of first
appearance, so it is done when its packets are appended after this process's ones
(IndexBuilder.absorb).
"""
from __future__ import annotations

import logging
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.core import procpool
from app.core.pcapfile import MAX_RECORD, RecordReader

if TYPE_CHECKING:
    from app.core.index import IndexBuilder

log = logging.getLogger("wirelens")

SPLIT_FROM = 32 << 20  # bytes left to decode from which the worker takes half of them
CHAIN = 8  # consecutive plausible headers that make a record boundary
SEARCH = 300_000  # bytes after the middle searched: more than the longest record
DAY = 86_400
YEAR = 365 * DAY
FIRST = 4096  # records decoded before splitting a file not read at all yet (their timestamps)


def boundary_after(reader: RecordReader, at: int, size: int, ts_range: tuple[int, int]) -> int | None:
    """The first offset from ``at`` (within SEARCH bytes) where CHAIN record headers of the
    pcap file read by ``reader`` follow one another (fewer where they end with the file),
    their timestamps from a day before the first of ``ts_range`` (seconds of the records seen
    so far) to a year from now; None when there is none."""
    header = struct.Struct(reader._endian + "IIII")
    frac_limit = 1_000_000_000 // reader._ns_mult
    # Captures merged from several can jump forward by years: up to a year past now is taken.
    low, high = ts_range[0] - DAY, max(ts_range[1], int(time.time())) + YEAR
    with open(reader.path, "rb") as f:
        f.seek(at)
        window = f.read(max(0, min(SEARCH + CHAIN * (16 + MAX_RECORD), size - at)))

    to_end = at + len(window) == size

    def plausible(pos: int) -> bool:
        for _ in range(CHAIN):
            if pos == len(window) and to_end:
                return True  # a shorter chain that ends with the file
            if pos + 16 > len(window):
                return False
            sec, frac, incl, orig = header.unpack_from(window, pos)
            if not (low <= sec <= high and frac < frac_limit and incl <= orig
                    and incl <= MAX_RECORD and orig <= 4 * MAX_RECORD):
                return False
            pos += 16 + incl
        return pos <= len(window)

    for pos in range(min(SEARCH, len(window))):
        if plausible(pos):
            return at + pos
    return None


def decode_from(path: str, start: int, spool: str, limit: int | None = None) -> "IndexBuilder":
    """In the worker: decode the pcap file ``path`` from the record boundary ``start`` to its
    end, or ``limit`` records, into the spool folder ``spool``; the builder goes back to the
    server."""
    from app.core.index import IndexBuilder  # noqa: PLC0415 - index imports this module

    builder = IndexBuilder(Path(path), spool=Path(spool), numbering=False)
    builder.reader.start_at(start)
    while (room := builder.room(limit)) > 0 and builder.step(final=True, max_records=room):
        pass
    return builder


def decode_rest(builder: "IndexBuilder", size: int, max_packets: int | None,
                report: Callable[[], None]) -> None:
    """Decode the rest of ``builder``'s pcap file with the worker's help, when it is worth
    splitting (the caller decodes whatever is left afterwards, all or nothing of it)."""
    reader = builder.reader
    left = size - reader.pos
    if left < SPLIT_FROM or builder._spool is None or reader._stopped:
        return
    if builder.count == 0 and not builder.step(final=False, max_records=FIRST):
        return
    if reader.info.format != "pcap" or reader.pos >= size:
        return
    seconds = builder.spooled_seconds()
    middle = boundary_after(reader, reader.pos + (size - reader.pos) // 2, size, seconds)
    if middle is None:
        return
    spool = builder._spool.folder.with_name(builder._spool.folder.name + ".rest")
    # Neither half decodes past a packet limit: the server's memory is bounded by it.
    limit = None if max_packets is None else max(0, max_packets - builder.count)
    future = procpool.submit(decode_from, os.fspath(builder.capture_path), middle, os.fspath(spool),
                             limit)
    if future is None:
        return
    while (reader.pos < middle and (room := builder.room(max_packets)) > 0
           and builder.step(final=False, max_records=room, end=middle)):
        report()
    rest = procpool.result(future, lambda: None)
    if rest is None:
        return
    if limit is not None and (builder.count + rest.count > max_packets or rest.count >= limit):
        # More packets than the server reads: the walk goes on alone, to the limit and its
        # message (the worker's half may stop before the file's end).
        rest.discard()
    elif reader.pos != middle:
        log.warning("No record starts at byte %d of %s: decoded in one process", middle,
                    builder.capture_path)
        rest.discard()
    else:
        builder.absorb(rest)
        report()
