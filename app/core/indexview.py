"""Reading a built index: its columns mapped from disk, its address table and the capture's bytes.

A ``CaptureIndex`` is what the packet list, filters, flows and ladders read; a ``PartialIndex``
has the same interface over the packets an ``IndexBuilder`` (app.core.index) has read so far,
so a capture still being indexed can be shown. Only a packet someone looks at is read from the
capture, through a memory map.
"""
from __future__ import annotations

import json
import mmap
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import npyio, streams

INDEX_VERSION = 1


@dataclass
class IndexMeta:
    """What the index knows about the capture as a whole (``meta.json``)."""

    version: int = INDEX_VERSION
    packets: int = 0
    format: str = "pcap"
    byte_order: str = "little-endian"
    link_types: list[int] = field(default_factory=list)
    interfaces: list[dict] = field(default_factory=list)
    section_comments: list[str] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=dict)  # frame number -> comments
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    first_epoch: float | None = None
    last_epoch: float | None = None
    tcp_streams: int = 0
    udp_streams: int = 0


class CaptureIndex:
    """A built index opened for reading: columns, address table and the capture's bytes."""

    def __init__(self, directory: Path, capture_path: Path) -> None:
        self.directory = Path(directory)
        self.capture_path = Path(capture_path)
        raw = json.loads((self.directory / "meta.json").read_text())
        self.meta = IndexMeta(**raw)
        self.n = self.meta.packets
        self.cols: dict[str, np.ndarray] = {}
        for path in self.directory.glob("*.npy"):
            self.cols[path.stem] = npyio.load(path, "r") if self.n else npyio.load(path)
        self.addr4 = self.cols.pop("addr4")
        self.addr6 = self.cols.pop("addr6")
        self._mm: mmap.mmap | None = None
        self._file = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    # -- packet bytes -------------------------------------------------------------------------

    # Worker threads share one index (event streams and pages read the same capture at once):
    # a second thread mapping it too would drop the first one's file while it is being mapped.
    _map_lock = threading.Lock()

    def frame(self, i: int) -> bytes:
        """The captured bytes of packet ``i`` (0-based)."""
        mm = self._mm
        if mm is None:
            with self._map_lock:
                if self._mm is None:
                    self._file = open(self.capture_path, "rb")
                    self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
                mm = self._mm
        start = int(self.cols["offset"][i])
        return mm[start : start + int(self.cols["caplen"][i])]

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._file.close()
            self._mm = None

    # -- addresses ----------------------------------------------------------------------------

    def address(self, addr_id: int) -> str | None:
        """The text form of an address id (as Wireshark prints it), or None for -1."""
        if addr_id < 0:
            return None
        return streams.address_text(self.addr4, self.addr6, int(addr_id))

    def epoch(self, i: int) -> float:
        return int(self.cols["ts_sec"][i]) + int(self.cols["ts_nsec"][i]) / 1e9


class PartialIndex(CaptureIndex):
    """The packets of a capture indexed so far, in memory, with the same reading interface."""

    def __init__(self, capture_path: Path, columns: dict[str, np.ndarray], meta: IndexMeta) -> None:
        self.directory = None
        self.capture_path = Path(capture_path)
        self.meta = meta
        self.n = meta.packets
        self.cols = dict(columns)
        self.addr4 = self.cols.pop("addr4")
        self.addr6 = self.cols.pop("addr6")
        self._mm = None
        self._file = None
