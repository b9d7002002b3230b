"""Indexing a capture file while it is still being written: an upload as it arrives.

The upload's bytes reach the disk at network speed; decoding the records that have arrived
meanwhile means that when the last byte lands only the whole-capture passes (TCP analysis,
reassembly) are left. The decoding runs in the index worker process when it is free: the
server's threads share one interpreter lock with the upload's own work, the worker has a core
to itself. Otherwise (one core, worker busy or refused) a thread of the server follows the file.
Either way the builder then continues as the capture's index job.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from app.core import pcapfile, procpool, spool
from app.core.index import IndexBuilder

log = logging.getLogger("wirelens")

IDLE_WAIT = 0.05  # seconds between looks at a file that has not grown


def spool_of(path: Path) -> Path:
    """Where the columns of ``path`` are kept while it is read (beside it)."""
    return Path(path).with_name(Path(path).name + ".spool")


def _stop_flag(path: Path) -> Path:
    """The file whose existence tells a follower in the worker process to hand over."""
    return Path(path).with_name(Path(path).name + ".stop")


def _follow(builder: IndexBuilder, max_packets: int | None, stopped) -> None:
    """Decode the complete records as they arrive, until ``stopped()``."""
    while not stopped():
        room = builder.room(max_packets or None)
        if room <= 0 or not builder.step(final=False, max_records=room):
            time.sleep(IDLE_WAIT)


def follow_in_worker(path: str, max_packets: int | None) -> IndexBuilder:
    """In the worker process: follow ``path`` until its stop flag appears; the builder, whose
    columns are in the spool files beside ``path``, goes back to the server."""
    builder = IndexBuilder(Path(path), spool=spool_of(Path(path)))
    flag = _stop_flag(Path(path))
    _follow(builder, max_packets, flag.exists)
    return builder


class GrowingIndex:
    """Decodes the complete records of ``path`` while a writer appends to it."""

    def __init__(self, path: Path, max_packets: int | None = None) -> None:
        self.path = Path(path)
        self.max_packets = max_packets
        self.builder: IndexBuilder | None = None  # when followed by a thread of this process
        self._future = None  # when followed in the worker process
        self._stop = threading.Event()
        self._failed = False
        self._thread: threading.Thread | None = None

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
        procpool.warm()  # the follower and the index passes at the end use it
        _stop_flag(path).unlink(missing_ok=True)
        follower._future = procpool.submit(follow_in_worker, os.fspath(path), max_packets)
        if follower._future is None:
            follower.builder = IndexBuilder(path, spool=spool_of(path))
            follower._thread = threading.Thread(target=follower._run, name="index-growing",
                                                daemon=True)
            follower._thread.start()
        return follower

    def _run(self) -> None:
        try:
            _follow(self.builder, self.max_packets, self._stop.is_set)
        except Exception:  # noqa: BLE001 - the index job then reads the file from the start
            log.warning("indexing %s while it arrived failed", self.path, exc_info=True)
            self._failed = True

    @property
    def failed(self) -> bool:
        if self._future is not None:
            return self._future.done() and self._future.exception() is not None
        return self._failed

    def decoded(self) -> int:
        """Packets decoded so far (in the worker: the length of its spooled offset column)."""
        if self._future is None:
            return self.builder.count
        return spool.rows_in(spool_of(self.path), "offset", np.int64)

    def stop(self) -> IndexBuilder | None:
        """The writer is done (or failed): stop following. The builder to continue from, once
        retargeted to where the file is moved, or None when following it failed."""
        if self._future is not None:
            flag = _stop_flag(self.path)
            flag.touch()
            try:
                builder = procpool.result(self._future, lambda: None)
            finally:
                flag.unlink(missing_ok=True)
            if builder is None:
                shutil.rmtree(spool_of(self.path), ignore_errors=True)
            return builder
        self._stop.set()
        self._thread.join()
        if self._failed:
            self.builder.discard()
            return None
        return self.builder

