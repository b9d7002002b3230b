"""Vectorised building blocks of the evaluator: occurrence vectors, per-packet reductions,
pairing of two fields' occurrences, typed comparisons, byte conversions and slices.

No loop here runs per packet in Python: everything is numpy array arithmetic, or numpy ufunc
loops (``np.frompyfunc``) calling C builtins (``len``, ``operator.contains``, slicing) on object
arrays of str/bytes.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from app.core.dfilter.source import BYTES, ETHER, FLOAT, INT, IPV4, IPV6, STR, ether_to_bytes

_getitem = np.frompyfunc(operator.getitem, 2, 1)
_make_slice = np.frompyfunc(slice, 2, 1)
_concat = np.frompyfunc(operator.add, 2, 1)
_contains = np.frompyfunc(operator.contains, 2, 1)
_encode = np.frompyfunc(str.encode, 1, 1)


@dataclass
class Vec:
    """Occurrences of a value expression: packet index ``rows`` (sorted) and ``vals``."""

    rows: np.ndarray
    vals: np.ndarray
    kind: str

    def take(self, index: np.ndarray) -> "Vec":
        return Vec(self.rows[index], self.vals[index], self.kind)


# -- per-packet reductions --------------------------------------------------------------------
def any_rows(n: int, rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows[mask]] = True
    return out


def present_rows(n: int, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def reduce_eq(n: int, rows: np.ndarray, eq: np.ndarray, op: str) -> np.ndarray:
    """Row result of an equality family operator given the per-occurrence ``eq`` mask.

    ``==`` any equal, ``!=`` present and all differ, ``===`` present and all equal,
    ``!==`` (``~=``) any differs."""
    if op == "==":
        return any_rows(n, rows, eq)
    if op == "!==":
        return any_rows(n, rows, ~eq)
    present = present_rows(n, rows)
    if op == "!=":
        return present & ~any_rows(n, rows, eq)
    return present & ~any_rows(n, rows, ~eq)  # "==="


def pair(a: Vec, b: Vec, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (occurrence of a, occurrence of b) in the same packet: (rows, index a, index b)."""
    if _unique(a.rows) and _unique(b.rows):
        rows, ia, ib = np.intersect1d(a.rows, b.rows, assume_unique=True, return_indices=True)
        return rows, ia, ib
    counts_b = np.bincount(b.rows, minlength=n)
    start_b = np.concatenate(([0], np.cumsum(counts_b)[:-1]))
    reps = counts_b[a.rows]
    ia = np.repeat(np.arange(len(a.rows)), reps)
    offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    ib = np.repeat(start_b[a.rows], reps) + offsets
    return a.rows[ia], ia, ib


def _unique(rows: np.ndarray) -> bool:
    return len(rows) < 2 or bool(np.all(rows[1:] > rows[:-1]))


# -- conversions --------------------------------------------------------------------------
def to_bytes(vec: Vec) -> Vec:
    """The same occurrences as an object array of bytes (network byte order for addresses)."""
    vals = vec.vals
    if vec.kind == BYTES:
        return vec
    if vec.kind == STR:
        out = _encode(vals) if len(vals) else np.zeros(0, dtype=object)
    elif vec.kind == IPV4:
        out = vals.astype(">u4").view("V4").astype(object)
    elif vec.kind == ETHER:
        out = ether_to_bytes(vals).view("V6").reshape(-1).astype(object)
    elif vec.kind == IPV6:
        out = np.ascontiguousarray(vals).view("V16").reshape(-1).astype(object)
    else:
        raise TypeError(f"{vec.kind} values have no byte representation")
    return Vec(vec.rows, np.asarray(out, dtype=object), BYTES)


def lengths(objs: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, objs), dtype=np.int64, count=len(objs))


def slice_values(vec: Vec, ranges: list[tuple[str, int, int | None]]) -> Vec:
    """Wireshark slice ``[i:j]`` (start, length), ``[i-j]`` (inclusive), ``[i]``, ``[i:]``;
    negative offsets count from the end; occurrences too short for the slice are dropped."""
    vec = to_bytes(vec)
    objs = vec.vals
    size = lengths(objs)
    valid = np.ones(len(objs), dtype=bool)
    pieces = []
    for kind, start, value in ranges:
        begin = np.where(start < 0, size + start, start)
        if kind == "len":
            end = begin + int(value)  # type: ignore[arg-type]
        elif kind == "span":
            stop = int(value)  # type: ignore[arg-type]
            end = np.where(stop < 0, size + stop, stop) + 1
        elif kind == "one":
            end = begin + 1
        else:  # "end"
            end = size
        valid &= (begin >= 0) & (end <= size) & (end > begin)
        pieces.append((begin, end))
    keep = np.flatnonzero(valid)
    out = None
    for begin, end in pieces:
        part = _getitem(objs[keep], _make_slice(begin[keep], end[keep])) if len(keep) else objs[:0]
        out = part if out is None else _concat(out, part)
    return Vec(vec.rows[keep], np.asarray(out, dtype=object), BYTES)


