"""Hostile files: a quick round of mutated corpus captures, and hand-made pathological files.

The quick round (a few hundred cases, well under a minute on an idle 2-core machine) runs every
operation on each mutated capture in worker processes with a CPU-time bound per packet and a
memory bound per file byte (see runner.py); ``python -m tests.fuzz.run`` runs thousands. The
pathological files are those a reader is most likely to trust: gzip bombs, a pcapng file
claiming a billion interfaces, a 4 GB snap length, floods of empty records.
"""
from __future__ import annotations

import gzip
import resource
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from app.core.capture import Captures
from app.core.errors import CaptureFormatError, CaptureTooLarge, WirelensError
from app.core.index import build_index
from app.core.library import Library
from tests.fuzz.exercise import exercise
from tests.fuzz.runner import corpus_sources, run
from tests.reference import CORPUS

QUICK_CASES = 200
QUICK_MAX_BYTES = 30_000  # the small corpus files: the round stays well under a minute


def test_quick_fuzz_round():
    sources = corpus_sources(CORPUS, QUICK_MAX_BYTES)
    assert len(sources) >= 20
    # Index-column filters only: the dissecting ones are the long run's (tests/fuzz/run.py).
    results = run(list(range(QUICK_CASES)), sources, workers=2, dissecting=False, trace=False)
    assert len(results) == QUICK_CASES
    failures = [r for r in results if r.failed]
    assert not failures, "\n\n".join(f"{r.status}: {r.description}\n{r.message}" for r in failures[:5])
    # The cases exercised something: most files still had packets to page, filter and follow.
    assert sum(r.packets > 0 for r in results) > QUICK_CASES * 0.7


# -- hand-made files ------------------------------------------------------------------------------

def _block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(endian + "II", btype, len(body) + 12) + body + struct.pack(endian + "I", len(body) + 12)


SHB = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
FRAME = bytes.fromhex("ffffffffffff020000000001080600010800060400010200000000010a000001000000000000" "0a000002")


def _idb(linktype: int = 1, snaplen: int = 262144, options: bytes = b"") -> bytes:
    return _block(1, struct.pack("<HHI", linktype, 0, snaplen) + options)


def _epb(iface: int, frame: bytes = FRAME, ts: int = 1_700_000_000_000_000) -> bytes:
    return _block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def _pcap(snaplen: int = 262144, records: list[tuple[int, bytes]] | None = None) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    for n, (incl, data) in enumerate(records or []):
        out += struct.pack("<IIII", 1_700_000_000 + n, 0, incl, len(FRAME)) + data
    return out


def _index(tmp_path: Path, data: bytes, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "capture"
    path.write_bytes(data)
    return build_index(path, tmp_path / "index", **kw)


def test_pcapng_claiming_a_billion_interfaces(tmp_path):
    # A packet naming interface 1e9: the packets before it are kept, the walk stops there.
    data = SHB + _idb() + _epb(0) + _epb(1_000_000_000) + _epb(0)
    index = _index(tmp_path, data)
    assert index.n == 1 and index.meta.truncated and "interface 1000000000" in index.meta.warnings[0]
    exercise(data, tmp_path / "ex")
    # Interface descriptions by the tens of thousands: bounded, in time and in memory.
    many = SHB + _idb() * 70_000 + _epb(69_999)
    tracemalloc.start()
    start = time.process_time()
    try:
        index = _index(tmp_path / "many", many)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - start < 20
    assert peak < 200 << 20
    assert index.n == 0 and index.meta.truncated and "65536 interfaces" in index.meta.warnings[0]
    # A section header claiming a section longer than any disk, and an option longer than its block.
    huge = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, 2**63 - 1) + struct.pack("<HH", 1, 0xFFFF))
    index = _index(tmp_path / "huge", huge + _idb() + _epb(0))
    assert index.n == 1


