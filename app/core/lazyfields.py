"""Filter fields the index does not hold, extracted once per capture and cached.

Two sources, cheapest first:

* protocol presence (``http``, ``dns``, ``tls`` ...) comes from each packet's ``frame.protocols``
  as the packet-list summary computes it (pure Python, no Scapy), kept on disk beside the index;
* any other field (``http.user_agent``, ``dns.qry.name`` ...) comes from the protocol tree of the
  packets that carry its protocol — only those are dissected — and is cached per field.

Raw bytes (``frame``, ``tcp.payload``, ``udp.payload``) are read straight from the capture.
"""
from __future__ import annotations

import json
import threading
from typing import Callable

import numpy as np

from app.core import npyio
from app.core.dfilter.source import BYTES, IPV6, STR, Occurrences, kind_of, normalize
from app.core.fields import FieldType, lookup
from app.core.index import CaptureIndex

Progress = Callable[[str, float], None]

# Protocols whose packets carry another protocol's fields: mDNS and LLMNR are dissected with
# the DNS fields, SSDP with the HTTP ones.
FIELD_CARRIERS = {"dns": ("mdns", "llmnr"), "http": ("ssdp",)}


class LazyFields:
    """Per-capture cache of extracted fields; ``dissect_one(i)`` gives packet i's layers."""

    def __init__(self, index: CaptureIndex, summarize_one, dissect_one, progress: Progress | None = None):
        self.index = index
        self.summarize_one = summarize_one
        self.dissect_one = dissect_one
        self.progress = progress
        self._fields: dict[str, Occurrences] = {}
        self._protocols: tuple[np.ndarray, list[str]] | None = None
        self._lock = threading.Lock()

    # -- frame.protocols ----------------------------------------------------------------------

    def protocol_table(self) -> tuple[np.ndarray, list[str]]:
        """(id per packet, distinct ``frame.protocols`` strings), computed once and stored."""
        with self._lock:
            if self._protocols is not None:
                return self._protocols
            stored = self.index.directory is not None
            ids_path = self.index.directory / "protocols.npy" if stored else None
            names_path = self.index.directory / "protocols.json" if stored else None
            if stored and ids_path.exists() and names_path.exists():
                self._protocols = (npyio.load(ids_path), json.loads(names_path.read_text()))
                return self._protocols
            table: dict[str, int] = {}
            ids = np.zeros(self.index.n, dtype=np.int32)
            step = max(1, self.index.n // 100)
            for i in range(self.index.n):
                chain = self.summarize_one(i).protocols
                ids[i] = table.setdefault(chain, len(table))
                if self.progress and i % step == 0:
                    self.progress("frame.protocols", i / max(1, self.index.n))
            names = list(table)
            if stored:
                np.save(ids_path, ids)
                names_path.write_text(json.dumps(names))
            self._protocols = (ids, names)
            return self._protocols

    def present(self, name: str) -> np.ndarray | None:
        """Presence of a protocol by ``frame.protocols`` membership, or of a field by its values."""
        field = lookup(name)
        if field is None:
            return None
        if field.type is FieldType.PROTOCOL:
            ids, names = self.protocol_table()
            has = np.array([name in chain.split(":") for chain in names], dtype=bool)
            return has[ids] if len(names) else np.zeros(self.index.n, dtype=bool)
        occ = self.values(name)
        if occ is None:
            return None
        mask = np.zeros(self.index.n, dtype=bool)
        mask[occ.rows] = True
        return mask

    # -- field values -------------------------------------------------------------------------

    def values(self, name: str) -> Occurrences | None:
        field = lookup(name)
        if field is None:
            return None
        with self._lock:
            cached = self._fields.get(name)
        if cached is not None:
            return cached
        raw = RAW_BYTES.get(name)
        occ = raw(self.index) if raw else self._extract(name, field.type)
        with self._lock:
            self._fields[name] = occ
        return occ

    def _candidates(self, name: str) -> np.ndarray:
        proto = name.split(".", 1)[0]
        if proto in ("frame", "_ws"):
            return np.arange(self.index.n)
        if lookup(proto) is None:
            return np.arange(self.index.n)
        mask = np.zeros(self.index.n, dtype=bool)
        for carrier in (proto, *FIELD_CARRIERS.get(proto, ())):
            present = self.present(carrier)
            if present is not None:
                mask |= present
        return np.flatnonzero(mask)

    def _extract(self, name: str, ftype: FieldType) -> Occurrences:
        kind = kind_of(ftype)
        rows: list[int] = []
        values: list = []
        candidates = self._candidates(name)
        step = max(1, len(candidates) // 100)
        for k, i in enumerate(candidates.tolist()):
            found = self.dissect_one(i).get(name)
            if self.progress and k % step == 0:
                self.progress(name, k / max(1, len(candidates)))
            if not found:
                continue
            for value in found:
                if value is None and kind not in (STR, BYTES):
                    continue
                rows.append(i)
                values.append(_typed(value, kind))
        if kind == "none":
            return Occurrences(np.asarray(rows, dtype=np.int64), np.zeros(len(rows), dtype=np.int64))
        if not rows:
            return Occurrences(np.zeros(0, np.int64), _empty(kind))
        if kind in (STR, BYTES):
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        elif kind == IPV6:
            arr = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, 16)
        else:
            arr = np.asarray(values)
        return Occurrences(np.asarray(rows, dtype=np.int64), normalize(arr, kind))


def _typed(value, kind: str):
    """A dissector node value in the representation the filter engine uses for ``kind``."""
    import ipaddress  # noqa: PLC0415

    if kind == STR:
        return value if isinstance(value, str) else str(value)
    if kind == BYTES:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        return bytes(value) if value is not None else b""
    if kind == "ipv4":
        return int(ipaddress.IPv4Address(value)) if isinstance(value, str) else int(value)
    if kind == IPV6:
        return ipaddress.IPv6Address(value).packed if isinstance(value, str) else bytes(value)
    if kind == "ether":
        if isinstance(value, str):
            return int(value.replace(":", "").replace("-", ""), 16)
        return int(value)
    if kind == "float":
        return float(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return int(value, 0)
    return int(value)


def _empty(kind: str) -> np.ndarray:
    if kind in (STR, BYTES):
        return np.zeros(0, dtype=object)
    if kind == IPV6:
        return np.zeros((0, 16), dtype=np.uint8)
    if kind == "ipv4":
        return np.zeros(0, dtype=np.uint32)
    if kind == "ether":
        return np.zeros(0, dtype=np.uint64)
    if kind == "float":
        return np.zeros(0, dtype=np.float64)
    return np.zeros(0, dtype=np.int64)


def _payload(column_l4: int) -> Callable[[CaptureIndex], Occurrences]:
    def read(idx: CaptureIndex) -> Occurrences:
        l4 = np.asarray(idx["l4"])
        pl_off = np.asarray(idx["pl_off"])
        pl_len = np.asarray(idx["pl_len"])
        caplen = np.asarray(idx["caplen"])
        rows = np.flatnonzero((l4 == column_l4) & (pl_len > 0) & (pl_off >= 0) & (pl_off < caplen))
        values = np.empty(len(rows), dtype=object)
        for k, i in enumerate(rows.tolist()):
            frame = idx.frame(i)
            start = int(pl_off[i])
            values[k] = frame[start : start + int(pl_len[i])]
        return Occurrences(rows.astype(np.int64), values)

    return read


def _frames(idx: CaptureIndex) -> Occurrences:
    values = np.empty(idx.n, dtype=object)
    for i in range(idx.n):
        values[i] = idx.frame(i)
    return Occurrences(np.arange(idx.n, dtype=np.int64), values)


RAW_BYTES: dict[str, Callable[[CaptureIndex], Occurrences]] = {
    "frame": _frames,
    "tcp.payload": _payload(6),
    "udp.payload": _payload(17),
}
