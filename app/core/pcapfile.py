"""Reading capture files record by record, without dissecting anything.

A capture is walked once to find where every packet's bytes lie (file offset, captured and wire
lengths, timestamp, interface and link type). The walk is resumable: it stops at the last complete
record and can continue later, which is how a growing file (a live capture, an upload still being
written) is indexed with the same code as a finished one. Packet bytes are never copied here; the
index reads them through a memory map.

Supported: pcap in both byte orders with micro- or nanosecond timestamps, and pcapng with any
number of sections and interfaces (per-interface link types, timestamp resolutions and offsets,
comments kept; the blocks are walked by app.core.pcapng). Gzip-compressed files are inflated
to a working copy first (see ``inflate``).
"""
from __future__ import annotations

import gzip
import itertools
import mmap
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import CaptureFormatError, CaptureTooLarge

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000),  # little-endian, microseconds (value * 1000 = ns)
    b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = 0x0A0D0D0A
GZIP_MAGIC = b"\x1f\x8b"
# Wireshark refuses records larger than this (WTAP_MAX_PACKET_SIZE_STANDARD); a bigger claim means
# the file is damaged, and reading on would only produce garbage.
MAX_RECORD = 262_144


@dataclass
class Interface:
    """One pcapng interface (or the single implicit interface of a pcap file)."""

    linktype: int
    snaplen: int
    name: str = ""
    description: str = ""
    ts_divisor: int = 1_000_000  # timestamp units per second
    ts_offset: int = 0  # seconds added to every timestamp (if_tsoffset)


@dataclass
class RecordBatch:
    """Records found by one call of ``RecordReader.read``: parallel numpy arrays."""

    offset: np.ndarray  # int64, file offset of the packet bytes
    caplen: np.ndarray  # uint32, bytes present in the file
    wirelen: np.ndarray  # uint32, bytes on the wire
    ts_sec: np.ndarray  # int64
    ts_nsec: np.ndarray  # int64, 0..999_999_999
    iface: np.ndarray  # uint16, global interface number (across sections)
    linktype: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.offset)


@dataclass
class FileInfo:
    """What the walk learned about the file as a whole."""

    format: str = "pcap"
    byte_order: str = "little-endian"
    interfaces: list[Interface] = field(default_factory=list)
    section_comments: list[str] = field(default_factory=list)
    comments: dict[int, list[str]] = field(default_factory=dict)  # frame number -> comments
    truncated: bool = False
    error: str | None = None  # why the walk stopped before the end of the file

    @property
    def link_types(self) -> list[int]:
        return sorted({i.linktype for i in self.interfaces})


def sniff_format(head: bytes) -> str:
    """Name the container of a file from its first bytes: ``pcap``, ``pcapng`` or ``gzip``."""
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if len(head) >= 4 and struct.unpack("<I", head[:4])[0] == PCAPNG_SHB:
        return "pcapng"
    if not head:
        raise CaptureFormatError("The file is empty.")
    raise CaptureFormatError(
        "This is not a capture file: it starts with neither a pcap nor a pcapng header "
        f"(first bytes {head[:8].hex(' ')})."
    )


