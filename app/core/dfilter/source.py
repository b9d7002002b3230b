"""The data interface between the display filter engine and a capture: :class:`FieldSource`.

A filter is evaluated over a whole capture at once.  The source answers, per field name, with
*every occurrence* of that field in the capture in "long" form::

    Occurrences(rows=int64[m] packet indices (0-based, non-decreasing), values=array of m values)

A packet with two IPv4 headers has two ``ip.src`` rows; ``ip.addr`` has a row for each source
and each destination.  Value arrays use one representation per field type (:func:`kind_of`):

=====================================================  ==========================================
FT_UINT*/INT*/FRAMENUM/CHAR, FT_BOOLEAN (0/1)          int64 (uint64 accepted)
FT_FLOAT/DOUBLE, FT_RELATIVE_TIME, FT_ABSOLUTE_TIME    float64 (seconds; absolute = UNIX epoch)
FT_IPv4                                                uint32 (host order value of a.b.c.d)
FT_IPv6                                                uint8 array of shape (m, 16)
FT_ETHER                                               uint64 (48-bit value; (m, 6) uint8 accepted)
FT_STRING/STRINGZ                                      object array of str
FT_BYTES, FT_PROTOCOL (the protocol's bytes)           object array of bytes
FT_NONE                                                no values: answer ``present()`` only
=====================================================  ==========================================

``values(name)`` returns None when the source cannot provide the field at all (the evaluator
then raises :class:`FieldUnavailable`); an empty Occurrences means "known, never present".
``present(name)`` returns a bool array of length ``n`` or None; it must answer protocol names
(``tcp``, ``http``, ``sll`` ...: membership in ``frame.protocols``) and FT_NONE fields
(``tcp.analysis.retransmission``); for other fields the evaluator derives presence from
``values(name).rows`` when ``present`` returns None.  ``values("frame")`` is the raw frame
bytes (needed by ``frame contains ...`` and ``frame[0:6]``).  Aggregate fields (``ip.addr``,
``tcp.port``, ``eth.addr`` ..., see ``fieldtable.AGGREGATES``) may be left unanswered (None):
the evaluator then unites their parts (every ``ip.src`` and ``ip.dst`` occurrence).

Optionally, ``column(name)`` answers an integer field that a packet holds at most once with
``(present, values)``, two arrays of length ``n`` (``values`` is meaningless where not
present), or None: a comparison with a constant is then computed on the whole column, without
building the occurrence list (``tcp.srcport == 80`` on a million packets).  Likewise
``coded_column(name)`` answers an address field that a packet holds at most once with
``(present, code, table)``: ``table`` holds the distinct values, ``code`` (length ``n``) the
position of each present packet's value in it (any integer elsewhere); a comparison with a
constant is then made on the table and looked up by code (``ip.src == 10.0.0.1``).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from app.core.fields import FieldType, lookup

INT, FLOAT, IPV4, IPV6, ETHER, STR, BYTES, NONE = (
    "int", "float", "ipv4", "ipv6", "ether", "str", "bytes", "none")

_KINDS = {
    FieldType.NONE: NONE, FieldType.PROTOCOL: BYTES, FieldType.BYTES: BYTES,
    FieldType.FLOAT: FLOAT, FieldType.DOUBLE: FLOAT, FieldType.RELATIVE_TIME: FLOAT,
    FieldType.ABSOLUTE_TIME: FLOAT, FieldType.STRING: STR, FieldType.STRINGZ: STR,
    FieldType.ETHER: ETHER, FieldType.IPv4: IPV4, FieldType.IPv6: IPV6,
}


def kind_of(ftype: FieldType) -> str:
    """Value representation (one of the kind constants) used for a field type."""
    return INT if ftype.is_integer else _KINDS[ftype]


class Occurrences(NamedTuple):
    """Every occurrence of one field: ``rows[i]`` is the packet index of ``values[i]``."""

    rows: np.ndarray
    values: np.ndarray


@runtime_checkable
class FieldSource(Protocol):
    """What a capture must offer to evaluate display filters (see the module docstring)."""

    n: int

    def values(self, name: str) -> Occurrences | None: ...

    def present(self, name: str) -> np.ndarray | None: ...


def normalize(values: Any, kind: str) -> np.ndarray:
    """Convert a source's value array to the canonical representation of ``kind``."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if kind == INT:
        if arr.dtype == np.uint64:
            return arr
        return arr.astype(np.int64, copy=False)
    if kind == FLOAT:
        return arr.astype(np.float64, copy=False)
    if kind == IPV4:
        if arr.ndim == 2:
            return _pack_be(arr.astype(np.uint8, copy=False), 4).astype(np.uint32)
        return arr.astype(np.uint32, copy=False)
    if kind == IPV6:
        return _fixed_bytes(arr, 16)
    if kind == ETHER:
        if arr.ndim == 2 or arr.dtype.kind in "SV" or (arr.dtype == object and len(arr)
                                                       and isinstance(arr[0], bytes)):
            return _pack_be(_fixed_bytes(arr, 6), 6)
        return arr.astype(np.uint64, copy=False)
    if kind in (STR, BYTES):
        return arr if arr.dtype == object else arr.astype(object)
    raise ValueError(f"field kind {kind!r} has no values")


