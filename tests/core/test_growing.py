"""Indexing a file while it is written, then finishing from where the follower stopped."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from app.core import procpool
from app.core.growing import GrowingIndex
from app.core.index import build_index
from tests.reference import CORPUS


@pytest.fixture(params=["worker process", "thread"])
def where(request, monkeypatch):
    """Follow in the index worker process (when it is free), or in a thread of this process
    (one core, or the worker busy with another capture)."""
    if request.param == "thread":
        monkeypatch.setattr(procpool, "submit", lambda *a, **k: None)
    return request.param


def assert_same_index(a, b) -> None:
    assert a.n == b.n and sorted(a.cols) == sorted(b.cols)
    for name in a.cols:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
    assert a.meta.__dict__ == b.meta.__dict__


@pytest.mark.parametrize("name", ["many-protocols.pcap", "many_interfaces-1.pcapng"])
def test_an_index_continued_from_a_followed_upload_equals_one_read_at_once(name, tmp_path, where):
    data = (CORPUS / name).read_bytes()
    incoming = tmp_path / "incoming"
    follower = None
    paused = False
    with open(incoming, "wb") as out:
        # Odd-sized pieces: records arrive cut in two, as they do over a socket.
        for start in range(0, len(data), 7919):
            out.write(data[start:start + 7919])
            out.flush()
            if follower is None and out.tell() >= 64:
                follower = GrowingIndex.start_if_capture(incoming)
                assert (follower._future is None) == (where == "thread")
            if follower is not None and not paused and start >= len(data) // 2:
                paused = True  # let the follower read part of the file meanwhile
                deadline = time.monotonic() + 30  # the worker process may still be starting
                while follower.decoded() == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
    assert follower is not None
    builder = follower.stop()
    assert builder is not None and 0 < builder.count
    moved = tmp_path / "original"
    os.replace(incoming, moved)  # the library moves the upload into its folder
    builder.retarget(moved)
    continued = build_index(moved, tmp_path / "continued", builder=builder)
    at_once = build_index(CORPUS / name, tmp_path / "at-once")
    assert_same_index(continued, at_once)


def test_a_compressed_or_foreign_file_is_not_followed(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(b"\x1f\x8b\x08" + bytes(61))
    assert GrowingIndex.start_if_capture(path) is None
    path.write_bytes(b"hello, this is not a capture file at all; it is plain text......")
    assert GrowingIndex.start_if_capture(path) is None


def test_a_follower_that_fails_hands_over_nothing(tmp_path, where):
    path = tmp_path / "upload"
    path.write_bytes((CORPUS / "dpkt_http.pcap").read_bytes()[:4096])
    follower = GrowingIndex.start_if_capture(path)
    time.sleep(0.1)
    path.unlink()  # the upload's file vanished under it
    deadline = time.monotonic() + 30
    while not follower.failed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert follower.stop() is None
    assert not (tmp_path / "upload.spool").exists()


def test_columns_spooled_by_an_interrupted_upload_are_removed_at_start(tmp_path):
    from app.core.library import Library  # noqa: PLC0415

    incoming = tmp_path / "data" / "incoming"
    (incoming / "0123.spool").mkdir(parents=True)
    (incoming / "0123.spool" / "offset.npy").write_bytes(b"\x93NUMPY")
    (incoming / "0123").write_bytes(b"partial upload")
    Library(tmp_path / "data")
    assert list(incoming.iterdir()) == []