# -- comparisons ----------------------------------------------------------------------------
def boxed(value: object) -> object:
    """A str/bytes constant as a 0-d object array: numpy would otherwise turn it into a
    fixed-width 'S'/'U' scalar, which silently drops trailing NUL bytes."""
    if isinstance(value, (bytes, str)):
        box = np.empty((), dtype=object)
        box[()] = value
        return box
    return value


def compare(kind: str, a: np.ndarray, op: str, b: object) -> np.ndarray:
    """Elementwise ``a op b`` (``b`` a typed constant or an array aligned with ``a``);
    equality family operators all compute equality here."""
    b = boxed(b)
    if kind == IPV4 and isinstance(b, tuple):
        value, prefix = b
        if op in ("==", "!=", "===", "!=="):
            mask = np.uint32((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
            return (a & mask) == np.uint32(value & int(mask))
        return _order(a, op, np.uint32(value))
    if kind == IPV6:
        return _compare_ipv6(a, op, b)
    if kind in (STR, BYTES) and isinstance(b, np.ndarray) and b.dtype == object:
        return np.asarray(_order(a, op, b), dtype=bool)
    if op in ("==", "!=", "===", "!=="):
        return np.asarray(a == b, dtype=bool)
    return np.asarray(_order(a, op, b), dtype=bool)


def _order(a: np.ndarray, op: str, b: object) -> np.ndarray:
    if op in ("==", "!=", "===", "!=="):
        return a == b
    return {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}[op](a, b)


def _ipv6_words(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    words = np.ascontiguousarray(vals, dtype=np.uint8).view(">u8").reshape(-1, 2)
    return words[:, 0].astype(np.uint64), words[:, 1].astype(np.uint64)


def _compare_ipv6(a: np.ndarray, op: str, b: object) -> np.ndarray:
    hi, lo = _ipv6_words(a)
    if isinstance(b, tuple):
        packed, prefix = b
        bhi = np.uint64(int.from_bytes(packed[:8], "big"))
        blo = np.uint64(int.from_bytes(packed[8:], "big"))
    else:
        bhi, blo = _ipv6_words(b)  # type: ignore[arg-type]
        prefix = 128
    if op in ("==", "!=", "===", "!=="):
        full = (1 << 64) - 1
        mhi = np.uint64(full ^ ((1 << (64 - min(prefix, 64))) - 1) if prefix else 0)
        mlo = np.uint64(full ^ ((1 << (128 - max(prefix, 64))) - 1) if prefix > 64 else 0)
        return ((hi & mhi) == (bhi & mhi)) & ((lo & mlo) == (blo & mlo))
    less = (hi < bhi) | ((hi == bhi) & (lo < blo))
    equal = (hi == bhi) & (lo == blo)
    return {"<": less, "<=": less | equal, ">": ~(less | equal), ">=": ~less}[op]


def contains(hay: np.ndarray, needle: object) -> np.ndarray:
    """``needle in value`` for each value (needle a constant or an aligned object array)."""
    if len(hay) == 0:
        return np.zeros(0, dtype=bool)
    return _contains(hay, boxed(needle)).astype(bool)


def numeric(vals: np.ndarray, kind: str) -> np.ndarray:
    return vals.astype(np.float64) if kind == FLOAT else vals


def coerce_pair(a: Vec, b: Vec) -> tuple[Vec, Vec]:
    """Bring two compatible vectors to one representation (bytes when they differ)."""
    if a.kind == b.kind or {a.kind, b.kind} <= {INT, FLOAT}:
        return a, b
    return to_bytes(a), to_bytes(b)


def ipv4_text(vals: np.ndarray) -> np.ndarray:
    """Dotted-quad strings of uint32 addresses (vectorised with numpy string ops)."""
    v = vals.astype(np.uint64)
    parts = [((v >> np.uint64(s)) & np.uint64(255)).astype(str) for s in (24, 16, 8, 0)]
    text = parts[0]
    for p in parts[1:]:
        text = np.char.add(np.char.add(text, "."), p)
    return text.astype(object)


def ether_text(vals: np.ndarray) -> np.ndarray:
    objs = ether_to_bytes(vals).view("V6").reshape(-1).astype(object)
    return np.frompyfunc(bytes.hex, 2, 1)(objs, ":") if len(objs) else objs
