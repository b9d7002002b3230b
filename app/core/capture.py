"""Opening captures of the library: indexing them, and reading rows and packet details.

This is the one place the web layer talks to for a capture's content. Rows of the packet list
are formatted from the index plus the bytes of just the packets on the page; the protocol tree of
a packet is dissected when asked for and cached.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

from app.core import colors
from app.core.errors import NotFound, NotReady, WirelensError
from app.core.index import IndexBuilder, build_index
from app.core.indexview import CaptureIndex
from app.core.library import CaptureRecord, Library

DETAIL_CACHE = 256
SPOOL_FROM = 64 << 20  # bytes of capture file
OPEN_CACHE = 8
PROGRESS_EVERY = 0.2  # seconds between two progress reports of an index build


class CaptureView:
    """A ready capture: its record, its index, and rows and details read from them."""

    def __init__(self, record: CaptureRecord, index: CaptureIndex) -> None:
        self.record = record
        self.index = index
        self._details: OrderedDict[int, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._source = None
        self._flows: dict = {}
        self.extraction: dict = {"field": None, "done": 0, "total": 0, "running": False}

    @property
    def total(self) -> int:
        return self.index.n

    @property
    def source(self):
        """The display-filter field source of this capture (index columns + lazy fields)."""
        with self._lock:
            if self._source is None:
                from app.core.indexsource import IndexSource  # noqa: PLC0415
                from app.core.lazyfields import LazyFields  # noqa: PLC0415

                lazy = LazyFields(self.index, self.summary, self.fields_of, self._extracting)
                self._source = IndexSource(self.index, lazy)
            return self._source

    def _extracting(self, what: str, done: int, total: int) -> None:
        """Progress of reading a filter field from the packets, for the page to show."""
        self.extraction = {"field": what, "done": done, "total": total, "running": done < total}

    def flow_table(self, protocol: str):
        """The conversations of one protocol (``tcp`` or ``udp``), computed once."""
        from app.core.flows import FlowTable  # noqa: PLC0415

        with self._lock:
            table = self._flows.get(protocol)
            if table is None:
                table = self._flows[protocol] = FlowTable(self.index, protocol)
            return table

    def summary(self, i: int):
        """The packet-list summary (columns and ``frame.protocols``) of packet ``i``."""
        from app.core import tcpcontext  # noqa: PLC0415
        from app.core.summary import summarize  # noqa: PLC0415

        idx = self.index
        tcp, frame = tcpcontext.contexts(idx, i)
        return summarize(idx.frame(i), int(idx["linktype"][i]), tcp, context=frame,
                         wire_len=int(idx["wirelen"][i]))

    def fields_of(self, i: int) -> dict[str, list]:
        """Every field of packet ``i``'s protocol tree by name (all occurrences)."""
        from app.core.dissect import field_values  # noqa: PLC0415

        return field_values(self._dissect(i))

    def row(self, i: int) -> dict:
        """The packet-list row of packet ``i`` (0-based), Wireshark's default columns."""
        idx = self.index
        summary = self.summary(i)
        epoch = idx.epoch(i)
        # Relative time from the integer parts: a float epoch cannot hold nanoseconds.
        relative = (int(idx["ts_sec"][i]) - int(idx["ts_sec"][0])) + (
            int(idx["ts_nsec"][i]) - int(idx["ts_nsec"][0])) / 1e9
        return {
            "number": i + 1,
            "time": round(relative, 9),
            "epoch": epoch,
            "source": summary.source,
            "destination": summary.destination,
            "protocol": summary.protocol,
            "length": int(idx["wirelen"][i]),
            "info": summary.info,
            "stream": _stream(idx, i),
            "color": colors.rule_for(idx, i, summary.protocol),
        }

    def rows(self, positions: np.ndarray) -> list[dict]:
        return [self.row(int(i)) for i in positions]

    def page(self, offset: int, limit: int, mask: np.ndarray | None = None,
             filter_text: str | None = None) -> dict:
        """A page of rows, of all packets or of those ``mask`` selects."""
        if offset < 0 or limit < 0:
            raise WirelensError("offset and limit must not be negative.")
        if mask is None:
            matched = self.total
            positions = np.arange(offset, min(offset + limit, self.total))
        else:
            selected = np.flatnonzero(mask)
            matched = len(selected)
            positions = selected[offset : offset + limit]
        return {
            "total": self.total, "matched": int(matched), "offset": offset, "limit": limit,
            "filter": filter_text or "", "packets": self.rows(positions),
        }

    def detail(self, number: int) -> dict:
        """The protocol tree and bytes of frame ``number`` (1-based), cached."""
        if not 1 <= number <= self.total:
            raise NotFound(f"Capture {self.record.id} has no packet {number}.")
        with self._lock:
            cached = self._details.get(number)
            if cached is not None:
                self._details.move_to_end(number)
                return cached
        i = number - 1
        frame = self.index.frame(i)
        result = {
            "number": number, "epoch": self.index.epoch(i), "length": int(self.index["wirelen"][i]),
            "captured_length": len(frame), "layers": _jsonable(self._dissect(i)), "bytes": frame.hex(),
        }
        with self._lock:
            self._details[number] = result
            while len(self._details) > DETAIL_CACHE:
                self._details.popitem(last=False)
        return result

    def _dissect(self, i: int) -> list[dict]:
        from app.core import tcpcontext  # noqa: PLC0415
        from app.core.dissect import dissect  # noqa: PLC0415 - Scapy loads slowly; only here
        from app.core.dissect.meta import FrameMeta  # noqa: PLC0415

        idx = self.index
        number = i + 1
        frame = idx.frame(i)
        sec, nsec = idx["ts_sec"], idx["ts_nsec"]

        def since(j: int) -> float:
            return (int(sec[i]) - int(sec[j])) + (int(nsec[i]) - int(nsec[j])) / 1e9

        pcapng = idx.meta.format == "pcapng"
        iface = int(idx["iface"][i])
        names = [f.get("name") for f in idx.meta.interfaces]
        meta = FrameMeta(
            number=number, epoch_sec=int(sec[i]), epoch_nsec=int(nsec[i]),
            time_relative=since(0), wire_len=int(idx["wirelen"][i]), cap_len=int(idx["caplen"][i]),
            interface_id=iface, comments=idx.meta.comments.get(str(number), []),
            linktype=int(idx["linktype"][i]), has_interface_id=pcapng,
            interface_name=(names[iface] or None) if pcapng and iface < len(names) else None,
            time_delta=since(i - 1) if i else 0.0,
        )
        ctx = tcpcontext.context(idx, i)
        return dissect(frame, meta.linktype, meta, tcp_context=tcpcontext.as_dict(ctx, idx, i))


