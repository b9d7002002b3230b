"""Objects with big arrays cross to the worker process through a file, and come back equal."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from app.core import parcels


def _payload(n: int) -> dict:
    rng = np.random.default_rng(n)
    return {"seq": rng.integers(0, 1 << 32, n, dtype=np.uint32), "name": "x" * 10,
            "time": rng.random(n), "nested": [np.arange(n, dtype=np.int64), None]}


def _assert_equal(got: dict, want: dict) -> None:
    assert got["name"] == want["name"] and got["nested"][1] is None
    for g, w in ((got["seq"], want["seq"]), (got["time"], want["time"]),
                 (got["nested"][0], want["nested"][0])):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_big_arrays_travel_in_a_file_that_is_gone_once_read():
    want = _payload(200_000)  # 4 MB of arrays
    parcel = parcels.pack(want)
    assert parcel.path is not None and os.path.exists(parcel.path) and parcel.inline == ()
    assert len(parcel.head) < 2000  # the arrays are not in the pickle that crosses the pipe
    crossed = pickle.loads(pickle.dumps(parcel))
    got = parcels.unpack(crossed)
    assert not os.path.exists(parcel.path)
    _assert_equal(got, want)
    got["seq"][0] = 7  # the arrays are the receiver's own, as unpickled ones are
    assert got["seq"][0] == 7


def test_small_payloads_travel_inline_and_stay_writable():
    want = _payload(100)
    parcel = parcels.pack(want)
    assert parcel.path is None and parcel.inline
    got = parcels.unpack(pickle.loads(pickle.dumps(parcel)))
    _assert_equal(got, want)
    got["time"][:] = 0
    assert not got["time"].any()


def test_objects_without_arrays_and_non_contiguous_arrays():
    assert parcels.unpack(parcels.pack(("fn", (1, 2)))) == ("fn", (1, 2))
    strided = np.arange(600_000, dtype=np.int64)[::2]
    assert np.array_equal(parcels.unpack(parcels.pack(strided)), strided)


def test_a_folder_that_cannot_be_written_sends_the_arrays_inline(monkeypatch, tmp_path):
    missing = str(tmp_path / "gone")
    monkeypatch.setattr(parcels, "_folder", lambda total: missing)
    want = _payload(200_000)
    parcel = parcels.pack(want)
    assert parcel.path is None
    _assert_equal(parcels.unpack(parcel), want)


def test_shared_memory_is_used_only_with_room_for_it(monkeypatch, tmp_path):
    monkeypatch.setattr(parcels, "SHM", str(tmp_path))
    assert parcels._folder(1000) == str(tmp_path)
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    assert parcels._folder(free) != str(tmp_path)
    monkeypatch.setattr(parcels, "SHM", str(tmp_path / "missing"))
    assert parcels._folder(1000) != str(tmp_path / "missing")


def test_discard_removes_an_unread_parcel():
    parcel = parcels.pack(_payload(200_000))
    parcels.discard(parcel)
    assert not os.path.exists(parcel.path)
    parcels.discard(parcel)  # twice, or after the receiver read it: nothing left to do
    parcels.discard(parcels.pack(1))
    with pytest.raises(FileNotFoundError):
        parcels.unpack(parcel)


def test_a_mapped_column_file_travels_as_a_reference(tmp_path):
    path = tmp_path / "col.npy"
    np.save(path, np.arange(300_000, dtype=np.int64))
    column = np.load(path, mmap_mode="r+")
    parcel = parcels.pack({"col": column, "part": column[10:20]})
    assert parcel.path is None and len(parcel.head) < 1000  # only the slice is copied
    got = parcels.unpack(pickle.loads(pickle.dumps(parcel)))
    assert isinstance(got["col"], np.memmap) and np.array_equal(got["col"], column)
    assert np.array_equal(got["part"], np.arange(10, 20))
    column[5] = -1  # the sender's writes reach the receiver: one file, shared mappings
    column.flush()
    assert got["col"][5] == -1
    copied = np.load(path, mmap_mode="c")  # private copy-on-write mapping: sent by value
    assert len(parcels.pack(copied).head) > copied.nbytes