def inflate(source: Path, target: Path, limit: int) -> None:
    """Decompress a gzip file to ``target``, streaming, refusing more than ``limit`` bytes.

    The limit is what stops a gzip bomb: a few kilobytes that claim gigabytes never get further
    than the configured capture size.
    """
    written = 0
    try:
        with gzip.open(source, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise CaptureTooLarge(
                        f"The decompressed capture is larger than the limit of {limit} bytes."
                    )
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        if written == 0:
            raise CaptureFormatError(f"The gzip data could not be read: {exc}.") from exc
        # A cut gzip stream still yields the packets before the cut; the record walk reports
        # the truncation precisely.


class _Columns:
    """Growable per-record lists, turned into a RecordBatch at the end of a read."""

    def __init__(self) -> None:
        self.offset: list[int] = []
        self.caplen: list[int] = []
        self.wirelen: list[int] = []
        self.ts_sec: list[int] = []
        self.ts_nsec: list[int] = []
        self.iface: list[int] = []

    def batch(self, linktypes: list[int]) -> RecordBatch:
        iface = np.asarray(self.iface, dtype=np.uint16)
        lt_table = np.asarray(linktypes or [0], dtype=np.uint16)
        return RecordBatch(
            offset=np.asarray(self.offset, dtype=np.int64),  # lists (pcapng) or arrays (pcap)
            caplen=np.asarray(self.caplen, dtype=np.uint32),
            wirelen=np.asarray(self.wirelen, dtype=np.uint32),
            ts_sec=np.asarray(self.ts_sec, dtype=np.int64),
            ts_nsec=np.asarray(self.ts_nsec, dtype=np.int64),
            iface=iface,
            linktype=lt_table[iface] if len(iface) else np.zeros(0, np.uint16),
        )


class RecordReader:
    """Walks a pcap or pcapng file; ``read()`` may be called again as the file grows."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.info = FileInfo()
        self.pos = 0  # next unread byte
        self.count = 0  # records found so far
        self._endian = "<"
        self._ns_mult = 1_000
        self._section_ifaces: list[int] = []  # section-local id -> global interface number
        self._started = False
        self._stopped = False  # a damaged record ends the walk for good

    # -- public -------------------------------------------------------------------------------

    def read(self, final: bool = True, max_records: int | None = None,
             end: int | None = None) -> RecordBatch:
        """Find the records after the last call. ``final`` means the file will not grow.

        With ``final`` a partial record at the end marks the capture truncated; without it the
        partial record is left for the next call (a writer is still appending). ``end`` (pcap,
        not final): read only the records that end by that byte, as if the file ended there.
        """
        cols = _Columns()
        size = self.path.stat().st_size
        if end is not None:
            size = min(size, end)
        if self._stopped or size <= self.pos:
            if final and size == 0 and not self._started:
                raise CaptureFormatError("The file is empty.")
            return cols.batch(self._linktypes())
        with open(self.path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                if not self._started:
                    if not self._read_header(mm, size, final):
                        return cols.batch(self._linktypes())
                    self._started = True
                if self.info.format == "pcap":
                    self._walk_pcap(mm, size, final, cols, max_records)
                else:
                    from app.core import pcapng  # noqa: PLC0415 - pcapng imports this module

                    pcapng.walk(self, mm, size, final, cols, max_records)
            finally:
                mm.close()
        return cols.batch(self._linktypes())

    def start_at(self, pos: int) -> None:
        """Walk on from byte ``pos`` of a pcap file, a record boundary found by other means
        (app.core.splitdecode), counting records from there."""
        if not self._started:
            self.read(final=False, max_records=0)  # the file header
        if self.info.format != "pcap" or not self._started:
            raise CaptureFormatError("Only a pcap file can be read from a record in its middle.")
        self.pos, self.count = pos, 0

    def absorb(self, rest: "RecordReader") -> None:
        """Take over where ``rest``, started at this reader's position (``start_at``), ended."""
        self.pos, self.count = rest.pos, self.count + rest.count
        self._stopped = rest._stopped
        if rest.info.error:
            self.info.truncated, self.info.error = rest.info.truncated, rest.info.error

    # -- helpers ------------------------------------------------------------------------------

    def _linktypes(self) -> list[int]:
        return [i.linktype for i in self.info.interfaces]

    def _stop(self, message: str) -> None:
        self.info.truncated = True
        self.info.error = message
        self._stopped = True

    def _read_header(self, mm: mmap.mmap, size: int, final: bool) -> bool:
        kind = sniff_format(mm[:4])
        if kind == "gzip":
            raise CaptureFormatError("Compressed data must be inflated before reading.")
        if kind == "pcapng":
            self.info.format = "pcapng"
            return True  # the section header is an ordinary block for the walker
        if size < 24:
            if final:
                raise CaptureFormatError("The pcap file header is cut short (less than 24 bytes).")
            return False
        endian, mult = PCAP_MAGICS[mm[:4]]
        self._endian, self._ns_mult = endian, mult
        _, _, _, _, snaplen, network = struct.unpack_from(endian + "HHiIII", mm, 4)
        self.info.byte_order = "little-endian" if endian == "<" else "big-endian"
        # The upper bits of the link type field carry FCS information (pcap spec); the type
        # itself is the low 16 bits.
        self.info.interfaces.append(
            Interface(linktype=network & 0xFFFF, snaplen=snaplen, ts_divisor=1_000_000_000 // mult)
        )
        self.pos = 24
        return True

    def _walk_pcap(self, mm, size, final, cols: _Columns, max_records) -> None:
        # The walk itself is the one inherently sequential step of indexing (each record's
        # length says where the next starts), so the loop does nothing but hop from header to
        # header, not even checking bounds (reading past the end raises, and only the last
        # record can be incomplete); every header field is then gathered for all records at
        # once with numpy, and only then are lengths checked against MAX_RECORD (the records
        # after a damaged one are dropped there: the loop stays as short as it can be).
        incl_at = struct.Struct(self._endian + "8xI").unpack_from
        pos = self.pos
        starts: list[int] = []
        add = starts.append
        view = memoryview(mm)[:size]  # reading past ``size`` raises: the walk's only bound check
        try:
            try:
                for _ in itertools.repeat(None, max_records if max_records is not None else 1 << 62):
                    add(pos)
                    pos += 16 + incl_at(view, pos)[0]
            except struct.error:  # no length field there: the walk went past the end
                pos = starts.pop()
            if starts and starts[-1] + 16 + incl_at(view, starts[-1])[0] > size:
                pos = starts.pop()  # the last record is not all there (yet)
        finally:
            view.release()
        at = np.asarray(starts, dtype=np.int64)
        headers = _gather_u32(mm, at, 4, self._endian)
        damaged = np.flatnonzero(headers[2] > MAX_RECORD)
        if len(damaged):
            keep = int(damaged[0])
            pos = starts[keep]
            del starts[keep:]
            at, headers = at[:keep], [h[:keep] for h in headers]
        ended = max_records is None or len(starts) < max_records  # not just out of budget
        sec, frac, incl, orig = headers
        cols.offset = at + 16
        cols.caplen, cols.wirelen = incl, orig
        cols.ts_sec = sec.astype(np.int64)
        cols.ts_nsec = frac.astype(np.int64) * self._ns_mult
        cols.iface = np.zeros(len(starts), dtype=np.uint16)
        self.count += len(starts)
        self.pos = pos
        if pos + 16 <= size and ended:
            incl = incl_at(mm, pos)[0]
            if incl > MAX_RECORD:
                self._stop(
                    f"Packet {self.count + 1} claims {incl} bytes, more than the maximum of "
                    f"{MAX_RECORD}; the file is damaged after packet {self.count}."
                )
                return
        if final and pos < size and ended:
            self._stop(
                f"The file is cut short in the middle of packet {self.count + 1}: "
                f"{size - pos} bytes follow packet {self.count}."
            )


def _gather_u32(mm, starts: np.ndarray, count: int, endian: str) -> list[np.ndarray]:
    """Read ``count`` consecutive 32-bit words at each start offset, for all starts at once."""
    data = np.frombuffer(mm, dtype=np.uint8)
    try:
        read = u32le if endian == "<" else u32be
        return [read(data, starts + 4 * k) for k in range(count)]
    finally:
        del data  # the mmap cannot close while a numpy view of it is alive


def u16be(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Big-endian 16-bit values at byte offsets ``at`` of ``data``."""
    return (data[at].astype(np.uint32) << 8) | data[at + 1]


def u32be(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Big-endian 32-bit values at byte offsets ``at`` of ``data``."""
    return (
        (data[at].astype(np.uint32) << 24)
        | (data[at + 1].astype(np.uint32) << 16)
        | (data[at + 2].astype(np.uint32) << 8)
        | data[at + 3]
    )


def u32le(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian 32-bit values at byte offsets ``at`` of ``data``."""
    return (
        data[at].astype(np.uint32)
        | (data[at + 1].astype(np.uint32) << 8)
        | (data[at + 2].astype(np.uint32) << 16)
        | (data[at + 3].astype(np.uint32) << 24)
    )