def _jsonable(nodes: list[dict]) -> list[dict]:
    """Tree nodes with values JSON can carry: bytes as colon-separated hex, as Wireshark shows."""
    out = []
    for node in nodes:
        value = node.get("value")
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).hex(":")
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = str(value)
        out.append({**node, "value": value, "children": _jsonable(node.get("children") or [])})
    return out


def _stream(idx: CaptureIndex, i: int) -> int | None:
    for name in ("tcp_stream", "udp_stream"):
        s = int(idx[name][i])
        if s >= 0:
            return s
    return None


class Captures:
    """Indexes library captures and keeps the recently used ones open."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._open: OrderedDict[str, CaptureView] = OrderedDict()
        self._building: dict[str, IndexBuilder] = {}
        self._lock = threading.Lock()

    def index(self, capture_id: str, progress: Callable[[float], None] | None = None,
              builder: IndexBuilder | None = None) -> CaptureRecord:
        """Build the index of a capture and record the outcome (``ready`` or ``error``).

        ``builder`` continues an index already being built (a live capture's, which has read
        the file while it grew) instead of reading the file again from the start.
        """
        try:
            return self._index(capture_id, progress, builder)
        finally:
            # Only now: until the record says ready, pages keep reading the partial index.
            with self._lock:
                self._building.pop(capture_id, None)

    def _index(self, capture_id: str, progress, builder: IndexBuilder | None = None) -> CaptureRecord:
        lib = self.library
        try:
            path = lib.prepare(capture_id)
            size = max(1, path.stat().st_size)

            last = [0.0]

            def report(count: int, read: int, total: int) -> None:
                # A few times a second is all a progress bar shows; each update is a write.
                # The end of the reading is always written: the passes over the whole capture
                # come next, and the page says so.
                now = time.monotonic()
                if now - last[0] < PROGRESS_EVERY and read < total:
                    return
                last[0] = now
                fraction = min(0.99, read / size)
                lib.update(capture_id, progress=fraction, packets=count)
                if progress:
                    progress(fraction)

            if builder is None:
                # A big file keeps its columns on disk while it is read (see index.IndexBuilder).
                spool = lib.folder(capture_id) / "index.spool" if size >= SPOOL_FROM else None
                builder = IndexBuilder(path, spool=spool)
            with self._lock:
                self._building[capture_id] = builder
            built = build_index(path, lib.index_dir(capture_id), report, builder=builder,
                                max_packets=lib.max_packets)
        except WirelensError as exc:
            lib.update(capture_id, status="error", error=exc.message, progress=1.0)
            return lib.get(capture_id)
        meta = built.meta
        built.close()
        if meta.packets == 0 and meta.truncated:
            lib.update(capture_id, status="error", progress=1.0, truncated=True,
                       warnings=meta.warnings, error=meta.warnings[0] if meta.warnings else None)
            return lib.get(capture_id)
        lib.update(
            capture_id, status="ready", progress=1.0, packets=meta.packets, format=meta.format,
            link_types=meta.link_types, first_epoch=meta.first_epoch, last_epoch=meta.last_epoch,
            truncated=meta.truncated, warnings=meta.warnings,
        )
        return lib.get(capture_id)

    def open(self, capture_id: str) -> CaptureView:
        """The capture's view; 409 while it is still indexing."""
        # The builder first: indexing records "ready" before it lets go of its builder, so a
        # capture read as not ready here still has one, and none is ever missed in between.
        with self._lock:
            builder = self._building.get(capture_id)
        record = self.library.get(capture_id)
        if record.status != "ready":
            if builder is not None and (builder.count or record.status == "capturing"):
                # Still being read (or written, live): the packets so far are already viewable.
                return CaptureView(record, builder.snapshot())
            if record.status == "error":
                raise NotReady(record.error or "This capture could not be read.")
            raise NotReady(f"Capture {capture_id} is still being indexed ({record.progress:.0%}).")
        with self._lock:
            view = self._open.get(capture_id)
            if view is not None:
                self._open.move_to_end(capture_id)
                view.record = record
                return view
        index = CaptureIndex(self.library.index_dir(capture_id), self.library.capture_path(capture_id))
        view = CaptureView(record, index)
        with self._lock:
            self._open[capture_id] = view
            while len(self._open) > OPEN_CACHE:
                # Not closed here: a request may still be reading from it. Its file is closed
                # when the last view of it goes away.
                self._open.popitem(last=False)
        return view

    def follow(self, capture_id: str, builder: IndexBuilder) -> None:
        """Serve ``builder``'s packets as the capture's content until its index is built (live
        captures index their file while it grows; ``index(..., builder=)`` then finishes it)."""
        with self._lock:
            self._building[capture_id] = builder

    def unfollow(self, capture_id: str) -> None:
        """Stop serving a followed builder (its capture was deleted before being indexed)."""
        with self._lock:
            self._building.pop(capture_id, None)

    def forget(self, capture_id: str) -> None:
        with self._lock:
            view = self._open.pop(capture_id, None)
        if view is not None:
            view.index.close()
