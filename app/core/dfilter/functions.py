"""Display filter functions, vectorised: len, count, lower, upper, string, abs, min, max.

Each takes the evaluated arguments (occurrence vectors, or plain constants) and returns an
occurrence vector.  As in Wireshark, a function yields nothing for a packet where its field
argument is absent (so ``count(ip.src) == 0`` never matches).
"""
from __future__ import annotations

import socket
from typing import Any

import numpy as np

from app.core.dfilter.source import BYTES, ETHER, FLOAT, INT, IPV4, IPV6, STR
from app.core.dfilter.vectors import Vec, ether_text, ipv4_text, lengths

_lower = np.frompyfunc(str.lower, 1, 1)
_upper = np.frompyfunc(str.upper, 1, 1)
_hex = np.frompyfunc(bytes.hex, 2, 1)
_ntop = np.frompyfunc(socket.inet_ntop, 2, 1)
_FIXED_LEN = {IPV4: 4, ETHER: 6, IPV6: 16}


def call(name: str, args: list[Any], result_kind: str) -> Vec:
    first = args[0]
    if name == "len":
        if first.kind in _FIXED_LEN:
            vals = np.full(len(first.rows), _FIXED_LEN[first.kind], dtype=np.int64)
        else:
            vals = lengths(first.vals)
        return Vec(first.rows, vals, INT)
    if name == "count":
        rows, counts = np.unique(first.rows, return_counts=True)
        return Vec(rows, counts.astype(np.int64), INT)
    if name in ("lower", "upper"):
        fn = _lower if name == "lower" else _upper
        vals = fn(first.vals) if len(first.vals) else first.vals
        return Vec(first.rows, np.asarray(vals, dtype=object), STR)
    if name == "string":
        return Vec(first.rows, _to_text(first), STR)
    if name == "abs":
        return Vec(first.rows, np.abs(first.vals), first.kind)
    return _extreme(name, args, result_kind)


def _to_text(vec: Vec) -> np.ndarray:
    vals, kind = vec.vals, vec.kind
    if len(vals) == 0:
        return np.zeros(0, dtype=object)
    if kind in (INT, FLOAT):
        return vals.astype(str).astype(object)
    if kind == IPV4:
        return ipv4_text(vals)
    if kind == ETHER:
        return ether_text(vals)
    if kind == IPV6:
        objs = np.ascontiguousarray(vals).view("V16").reshape(-1).astype(object)
        return _ntop(socket.AF_INET6, objs)
    if kind == BYTES:
        return _hex(vals, ":")
    return vals


def _extreme(name: str, args: list[Any], result_kind: str) -> Vec:
    """min()/max() over every value of every argument, per packet.  Constants count for the
    packets where some field argument has a value."""
    vecs = [a for a in args if isinstance(a, Vec)]
    consts = [a for a in args if not isinstance(a, Vec)]
    dtype = np.float64 if result_kind == FLOAT else np.int64
    rows = np.concatenate([v.rows for v in vecs])
    vals = np.concatenate([v.vals.astype(dtype) for v in vecs])
    if len(rows) == 0:
        return Vec(rows, vals, result_kind)
    order = np.argsort(rows, kind="stable")
    rows, vals = rows[order], vals[order]
    starts = np.concatenate(([0], np.flatnonzero(rows[1:] != rows[:-1]) + 1))
    ufunc = np.maximum if name == "max" else np.minimum
    out = ufunc.reduceat(vals, starts)
    for c in consts:
        out = ufunc(out, np.asarray(c, dtype=dtype))
    return Vec(rows[starts], out, result_kind)
