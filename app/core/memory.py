"""How the allocator of an indexing process treats the big, short-lived arrays of the passes.

Each pass over a big capture allocates and frees arrays of several megabytes. glibc serves such
sizes with fresh memory maps and unmaps them on free, so the next pass faults in (and the
kernel zeroes) every page again: about a tenth of a second per pass on a 1M-packet capture.
Letting the heap keep freed memory for reuse avoids that, at the price of a higher peak: the
index worker process, which runs nothing else, keeps it; the server, whose peak memory counts
more, does not. ``release`` hands what is free back to the system once a job or a build is
done. Elsewhere than glibc both are no-ops.
"""
from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
KEEP = 256 << 20  # arrays up to this size come from (and return to) the heap


def _libc():
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def keep_freed_memory() -> None:
    """Reuse freed memory for arrays up to KEEP bytes instead of unmapping it at once."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, KEEP)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP)


def release() -> None:
    """Give the memory freed so far back to the system.

    Also needed without ``keep_freed_memory``: an index build runs in a thread of its own, and
    glibc keeps what a thread frees in that thread's arena, where other threads' later
    allocations cannot reuse it (tens of MB after the passes of a 1M-packet capture)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
