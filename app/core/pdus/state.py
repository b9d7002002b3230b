"""The state the TCP reassembly keeps per connection and per direction (see ``tcp.py``).

An msp ("multi-segment PDU", tshark's name) is a PDU seen to span segments: where it starts,
where it ends as far as known, which of its bytes arrived.  Its bytes themselves are kept only
while its dissector must read it again, within a budget for the whole capture.
"""
from __future__ import annotations

import bisect

import numpy as np

from . import scan

MAX_BUFFER = 4 << 20           # bytes kept for one msp the dissector must read again
MAX_BUFFERED = 64 << 20        # all such bytes together, whatever the capture holds
KEEP_MSPS = 64                 # finished msps remembered per direction (retransmission checks)


class Pool:
    """What is left of the byte budget for kept msp bytes (MAX_BUFFERED)."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_BUFFERED


class Msp:
    __slots__ = ("start", "nxtpdu", "first", "entire", "done", "datalen", "have", "gaps", "buf",
                 "base", "rescan", "chunk", "last", "pool")

    def __init__(self, start: int, nxtpdu: int, first: int, pool: Pool) -> None:
        self.start = start            # sequence number of the PDU's first byte
        self.nxtpdu = nxtpdu          # sequence number just after it (as far as known)
        self.first = first            # packet where tracking began (rebuilds search from it)
        self.entire = False           # "one more segment": take the whole next segment
        self.done = False
        self.datalen: int | None = None
        self.have = 0                 # contiguous bytes from the start
        self.gaps: list[tuple[int, int]] = []
        self.buf: bytearray | None = None
        self.base = 0                 # PDU offset of buf[0]
        self.rescan = False           # the dissector reads the PDU again when it completes
        self.chunk: scan.ChunkState | None = None
        self.last = -1
        self.pool = pool

    def keep(self, data: bytes | bytearray) -> None:
        """Start keeping the PDU's bytes (those from ``base`` on), within the budget."""
        self.free()
        if len(data) <= min(MAX_BUFFER, self.pool.left):
            self.buf = bytearray(data)
            self.pool.left -= len(data)

    def free(self) -> None:
        if self.buf is not None:
            self.pool.left += len(self.buf)
            self.buf = None

    def trim(self, pos: int) -> None:
        """Forget the kept bytes before PDU offset ``pos``."""
        if self.buf is not None and pos > self.base:
            cut = min(pos - self.base, len(self.buf))
            del self.buf[:cut]
            self.pool.left += cut
            self.base = pos

    def add(self, off: int, length: int, payload: bytes | None, at: int) -> None:
        """Bytes [off, off+length) of the PDU, found at payload[at:]."""
        end = off + length
        if off <= self.have:
            if self.buf is not None and end > self.have:
                lo = max(self.have, self.base)
                if lo < end and payload is not None:
                    piece = payload[at + lo - off:at + length]
                    if len(self.buf) + len(piece) > MAX_BUFFER or len(piece) > self.pool.left:
                        self.free()
                    else:
                        self.buf += piece
                        self.pool.left -= len(piece)
            self.have = max(self.have, end)
            if self.gaps:
                self.gaps.sort()
                while self.gaps and self.gaps[0][0] <= self.have:
                    self.have = max(self.have, self.gaps.pop(0)[1])
        else:
            self.free()              # a hole: the bytes cannot be read again in order
            if len(self.gaps) < 256:
                self.gaps.append((off, end))


class Conversation:
    """State shared by both directions of a connection."""

    __slots__ = ("http", "smtp", "heuristic", "tls_version", "tls_server", "directions")

    def __init__(self, pool: Pool) -> None:
        self.http = scan.HttpConversation()
        self.smtp = scan.SmtpConversation()
        self.directions = [Direction(pool), Direction(pool)]
        self.heuristic = False        # the HTTP heuristic named this connection HTTP
        self.tls_version = 0
        self.tls_server = -1          # direction sent from the TLS port

    def close(self) -> None:
        """Give the kept bytes back to the budget."""
        for d in self.directions:
            for m in d.msps.values():
                m.free()


class Direction:
    __slots__ = ("msps", "starts", "top", "pool")

    def __init__(self, pool: Pool) -> None:
        self.msps: dict[int, Msp] = {}
        self.starts: list[int] = []
        self.top: Msp | None = None     # the msp with the greatest start
        self.pool = pool

    def before(self, seq: int) -> Msp | None:
        """The msp with the greatest start <= seq (wmem_tree_lookup32_le)."""
        k = bisect.bisect_right(self.starts, seq) - 1
        return self.msps[self.starts[k]] if k >= 0 else None

    def open(self, m: Msp) -> None:
        if m.start in self.msps:
            self.starts.remove(m.start)
        bisect.insort(self.starts, m.start)
        self.msps[m.start] = m
        self.top = self.msps[self.starts[-1]]
        if len(self.starts) > KEEP_MSPS:
            old = self.starts.pop(0)
            self.msps.pop(old).free()


class Result:
    """Per candidate segment outcome, filled by the pass."""

    __slots__ = ("role", "first", "seq", "tls", "tail")

    def __init__(self, n: int) -> None:
        self.role = np.zeros(n, dtype=np.uint8)
        self.first = np.full(n, -1, dtype=np.int64)
        self.seq = np.zeros(n, dtype=np.int64)
        self.tls = np.zeros(n, dtype=np.uint16)
        self.tail = np.zeros(n, dtype=np.int64)

    @classmethod
    def joined(cls, results: list["Result"]) -> "Result":
        """The outcomes of several results' candidates, one after the other."""
        out = cls(0)
        for name in cls.__slots__:
            setattr(out, name, np.concatenate([getattr(out, name)]
                                              + [getattr(r, name) for r in results]))
        return out

    def part(self, lo: int, hi: int) -> "Result":
        """The outcomes of candidates lo..hi-1, written through to this result."""
        view = Result(0)
        for name in self.__slots__:
            setattr(view, name, getattr(self, name)[lo:hi])
        return view
