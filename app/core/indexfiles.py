"""The files of an index being built: column files written whole or from chunks, mapped back,
and build folders that a dead process left behind."""
from __future__ import annotations

import io
import mmap
import os
import shutil
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from app.core import npyio


def npy_header(dtype: np.dtype, shape: tuple) -> bytes:
    """The header of an .npy file of ``shape``; numpy pads it so that its length does not
    change with the length of the first axis (the spool rewrites it in place)."""
    out = io.BytesIO()
    npy_format.write_array_header_1_0(out, {"descr": npy_format.dtype_to_descr(dtype),
                                            "fortran_order": False, "shape": shape})
    return out.getvalue()


def write_chunks(path: Path, chunks: list[np.ndarray], n: int) -> None:
    """The first ``n`` rows of ``chunks`` as one .npy file, written chunk by chunk."""
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as f:
        f.write(npy_header(chunks[0].dtype, (n,) + chunks[0].shape[1:]))
        left = n
        for chunk in chunks:
            if left <= 0:
                break
            np.ascontiguousarray(chunk[:left]).tofile(f)
            left -= len(chunk)
    os.replace(partial, path)


def mapped(path: Path) -> np.ndarray:
    """A column file mapped for reading and writing (the passes fix some rows in place)."""
    try:
        return npyio.load(path, "r+")
    except ValueError:  # an empty array cannot be mapped
        return npyio.load(path)


def create(path: Path, n: int, dtype: str) -> np.ndarray:
    """A new zeroed column file of ``n`` values, mapped for writing (by more than one process
    at once: the index worker fills the rows of its half of the TCP streams)."""
    if n == 0:
        save(path, np.zeros(0, dtype=dtype))
        return np.zeros(0, dtype=dtype)
    with open(path, "wb") as f:
        f.write(npy_header(np.dtype(dtype), (n,)))
        f.truncate(f.tell() + n * np.dtype(dtype).itemsize)  # zero pages, none written yet
    return mapped(path)


def mapped_file(values: np.ndarray) -> str | None:
    """The path (absolute) of the file ``values`` maps whole, shared (a column mapped for
    reading or writing, not a slice of one nor a private copy), else None: what is in that
    file is what it holds."""
    if (isinstance(values, np.memmap) and values.base is not None and values.base is values._mmap
            and values.filename is not None and values.mode in ("r", "r+")):
        return os.path.abspath(values.filename)
    return None


def drop_pages(columns: dict[str, np.ndarray]) -> None:
    """Unmap the pages read so far of the mapped columns among ``columns``: they stay in the
    kernel's cache (written back if changed) and are mapped again when read, but no longer
    count in this process's memory while a pass works on what it took from them."""
    for values in columns.values():
        mm = getattr(values, "_mmap", None)
        if isinstance(values, np.memmap) and mm is not None:
            mm.madvise(mmap.MADV_DONTNEED)


def save(path: Path, values: np.ndarray) -> None:
    """np.save through a new file: a mapping of an older version of it stays valid."""
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as f:
        np.save(f, np.ascontiguousarray(values))
    os.replace(partial, path)


def remove_abandoned_builds(directory: Path) -> None:
    """Remove the build folders of processes that died mid-build (a crash, a SIGKILL)."""
    for stale in directory.parent.glob(f"{directory.name}.building*"):
        parts = stale.name.rsplit("-", 2)
        try:
            os.kill(int(parts[-2]), 0)
            continue  # its process still runs: it may still be building
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:
            continue
