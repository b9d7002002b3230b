"""Loading .npy files safely from several threads.

numpy parses an .npy header with ``ast.literal_eval``, and on CPython 3.11 two threads parsing at
once can fail with "AST constructor recursion depth mismatch" (python/cpython#106905). Pages,
filters and indexing open indexes from different threads, so every load goes through one lock;
it is held only while the header is read (the data itself is memory-mapped).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()


def load(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    with _LOCK:
        return np.load(path, mmap_mode=mmap_mode)
