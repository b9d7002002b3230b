"""The packet index: one pass over a capture, kept on disk as numpy columns.

Building walks the records (``pcapfile``), decodes header fields for a chunk of packets at a time
(``layers``), then derives what needs the whole capture at once: the address table and the TCP and
UDP stream numbers. The result is a folder of ``.npy`` files plus ``meta.json``; opening it again
(app.core.indexview) memory-maps the columns, so reopening a capture after a restart costs
milliseconds and never reads the capture file again.
"""
from __future__ import annotations

import dataclasses
import json
import mmap
import os
import shutil
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from app.core import (conversations, indexfiles, layers, pdus, reassembly, splitdecode, streams,
                      tcpindex, tcppasses)
from app.core.indexview import CaptureIndex, IndexMeta, PartialIndex
from app.core.pcapfile import RecordReader
from app.core.spool import ColumnSpool

SPILL_FROM = 65536  # packets: below this, keeping the columns in memory costs little
CHUNK = 16384  # packets decoded together: big enough for numpy, small enough for the cache

RECORD_COLUMNS = ("offset", "caplen", "wirelen", "ts_sec", "ts_nsec", "iface", "linktype")
Progress = Callable[[int, int, int], None]  # (packets so far, bytes read, file size)


class IndexBuilder:
    """Builds an index chunk by chunk; the packets read so far can be viewed at any time.

    Uploads use it to show the first rows while the rest is still being read, and live captures
    to follow a file that is still growing; ``finish`` then derives what needs the whole capture
    (exact stream numbers with port reuse, TCP analysis, PDUs) and writes the index to disk.
    """

    def __init__(self, capture_path: Path, spool: Path | None = None, numbering: bool = True) -> None:
        self.capture_path = Path(capture_path)
        self.reader = RecordReader(self.capture_path)
        self.parts: dict[str, list[np.ndarray]] = {}
        # Big captures keep their columns in files under ``spool`` instead of in memory.
        self._spool = ColumnSpool(spool) if spool is not None else None
        self.raw_addrs: list[tuple[int, dict]] = []
        self._snapshot: PartialIndex | None = None
        self._count = 0  # packets whose columns are stored: what a snapshot may show
        # Conversations are numbered as chunks are decoded; not by a builder that decodes the
        # end of a file for another one (app.core.splitdecode), which numbers them on absorbing.
        self._conversations = conversations.Conversations() if numbering else None
        self._lock = threading.Lock()

    # The upload follower may build in the index worker process and send the builder back.
    def __getstate__(self) -> dict:
        with self._lock:
            state = dict(self.__dict__, _snapshot=None)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def retarget(self, path: Path) -> None:
        """Read on from ``path``: the same file, renamed or linked since (offsets still hold)."""
        self.capture_path = Path(path)
        self.reader.path = Path(path)

    @property
    def count(self) -> int:
        """Packets decoded and stored so far (the reader may already be ahead of this)."""
        with self._lock:
            return self._count

    def room(self, limit: int | None) -> int:
        """The records the next step may decode without passing ``limit`` packets in all (a
        chunk without a limit)."""
        return CHUNK if limit is None else min(CHUNK, limit - self.count)

    def step(self, final: bool = True, max_records: int = CHUNK, end: int | None = None) -> int:
        """Read and decode the next chunk of records; the number of packets added. ``end``:
        only the records that end by that byte (see RecordReader.read)."""
        size = os.path.getsize(self.capture_path)
        if size == 0:
            if final:
                self.reader.read(final=True)  # raises: the file is empty
            return 0
        # Records first, then the mapping: a file that grows in between is mapped with every
        # record the reader found (mapped first, it could end before the last of them).
        batch = self.reader.read(final=final, max_records=max_records, end=end)
        if len(batch) == 0:
            return 0
        with open(self.capture_path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            data = np.frombuffer(mm, dtype=np.uint8)
            try:
                first = self.reader.count - len(batch)
                cols = layers.decode(data, batch.offset, batch.caplen, batch.wirelen, batch.linktype)
                for name in RECORD_COLUMNS:
                    cols[name] = getattr(batch, name)
                cols["tcp_ws"] = tcpindex.syn_window_scales(data, cols)
                raw = streams.raw_addresses(data, cols)
                if self._conversations is not None:
                    cols.update(self._conversations.add(cols, raw))
            finally:
                del data
                mm.close()
        with self._lock:
            self.raw_addrs.append((first, raw))
            if self._spool is not None:
                self._spool.append(cols)
            else:
                for name, values in cols.items():
                    self.parts.setdefault(name, []).append(values)
            self._count = first + len(batch)
        return len(batch)

    def columns(self) -> dict[str, np.ndarray]:
        """The decoded columns so far, with interned addresses and conversation numbers."""
        with self._lock:
            n = self._count
            parts = {name: list(v) for name, v in self.parts.items()}
            raw_addrs = list(self.raw_addrs)
            spooled = self._spool.columns(n) if self._spool is not None else {}
        columns = {name: v[0] if len(v) == 1 else np.concatenate(v) for name, v in parts.items()}
        columns.update(spooled)
        with self._lock:
            # The joined arrays replace the chunks they hold: the builder and what it returned
            # share one copy, and the next call joins only the chunks read since.
            for name, v in parts.items():
                if len(v) > 1:
                    self.parts[name] = [columns[name]] + self.parts[name][len(v):]
        if not columns:
            columns = {name: np.zeros(0, dt) for name, (dt, _) in layers.COLUMNS.items()}
            for name in RECORD_COLUMNS:
                columns[name] = np.zeros(0, np.int64)
            columns.update({name: np.zeros(0, dt) for name, (dt, _) in conversations.COLUMNS.items()})
            columns["tcp_ws"] = np.zeros(0, np.int8)
        columns = {name: values[:n] for name, values in columns.items()}
        columns.update(streams.addresses(n, [(b, r) for b, r in raw_addrs if b < n]))
        return columns

    def _columns_on_disk(self, work: Path) -> dict[str, np.ndarray] | None:
        """The columns so far, written from the chunks straight to ``work`` and mapped back:
        the whole-capture passes then hold in memory only the columns they read, and no joined
        copy is ever made. None for a capture small enough to keep in memory."""
        with self._lock:
            n = self._count
            parts = {name: list(v) for name, v in self.parts.items()}
            raw_addrs = list(self.raw_addrs)
            self._snapshot = None
            spool = self._spool
        if spool is None and (n < SPILL_FROM or not parts):
            return None
        addresses = streams.addresses(n, [(b, r) for b, r in raw_addrs if b < n])
        for name, values in addresses.items():
            indexfiles.save(work / f"{name}.npy", values)
        if spool is None:
            for name, chunks in parts.items():  # the chunks stay valid meanwhile
                indexfiles.write_chunks(work / f"{name}.npy", chunks, n)
        with self._lock:
            # Moved and mapped under the lock: a snapshot taken meanwhile reads either the
            # spooled files or the mapped ones, never neither.
            if spool is not None:
                self._spool = None
                if not n:
                    spool.discard()
                    return None
                decoded = spool.finish(n, work)
            else:
                decoded = list(parts)
            columns = {name: indexfiles.mapped(work / f"{name}.npy") for name in decoded + list(addresses)}
            self.parts = {name: [columns[name]] for name in decoded}
        return columns

    def absorb(self, rest: "IndexBuilder") -> None:
        """Append the packets ``rest`` decoded from where this builder's walk ended (both spool
        their columns; ``rest`` did not number conversations: they are numbered here, after
        this builder's own). ``rest`` is discarded."""
        with self._lock:
            base = self._count
            self._spool.extend_from(rest._spool, rest._count)
            decoded = rest._spool.columns(rest._count)
            bounds = [b for b, _ in rest.raw_addrs] + [rest._count]
            chunk = None
            for (start, raw), stop in zip(rest.raw_addrs, bounds[1:]):
                chunk = {name: values[start:stop] for name, values in decoded.items()}
                self._spool.append(self._conversations.add(chunk, raw))
            del decoded, chunk
            self.raw_addrs.extend((base + b, raw) for b, raw in rest.raw_addrs)
            self._count = base + rest._count
            self.reader.absorb(rest.reader)
            self._snapshot = None
        rest.discard()

    def spooled_seconds(self) -> tuple[int, int]:
        """The timestamps (seconds) of the first and the last packet spooled so far."""
        with self._lock:
            ts = self._spool.columns(self._count)["ts_sec"]
            return int(ts[0]), int(ts[-1])

    def discard(self) -> None:
        """Drop what was read (an upload that failed): its spooled columns too."""
        with self._lock:
            spool, self._spool = self._spool, None
            self.parts, self.raw_addrs, self._snapshot = {}, [], None
        if spool is not None:
            spool.discard()

    def snapshot(self) -> "PartialIndex":
        """A read-only view of the packets indexed so far (cached until more are read)."""
        with self._lock:
            cached = self._snapshot
        if cached is not None and cached.n == self.count:
            return cached
        columns = self.columns()
        columns.update(tcpindex.quick_columns(columns))
        snap = PartialIndex(self.capture_path, columns, self.meta(columns))
        with self._lock:
            self._snapshot = snap
        return snap

    def meta(self, columns: dict[str, np.ndarray]) -> IndexMeta:
        return _meta(self.reader, columns)

    def finish(self, directory: Path) -> "CaptureIndex":
        """Derive the whole-capture columns and write the index to ``directory`` atomically."""
        directory = Path(directory)
        # A folder of its own per build: two builds of one capture (a restart re-indexing while
        # an earlier job still runs) never write into each other's files.
        work = directory.with_name(f"{directory.name}.building-{os.getpid()}-{threading.get_ident()}")
        indexfiles.remove_abandoned_builds(directory)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        columns = self._columns_on_disk(work)
        on_disk = columns is not None
        if columns is None:
            columns = self.columns()  # which also keeps the joined arrays as the only copy
        size = os.path.getsize(self.capture_path)
        tcp_streams = None
        with open(self.capture_path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            data = np.frombuffer(mm, dtype=np.uint8) if mm is not None else np.zeros(0, np.uint8)
            try:
                offsets, caplens = columns["offset"], columns["caplen"]
                reassembly.reassemble(
                    lambda i: data[offsets[i] : offsets[i] + caplens[i]].tobytes(), columns)
                conversations.refresh(columns)
                # The passes below read packets all over the file; the pages they touch are
                # dropped from this process's memory after each (the kernel still caches them).
                release = (lambda: mm.madvise(mmap.MADV_DONTNEED)) if mm is not None else (lambda: None)
                frame_cols: dict[str, np.ndarray] = {}
                tcp_cols, tcp_streams = tcppasses.tcp_columns(
                    data, columns, release, capture=self.capture_path,
                    meanwhile=lambda: frame_cols.update(pdus.frame_columns(data, columns, release)),
                    folder=work if on_disk else None)
                release()
                columns.update(tcp_cols)
                columns.update(frame_cols)
                indexfiles.drop_pages(columns)
            finally:
                del data
                if mm is not None:
                    mm.close()
        meta = self.meta(columns)
        for name in conversations.WORKING:  # superseded by the exact columns
            columns.pop(name, None)
            (work / f"{name}.npy").unlink(missing_ok=True)
        for name, values in columns.items():
            # A column mapped from its own file in the build folder is saved already (changes
            # went to the file).
            if indexfiles.mapped_file(values) != os.path.abspath(work / f"{name}.npy"):
                indexfiles.save(work / f"{name}.npy", values)
        # Per-stream TCP facts (handshake, completeness) live in their own folder: they are
        # indexed by tcp.stream, not by packet.
        (work / "tcp_streams").mkdir()
        for name, values in (dataclasses.asdict(tcp_streams).items() if tcp_streams else ()):
            np.save(work / "tcp_streams" / f"{name}.npy", np.ascontiguousarray(values))
        (work / "meta.json").write_text(json.dumps(meta.__dict__))
        shutil.rmtree(directory, ignore_errors=True)
        try:
            os.replace(work, directory)
        except OSError:
            # Another build of the same capture finished first: its index is as good as ours.
            shutil.rmtree(work, ignore_errors=True)
        return CaptureIndex(directory, self.capture_path)


def build_index(capture_path: Path, directory: Path, progress: Progress | None = None,
                builder: IndexBuilder | None = None, max_packets: int | None = None) -> CaptureIndex:
    """Index ``capture_path`` into ``directory`` (replaced atomically) and open the result.

    ``max_packets`` bounds the memory of indexing: the smallest record is 16 bytes and the
    index holds a few hundred bytes per packet, so a file of empty records (or a small gzip
    bomb of them) would otherwise need many times its size in memory.
    """
    builder = builder or IndexBuilder(capture_path)
    size = os.path.getsize(capture_path)

    def report() -> None:
        if progress:
            progress(builder.count, builder.reader.pos, size)

    splitdecode.decode_rest(builder, size, max_packets, report)
    while True:
        room = builder.room(max_packets)
        if room <= 0:
            if builder.reader.pos < size:
                builder.reader._stop(f"Only the first {builder.count:,} packets are shown: this server "
                                     f"reads at most {max_packets:,} packets of a capture.")
            break
        if not builder.step(final=True, max_records=room):
            break
        report()
    return builder.finish(directory)


def _meta(reader: RecordReader, cols: dict[str, np.ndarray]) -> IndexMeta:
    info = reader.info
    n = len(cols["offset"])
    meta = IndexMeta(
        packets=n,
        format=info.format,
        byte_order=info.byte_order,
        link_types=info.link_types,
        interfaces=[i.__dict__ for i in info.interfaces],
        section_comments=info.section_comments,
        comments={str(k): v for k, v in info.comments.items()},
        truncated=info.truncated,
    )
    if info.error:
        meta.warnings.append(info.error)
    unknown = sorted(set(info.link_types) - layers.SUPPORTED_LINKTYPES)
    if unknown:
        meta.warnings.append(
            "Link type " + ", ".join(str(u) for u in unknown)
            + " is not decoded; its packets are shown as raw frames."
        )
    if n:
        meta.first_epoch = int(cols["ts_sec"][0]) + int(cols["ts_nsec"][0]) / 1e9
        meta.last_epoch = int(cols["ts_sec"][-1]) + int(cols["ts_nsec"][-1]) / 1e9
    meta.tcp_streams = int(cols["tcp_stream"].max(initial=-1)) + 1
    meta.udp_streams = int(cols["udp_stream"].max(initial=-1)) + 1
    return meta
