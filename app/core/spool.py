"""Index columns kept on disk while a capture is read: one ``.npy`` file per column, growing.

Holding every decoded column of a big capture in memory until the end costs about 250 bytes per
packet; here each chunk is appended to its column's file as soon as it is decoded, and readers
map the files. Each file starts with a header of fixed size (numpy pads the header so that the
length of its first axis may grow), written for zero rows and rewritten with the final count,
after which the file is an ordinary ``.npy`` that moves into the index as it is.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from app.core.indexfiles import npy_header


def rows_in(folder: Path, name: str, dtype: np.dtype) -> int:
    """Rows appended so far to column ``name`` of the spool in ``folder``, read from its file
    (the spool may be filled by another process); 0 before the first append."""
    try:
        size = (Path(folder) / f"{name}.npy").stat().st_size
    except OSError:
        return 0
    return max(0, size - len(npy_header(np.dtype(dtype), (0,)))) // np.dtype(dtype).itemsize


class ColumnSpool:
    """Columns appended chunk by chunk to files in ``folder``; not thread-safe (the index
    builder calls it under its lock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self._files: dict[str, object] = {}
        self._layout: dict[str, tuple[np.dtype, tuple, int]] = {}  # dtype, row shape, header size

    # A spool filled in the index worker process travels back to the server with its builder:
    # the files are flushed after every append, so the receiving side reopens them where they end.
    def __getstate__(self) -> dict:
        return {"folder": self.folder, "_layout": self._layout, "names": list(self._files)}

    def __setstate__(self, state: dict) -> None:
        self.folder, self._layout = state["folder"], state["_layout"]
        self._files = {}
        for name in state["names"]:
            f = self._files[name] = open(self.folder / f"{name}.npy", "r+b")
            f.seek(0, os.SEEK_END)

    def append(self, columns: dict[str, np.ndarray]) -> None:
        for name, values in columns.items():
            f = self._files.get(name)
            if f is None:
                header = npy_header(values.dtype, (0,) + values.shape[1:])
                f = self._files[name] = open(self.folder / f"{name}.npy", "wb")
                f.write(header)
                self._layout[name] = (values.dtype, values.shape[1:], len(header))
            np.ascontiguousarray(values).tofile(f)
        for f in self._files.values():
            f.flush()  # readers map the files, not these buffers

    def extend_from(self, other: "ColumnSpool", n: int) -> None:
        """Append the first ``n`` rows of each of ``other``'s columns that this spool has."""
        for name, f in self._files.items():
            if name not in other._layout:
                continue
            dtype, row, header = other._layout[name]
            left = n * dtype.itemsize * int(np.prod(row, dtype=np.int64))
            other._files[name].flush()
            f.flush()
            with open(other.folder / f"{name}.npy", "rb") as src:
                _copy(src, f, header, left)

    def columns(self, n: int, mode: str = "r") -> dict[str, np.ndarray]:
        """The first ``n`` rows of every column, mapped (``mode`` "r+" to fix rows in place)."""
        out = {}
        for name, (dtype, row, header) in self._layout.items():
            if n == 0:
                out[name] = np.zeros((0,) + row, dtype=dtype)
            else:
                out[name] = np.memmap(self.folder / f"{name}.npy", dtype=dtype, mode=mode,
                                      offset=header, shape=(n,) + row)
        return out

    def finish(self, n: int, destination: Path) -> list[str]:
        """Seal every column at ``n`` rows and move its file into ``destination``."""
        for name, f in self._files.items():
            dtype, row, header = self._layout[name]
            f.seek(0)
            f.write(npy_header(dtype, (n,) + row))
            f.close()
            path = self.folder / f"{name}.npy"
            os.truncate(path, header + n * dtype.itemsize * int(np.prod(row, dtype=np.int64)))
            os.replace(path, Path(destination) / f"{name}.npy")
        names = list(self._files)
        self.discard()
        return names

    def discard(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def _copy(src, dst, at: int, length: int) -> None:
    """Append ``length`` bytes of ``src`` from offset ``at`` to ``dst`` (at its position),
    in the kernel where it can."""
    out = dst.tell()
    try:
        while length > 0:
            done = os.copy_file_range(src.fileno(), dst.fileno(), length, at, out)
            if done <= 0:
                break
            at, out, length = at + done, out + done, length - done
    except (AttributeError, OSError):  # no copy_file_range here: through this process
        src.seek(at)
        dst.seek(out)
        while length > 0:
            block = src.read(min(length, 1 << 22))
            if not block:
                break
            dst.write(block)
            length -= len(block)
        out = dst.tell()
    dst.seek(out)
