"""Indexing a capture file while it is still being written: an upload as it arrives.

The upload's bytes reach the disk at network speed; decoding the records that have arrived
meanwhile, on the other core, means that when the last byte lands only the whole-capture passes
(TCP analysis, reassembly) are left. The builder then continues as the capture's index job.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from app.core import pcapfile, procpool
from app.core.index import CHUNK, IndexBuilder

log = logging.getLogger("wirelens")

IDLE_WAIT = 0.05  # seconds between looks at a file that has not grown


def spool_of(path: Path) -> Path:
    """Where the columns of ``path`` are kept while it is read (beside it)."""
    return Path(path).with_name(Path(path).name + ".spool")


class GrowingIndex:
    """Decodes the complete records of ``path`` in a thread while a writer appends to it."""

    def __init__(self, path: Path, max_packets: int | None = None) -> None:
        self.builder = IndexBuilder(path, spool=spool_of(path))
        self.max_packets = max_packets
        self._stop = threading.Event()
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="index-growing", daemon=True)

    @classmethod
    def start_if_capture(cls, path: Path, max_packets: int | None = None) -> "GrowingIndex | None":
        """Start following ``path`` when its first bytes are an uncompressed capture (a
        compressed one is inflated first, so it is indexed only once complete)."""
        with open(path, "rb") as f:
            head = f.read(64)
        try:
            if pcapfile.sniff_format(head) not in ("pcap", "pcapng"):
                return None
        except pcapfile.CaptureFormatError:
            return None  # refused when the upload is added, with the reason
        follower = cls(path, max_packets)
        follower._thread.start()
        procpool.warm()  # the index passes at the end use it
        return follower

    def _run(self) -> None:
        builder = self.builder
        try:
            while not self._stop.is_set():
                room = CHUNK if not self.max_packets else min(CHUNK, self.max_packets - builder.count)
                if room <= 0 or not builder.step(final=False, max_records=room):
                    self._stop.wait(IDLE_WAIT)
        except Exception:  # noqa: BLE001 - the index job then reads the file from the start
            log.warning("indexing %s while it arrived failed", builder.capture_path, exc_info=True)
            self._failed = True

    def stop(self) -> IndexBuilder | None:
        """The writer is done (or failed): stop following. The builder to continue from, once
        retargeted to where the file is moved, or None when following it failed."""
        self._stop.set()
        self._thread.join()
        if self._failed:
            self.builder.discard()
            return None
        return self.builder