def test_four_gigabyte_snaplen_and_record_lengths(tmp_path):
    # A file header announcing a 4 GB snap length is only a number: packets read normally.
    index = _index(tmp_path / "a", _pcap(0xFFFFFFFF, [(len(FRAME), FRAME)] * 3))
    assert index.n == 3 and not index.meta.truncated
    # A record claiming 4 GB stops the walk with a clear warning; earlier packets stay.
    index = _index(tmp_path / "b", _pcap(records=[(len(FRAME), FRAME), (0xFFFFFFFF, FRAME)]))
    assert index.n == 1 and index.meta.truncated and "4294967295 bytes" in index.meta.warnings[0]
    # pcapng: a 4 GB snap length on the interface and a simple packet block claiming 4 GB.
    spb = _block(3, struct.pack("<I", 0xFFFFFFFF) + FRAME)
    data = SHB + _idb(snaplen=0xFFFFFFFF) + _epb(0) + spb
    index = _index(tmp_path / "c", data)
    assert index.n == 2 and int(index["caplen"][1]) <= len(FRAME) + 3
    exercise(data, tmp_path / "ex")


def test_timestamps_beyond_int64(tmp_path):
    # Units of a whole second (if_tsresol 0) and the largest offset: 2^64 seconds and more.
    for options in (struct.pack("<HHB3x", 9, 1, 0), struct.pack("<HHq", 14, 8, 2**63 - 1),
                    struct.pack("<HHq", 14, 8, -(2**63))):
        data = SHB + _idb(options=options + b"\0\0\0\0") + _epb(0, ts=2**64 - 1) + _epb(0, ts=0)
        index = _index(tmp_path / str(len(list(tmp_path.iterdir()))), data)
        assert index.n == 2
        exercise(data, tmp_path / "ex")


def _bomb(tmp_path: Path, inflated_gb: int) -> Path:
    """A gzip file of a pcap header and then gigabytes of zeros (empty 16-byte records)."""
    zeros = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # ~64 kB for 64 MB
    path = tmp_path / "bomb.pcap.gz"
    with open(path, "wb") as f:
        f.write(gzip.compress(_pcap()))
        for _ in range(inflated_gb * 16):
            f.write(zeros)
    return path


def test_gzip_bomb_is_refused_without_filling_disk_or_memory(tmp_path):
    bomb = _bomb(tmp_path, 4)  # 4 GB inflated from about 4 MB (deflate tops out near 1:1000)
    assert bomb.stat().st_size < 5 << 20
    library = Library(tmp_path / "lib", max_upload_bytes=64 << 20)
    record = library.add_file(bomb, "bomb.pcap.gz", move=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    outcome = Captures(library).index(record.id)
    assert time.monotonic() - start < 60
    assert outcome.status == "error" and "larger than the limit" in outcome.error
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # kB
    assert grown < 512 << 10, f"indexing the bomb grew the process by {grown >> 10} MB"
    # Nothing of the inflated bytes is left behind.
    assert sum(p.stat().st_size for p in library.folder(record.id).rglob("*") if p.is_file()) < 4 << 20
    with pytest.raises(CaptureTooLarge):
        library.prepare(record.id)


def test_flood_of_empty_records_stops_at_the_packet_limit(tmp_path):
    # 100 000 empty records: 1.6 MB of file, many times that as an index without the limit.
    data = _pcap() + b"\0" * 16 * 100_000
    index = _index(tmp_path, data, max_packets=20_000)
    assert index.n == 20_000 and index.meta.truncated
    assert "at most 20,000 packets" in index.meta.warnings[0]
    packed = tmp_path / "flood.pcap.gz"
    packed.write_bytes(gzip.compress(data))
    library = Library(tmp_path / "lib", max_upload_bytes=64 << 20, max_packets=20_000)
    record = library.add_file(packed, packed.name, move=False)
    outcome = Captures(library).index(record.id)
    assert outcome.status == "ready" and outcome.packets == 20_000 and outcome.truncated


def test_not_captures_are_refused(tmp_path):
    for data in (b"", b"\x1f\x8b", gzip.compress(b"not a capture at all"), b"<html><script>x</script>",
                 zlib.compress(b"x" * 100), b"\x0a\x0d\x0d\x0a" + b"\xff" * 8):
        try:
            _index(tmp_path / str(len(data)), data)
        except WirelensError:
            continue
    library = Library(tmp_path / "lib")
    for data in (b"", b"<html>", b"\x00" * 100):
        path = tmp_path / "in"
        path.write_bytes(data)
        with pytest.raises(CaptureFormatError):
            library.add_file(path, "x", move=False)
    assert library.list() == []