def _fixed_bytes(arr: np.ndarray, width: int) -> np.ndarray:
    """(m, width) uint8 view of fixed-width binary values."""
    if arr.ndim == 2:
        return np.ascontiguousarray(arr, dtype=np.uint8).reshape(-1, width)
    if arr.dtype == object:
        flat = b"".join(arr.tolist())
        return np.frombuffer(flat, dtype=np.uint8).reshape(-1, width).copy()
    if arr.dtype.kind in "SV" and arr.dtype.itemsize == width:
        return np.ascontiguousarray(arr).view(np.uint8).reshape(-1, width)
    raise ValueError(f"cannot read {arr.dtype} as {width}-byte values")


def _pack_be(b: np.ndarray, width: int) -> np.ndarray:
    """Big-endian integer value of each row of a (m, width) uint8 array, as uint64."""
    out = np.zeros(len(b), dtype=np.uint64)
    for k in range(width):  # loop over byte columns (<= 16), not over packets
        out = (out << np.uint64(8)) | b[:, k].astype(np.uint64)
    return out


def ether_to_bytes(vals: np.ndarray) -> np.ndarray:
    """(m, 6) uint8 big-endian bytes of uint64 MAC values."""
    be = vals.astype(">u8").view(np.uint8).reshape(-1, 8)
    return np.ascontiguousarray(be[:, 2:])


def parse_text(text: str, ftype: FieldType) -> Any:
    """Typed value of a field from its tshark text form (``-T fields``/``-e`` output): used to
    build sources from tshark output and in tests.  Integers accept ``0x`` hex."""
    kind = kind_of(ftype)
    if kind == INT:
        if ftype is FieldType.BOOLEAN and text in ("True", "False"):
            return int(text == "True")
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    if kind == FLOAT:
        return float(text)
    if kind == IPV4:
        return int(ipaddress.IPv4Address(text))
    if kind == IPV6:
        return ipaddress.IPv6Address(text).packed
    if kind == ETHER:
        return int(text.replace(":", "").replace("-", "").replace(".", ""), 16)
    if kind == BYTES:
        return bytes.fromhex(text.replace(":", ""))
    return text


class ArraySource:
    """A :class:`FieldSource` over in-memory arrays (tests, small captures, tshark output).

    ``fields`` maps a field name to ``(rows, values)``; ``protocols`` maps protocol and FT_NONE
    field names to a bool array (or an iterable of row indices) of presence.
    """

    def __init__(self, n: int, fields: Mapping[str, tuple[Any, Any]] | None = None,
                 protocols: Mapping[str, Any] | None = None) -> None:
        self.n = n
        self._fields: dict[str, Occurrences] = {}
        self._present: dict[str, np.ndarray] = {}
        for name, (rows, vals) in (fields or {}).items():
            self.add_field(name, rows, vals)
        for name, flags in (protocols or {}).items():
            self.add_presence(name, flags)

    def add_field(self, name: str, rows: Any, vals: Any) -> None:
        field = lookup(name)
        kind = kind_of(field.type) if field is not None else BYTES
        rows_arr = np.asarray(rows, dtype=np.int64).reshape(-1)
        if kind == IPV6 and not isinstance(vals, np.ndarray):
            vals = (np.array([bytes(v) for v in vals], dtype=object) if len(vals)
                    else np.zeros((0, 16), np.uint8))
        elif kind in (STR, BYTES) and not isinstance(vals, np.ndarray):
            vals = np.array(list(vals) + [None], dtype=object)[:-1]  # keep 1-D even for bytes
        self._fields[name] = Occurrences(rows_arr, normalize(vals, kind) if len(rows_arr) else
                                         _empty(kind))

    def add_presence(self, name: str, flags: Any) -> None:
        arr = np.asarray(flags)
        if arr.dtype != bool or arr.shape != (self.n,):
            mask = np.zeros(self.n, dtype=bool)
            mask[np.asarray(list(arr.reshape(-1)), dtype=np.int64)] = True
            arr = mask
        self._present[name] = arr

    @classmethod
    def from_lists(cls, per_packet: Sequence[Mapping[str, Any]]) -> "ArraySource":
        """Build from one dict per packet: field -> value or list of values (typed, or tshark
        text for non-string fields); protocols and FT_NONE fields -> True."""
        n = len(per_packet)
        rows: dict[str, list[int]] = {}
        vals: dict[str, list[Any]] = {}
        flags: dict[str, list[int]] = {}
        for i, pkt in enumerate(per_packet):
            for name, value in pkt.items():
                field = lookup(name)
                if value is True and (field is None or field.type in (FieldType.PROTOCOL,
                                                                      FieldType.NONE)):
                    flags.setdefault(name, []).append(i)
                    continue
                for v in value if isinstance(value, list) else [value]:
                    if isinstance(v, str) and field is not None and kind_of(field.type) != STR:
                        v = parse_text(v, field.type)
                    rows.setdefault(name, []).append(i)
                    vals.setdefault(name, []).append(v)
        return cls(n, {k: (rows[k], vals[k]) for k in rows}, flags)

    def values(self, name: str) -> Occurrences | None:
        return self._fields.get(name)

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def known(self) -> Iterable[str]:
        return [*self._fields, *self._present]


def _empty(kind: str) -> np.ndarray:
    if kind == IPV6:
        return np.zeros((0, 16), dtype=np.uint8)
    dtype = {INT: np.int64, FLOAT: np.float64, IPV4: np.uint32, ETHER: np.uint64}.get(kind, object)
    return np.zeros(0, dtype=dtype)
