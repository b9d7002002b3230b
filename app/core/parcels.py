"""Big numpy arrays between the server and its index worker process, through a file.

A job's arguments and result cross a pipe when they are pickled as usual: the pickle copies
every array into one bytes object, the pipe moves it in pieces, and the other side copies it
into new arrays, all of it in the threads of the process pool, which hold the interpreter lock
that the index passes need meanwhile.  Half of a 1M-packet capture's TCP columns (about 40 MB)
took 0.09 s that way.  A parcel pickles with protocol 5, which hands the arrays' memory out of
band: it is written to one file (in memory when /dev/shm can hold it) and read back into one
buffer that the arrays then share, in about half the time, most of it spent in system calls
that release the lock.

Small payloads go through the pipe inside the parcel.  A file that cannot be written only costs
the faster path: the arrays go inline too.  An array that maps a whole file (the index columns a
build keeps on disk) is not copied at all: the receiver maps the same file, and sees what the
sender wrote to it (shared mappings of one file are coherent).
"""
from __future__ import annotations

import io
import os
import pickle
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core import indexfiles

PARCEL_FROM = 1 << 20  # bytes of array data from which they travel through a file
SHM = "/dev/shm"
PREFIX = "wirelens-parcel-"


@dataclass(frozen=True)
class Parcel:
    """A pickled object whose buffers are either in ``inline`` or in the file ``path``."""

    head: bytes
    sizes: tuple[int, ...]
    path: str | None = None
    inline: tuple[bytearray, ...] = ()  # writable: so are the arrays made of them


def pack(obj: Any) -> Parcel:
    """``obj`` ready to cross to another process (raises what pickling it raises)."""
    buffers: list[pickle.PickleBuffer] = []
    out = io.BytesIO()
    _Pickler(out, protocol=5, buffer_callback=buffers.append).dump(obj)
    head = out.getvalue()
    views = [b.raw() for b in buffers]
    sizes = tuple(v.nbytes for v in views)
    if sum(sizes) >= PARCEL_FROM:
        path = _write(views, sum(sizes))
        if path is not None:
            return Parcel(head, sizes, path=path)
    return Parcel(head, sizes, inline=tuple(bytearray(v) for v in views))


def unpack(parcel: Parcel) -> Any:
    """The object ``parcel`` carries; its file, if any, is gone afterwards."""
    if parcel.path is None:
        return pickle.loads(parcel.head, buffers=parcel.inline)
    data = bytearray(sum(parcel.sizes))
    with open(parcel.path, "rb", buffering=0) as f:
        os.unlink(parcel.path)
        view = memoryview(data)
        done = 0
        while done < len(data):
            got = f.readinto(view[done:])
            if not got:
                raise EOFError(f"{parcel.path} ended after {done} of {len(data)} bytes")
            done += got
    buffers, at = [], 0
    for size in parcel.sizes:
        buffers.append(view[at:at + size])
        at += size
    return pickle.loads(parcel.head, buffers=buffers)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        filename = indexfiles.mapped_file(obj)
        if filename is None:
            return NotImplemented
        order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
        return _mapped, (filename, obj.dtype, obj.shape, obj.offset, order, obj.mode)


def _mapped(filename: str, dtype: np.dtype, shape: tuple, offset: int, order: str,
            mode: str) -> np.ndarray:
    return np.memmap(filename, dtype=dtype, mode=mode, offset=offset, shape=shape, order=order)


def discard(parcel: Any) -> None:
    """Remove the file of a parcel that may never be unpacked (its receiver died)."""
    if isinstance(parcel, Parcel) and parcel.path is not None:
        try:
            os.unlink(parcel.path)
        except FileNotFoundError:
            pass


def _write(views: list[memoryview], total: int) -> str | None:
    """One file holding ``views`` one after the other; None when none could be written."""
    try:
        fd, path = tempfile.mkstemp(prefix=PREFIX, dir=_folder(total))
    except OSError:
        return None
    try:
        for view in views:
            while view.nbytes:
                view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        os.unlink(path)
        return None
    os.close(fd)
    return path


def _folder(total: int) -> str:
    """/dev/shm when it has room for twice the parcel (both sides may hold one at once), else
    the temporary directory."""
    try:
        st = os.statvfs(SHM)
        if st.f_bavail * st.f_frsize >= 2 * total and os.access(SHM, os.W_OK):
            return SHM
    except OSError:
        pass
    return tempfile.gettempdir()
