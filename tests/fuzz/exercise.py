"""Everything a person can do with a capture, run on one (hostile) file through the core API.

Indexing (whole and chunk by chunk, as an upload still being read is viewed), paging, packet
details, display filters, export of the matches, flows and ladders. Only ``WirelensError``
subclasses may escape: they are the errors a user is shown. Anything else is a bug.
"""
from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

from app.core import filtering
from app.core.capture import CaptureView
from app.core.errors import WirelensError
from app.core.index import IndexBuilder, build_index
from app.core.ladder import ladder
from app.core.ladder_render import mermaid, svg
from app.core.library import CaptureRecord

# Index-only filters cost milliseconds; the others make the lazy field extraction dissect packets.
FILTERS = (
    "tcp", "udp && !dns", "ip.addr == 10.0.0.1 || ipv6.addr == ::1", "frame.len > 100",
    "tcp.flags.syn == 1 && !tcp.analysis.retransmission", "tcp.stream in {0 1 2}",
    "eth.addr == ff:ff:ff:ff:ff:ff", "tcp.analysis.flags", "icmp || icmpv6 || arp",
)
DISSECTING_FILTERS = ('http.request.uri contains "a"', "dns.qry.name", 'frame contains "GET"')
FAKE_ID = "f" * 16


class Stats:
    def __init__(self) -> None:
        self.packets = 0
        self.details = 0
        self.filters = 0
        self.flows = 0
        self.refused: str | None = None  # the WirelensError message, when the file was refused


def _guard(stats: Stats, fn, *args):
    """Call ``fn``; a WirelensError is an allowed, user-facing outcome (None is returned)."""
    try:
        return fn(*args)
    except WirelensError:
        return None


def exercise(data: bytes, workdir: Path, seed: int = 0, dissecting: bool = True,
             details: int = 4) -> Stats:
    """Run every operation on ``data``; raises whatever the core lets escape (except WirelensError)."""
    rng = random.Random(seed)
    stats = Stats()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    path = workdir / "capture"
    path.write_bytes(data)
    record = CaptureRecord(id=FAKE_ID, name="fuzz", size_bytes=len(data), format="pcap", status="ready")

    # An upload being read: a first chunk only, viewed through the partial index.
    builder = IndexBuilder(path)
    try:
        builder.step(final=False, max_records=rng.choice((1, 7, 64)))
        partial = builder.snapshot()
        view = CaptureView(record, partial)
        _guard(stats, view.page, 0, 20)
        if view.total:
            _guard(stats, view.detail, 1)
        view.index.close()
    except WirelensError:
        pass

    try:
        index = build_index(path, workdir / "index")
    except WirelensError as exc:
        stats.refused = exc.message
        return stats
    try:
        view = CaptureView(record, index)
        n = stats.packets = view.total
        _guard(stats, view.page, 0, 100)
        _guard(stats, view.page, max(0, n - 30), 100)
        _guard(stats, view.page, n + 5, 10)
        numbers = {1, n} | {rng.randint(1, max(1, n)) for _ in range(details)}
        for number in sorted(numbers):
            if _guard(stats, view.detail, number) is not None:
                stats.details += 1
        mask = None
        for text in FILTERS + (DISSECTING_FILTERS if dissecting else ()):
            m = _guard(stats, filtering.mask, view, text)
            if m is not None:
                stats.filters += 1
                mask = m if mask is None else mask
                _guard(stats, view.page, 0, 20, m, text)
        if mask is not None:
            _guard(stats, filtering.export, view, mask)
        for protocol in ("tcp", "udp"):
            table = _guard(stats, view.flow_table, protocol)
            if table is None:
                continue
            streams = table.matching(mask).tolist()[:8] + table.matching(None).tolist()[:8]
            for stream in sorted(set(streams)):
                if _guard(stats, table.flow, FAKE_ID, stream) is None:
                    continue
                stats.flows += 1
                model = _guard(stats, ladder, index, table, FAKE_ID, stream, 0, 200)
                if model is not None:
                    svg(model)
                    mermaid(model)
    finally:
        index.close()
    return stats


def timed(data: bytes, workdir: Path, seed: int = 0, **options) -> tuple[Stats, float]:
    start = time.perf_counter()
    stats = exercise(data, workdir, seed, **options)
    return stats, time.perf_counter() - start
