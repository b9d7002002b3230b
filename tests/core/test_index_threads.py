"""One index read by several worker threads at once (event streams, pages): packet bytes stay
readable however the threads interleave."""
from __future__ import annotations

import mmap
import threading
import time

from app.core.index import build_index
from app.core.indexview import CaptureIndex
from tests.reference import CORPUS


def test_threads_mapping_the_capture_at_once_all_read_their_packets(tmp_path, monkeypatch):
    build_index(CORPUS / "dns_icmp.pcap", tmp_path / "idx")
    index = CaptureIndex(tmp_path / "idx", CORPUS / "dns_icmp.pcap")
    expected = [bytes(index.frame(i)) for i in range(4)]
    index.close()

    # Mapping takes a while here, so every thread arrives while the first one is mapping: the
    # window in which a second opener used to close the file the first was mapping (EBADF).
    real = mmap.mmap
    monkeypatch.setattr(mmap, "mmap", lambda *a, **kw: (time.sleep(0.05), real(*a, **kw))[1])
    index = CaptureIndex(tmp_path / "idx", CORPUS / "dns_icmp.pcap")
    start = threading.Barrier(6)
    got: dict[int, object] = {}

    def read(k: int) -> None:
        start.wait()
        try:
            got[k] = [bytes(index.frame(i)) for i in range(4)]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            got[k] = exc

    threads = [threading.Thread(target=read, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    index.close()
    failures = {k: repr(v) for k, v in got.items() if isinstance(v, Exception)}
    assert not failures, failures
    assert got == {k: expected for k in range(6)}
