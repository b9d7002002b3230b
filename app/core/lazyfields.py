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

from app.core import layers, npyio
from app.core.dfilter.source import BYTES, IPV6, STR, Occurrences, kind_of, normalize
from app.core.fields import FieldType, lookup
from app.core.indexview import CaptureIndex

Progress = Callable[[str, int, int], None]

# Protocols whose packets carry another protocol's fields: mDNS and LLMNR are dissected with
# the DNS fields, SSDP with the HTTP ones.
FIELD_CARRIERS = {"dns": ("mdns", "llmnr"), "http": ("ssdp",)}


class Partial(Occurrences):
    """Occurrences complete only for the rows that were asked for (``values(name, within)``)."""

    __slots__ = ()
    complete = False


class _Extracted:
    """One field's occurrences gathered so far, and which packets have been looked at."""

    def __init__(self, n: int) -> None:
        self.done = np.zeros(n, dtype=bool)
        self.rows: list[int] = []
        self.values: list = []
        self.lock = threading.Lock()  # one extraction of a field at a time
        self.built: Occurrences | None = None


class LazyFields:
    """Per-capture cache of extracted fields; ``dissect_one(i)`` gives packet i's layers.

    Work is done only for the packets a filter still needs (``within``): the protocol chain and
    each field are kept per packet with a "looked at" mask, so a later filter that needs more
    packets extracts just the rest. ``progress(what, done, total)`` hears of long extractions.
    """

    def __init__(self, index: CaptureIndex, summarize_one, dissect_one, progress: Progress | None = None):
        self.index = index
        self.summarize_one = summarize_one
        self.dissect_one = dissect_one
        self.progress = progress
        self._fields: dict[str, _Extracted] = {}
        self._raw: dict[str, Occurrences] = {}
        self._chain_ids: np.ndarray | None = None  # per packet; -1 = not summarised yet
        self._chains: list[str] = []
        self._chain_of: dict[str, int] = {}
        self._protocols_done = False
        self._lock = threading.Lock()
        self._table_lock = threading.Lock()

    # -- frame.protocols ----------------------------------------------------------------------

    def _paths(self):
        d = self.index.directory
        return (d / "protocols.npy", d / "protocols.json") if d is not None else (None, None)

    def protocols_known(self) -> bool:
        """Whether every packet's protocol chain is at hand (then presence costs nothing)."""
        if self._protocols_done:
            return True
        ids_path, names_path = self._paths()
        return ids_path is not None and ids_path.exists() and names_path.exists()

    def protocol_table(self, within: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """(chain id per packet, distinct ``frame.protocols`` strings). Packets outside
        ``within`` may be left at -1; the whole table is stored beside the index once complete."""
        with self._table_lock:
            if self._chain_ids is None:
                ids_path, names_path = self._paths()
                if self.protocols_known() and ids_path is not None:
                    self._chain_ids = npyio.load(ids_path)
                    self._chains = json.loads(names_path.read_text())
                    self._chain_of = {c: k for k, c in enumerate(self._chains)}
                    self._protocols_done = True
                else:
                    self._chain_ids = np.full(self.index.n, -1, dtype=np.int32)
            ids = self._chain_ids
            if self._protocols_done:
                return ids, self._chains
            todo = ids < 0
            if within is not None:
                todo &= within
            rows, alike = _headers_only(self.index, np.flatnonzero(todo))
            for group in alike:  # one summary answers for packets that are all headers alike
                ids[group] = self._chain_id(int(group[0]))
            self._report("frame.protocols", 0, len(rows))
            for k, i in enumerate(rows.tolist()):
                ids[i] = self._chain_id(i)
                if k % 2048 == 2047:
                    self._report("frame.protocols", k + 1, len(rows))
            self._report("frame.protocols", len(rows), len(rows))
            if within is None or not (ids < 0).any():
                self._protocols_done = True
                ids_path, names_path = self._paths()
                if ids_path is not None:
                    np.save(ids_path, ids)
                    names_path.write_text(json.dumps(self._chains))
            return ids, list(self._chains)

    def _chain_id(self, i: int) -> int:
        chain = self.summarize_one(i).protocols
        found = self._chain_of.get(chain)
        if found is None:
            found = self._chain_of[chain] = len(self._chains)
            self._chains.append(chain)
        return found

    def _report(self, what: str, done: int, total: int) -> None:
        if self.progress and total:
            self.progress(what, done, total)

    def present(self, name: str, within: np.ndarray | None = None) -> np.ndarray | None:
        """Presence of a protocol by ``frame.protocols`` membership, or of a field by its values
        (right for the packets of ``within``; None = all)."""
        field = lookup(name)
        if field is None:
            return None
        if field.type is FieldType.PROTOCOL:
            ids, names = self.protocol_table(within)
            has = np.array([name in chain.split(":") for chain in names] + [False], dtype=bool)
            return has[ids]  # -1 (not looked at) picks the trailing False
        occ = self.values(name, within)
        if occ is None:
            return None
        mask = np.zeros(self.index.n, dtype=bool)
        mask[occ.rows] = True
        return mask

    # -- field values -------------------------------------------------------------------------

    def cost(self, name: str) -> int:
        """0 when answering costs nothing more, 1 for a pass over raw bytes or the protocol
        chains, 2 when packets must be dissected."""
        if name in RAW_BYTES:
            return 0 if name in self._raw else 1
        field = lookup(name)
        if field is None:
            return 0
        if field.type is FieldType.PROTOCOL:
            return 0 if self.protocols_known() else 1
        state = self._fields.get(name)
        return 0 if state is not None and state.built is not None and state.done.all() else 2

    def values(self, name: str, within: np.ndarray | None = None) -> Occurrences | None:
        field = lookup(name)
        if field is None:
            return None
        raw = RAW_BYTES.get(name)
        if raw is not None:
            if name not in self._raw:
                self._raw[name] = raw(self.index)
            return self._raw[name]
        with self._lock:
            state = self._fields.setdefault(name, _Extracted(self.index.n))
        with state.lock:
            candidates = self._candidates(name, within)
            self._rule_out(name, candidates, state)
            todo = candidates[~state.done[candidates]]
            if within is not None:
                todo = todo[within[todo]]
            if len(todo) or state.built is None:
                self._extract(name, kind_of(field.type), todo, state)
                state.built = _occurrences(state.rows, state.values, kind_of(field.type))
            occ = state.built
            if within is None or not (within & ~state.done).any():
                return occ
            return Partial(occ.rows, occ.values)

    def _candidates(self, name: str, within: np.ndarray | None) -> np.ndarray:
        """Packets that can hold field ``name``: those carrying its protocol; the others are
        marked as looked at by the caller's mask."""
        proto = name.split(".", 1)[0]
        if proto in ("frame", "_ws") or lookup(proto) is None:
            return np.arange(self.index.n)
        mask = np.zeros(self.index.n, dtype=bool)
        for carrier in (proto, *FIELD_CARRIERS.get(proto, ())):
            present = self.present(carrier, within)
            if present is not None:
                mask |= present
        return np.flatnonzero(mask)

    def _rule_out(self, name: str, candidates: np.ndarray, state: _Extracted) -> None:
        """A packet whose known protocol chain lacks the field's protocol cannot hold it."""
        if len(candidates) == self.index.n or self._chain_ids is None:
            return
        known = self._chain_ids >= 0
        known[candidates] = False
        state.done |= known

    def _extract(self, name: str, kind: str, todo: np.ndarray, state: _Extracted) -> None:
        total = len(todo)
        self._report(name, 0, total)
        for k, i in enumerate(todo.tolist()):
            for value in self.dissect_one(i).get(name) or ():
                if value is None and kind not in (STR, BYTES):
                    continue
                state.rows.append(i)
                state.values.append(_typed(value, kind))
            state.done[i] = True
            if k % 256 == 255:
                self._report(name, k + 1, total)
        self._report(name, total, total)


# Header decodes after which a packet without payload cannot hold another protocol.
_ODD = layers.F_MALFORMED | layers.F_FRAGMENT | layers.F_TUNNEL | layers.F_UNKNOWN_LINK | \
    layers.F_CUT | layers.F_REASSEMBLED | layers.F_QUOTED


def _headers_only(index: CaptureIndex, rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Split ``rows`` into packets that need their own summary and groups of TCP segments
    without payload whose headers are laid out alike (same link type, VLAN tags, network and
    header lengths, trailer): such packets have the same ``frame.protocols``. Most of a big
    capture is such segments (handshakes and ACKs), so this saves most of the summaries."""
    if not len(rows):
        return rows, []
    col = {name: np.asarray(index[name])[rows] for name in
           ("l4", "pl_len", "pl_off", "caplen", "linktype", "flags", "l3", "vlan_count", "eth_type")}
    bare = (col["l4"] == 6) & (col["pl_len"] == 0) & ((col["flags"] & _ODD) == 0) & \
        (col["pl_off"] >= 0) & np.isin(col["l3"], (4, 6))
    if not bare.any():
        return rows, []
    keys = np.stack([col["linktype"][bare].astype(np.int64), col["l3"][bare].astype(np.int64),
                     col["vlan_count"][bare].astype(np.int64), col["eth_type"][bare].astype(np.int64),
                     col["pl_off"][bare].astype(np.int64),
                     (col["caplen"][bare].astype(np.int64) - col["pl_off"][bare])], axis=1)
    _, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    members = rows[bare]
    order = np.argsort(group_of, kind="stable")
    bounds = np.flatnonzero(np.diff(group_of[order])) + 1
    return rows[~bare], np.split(members[order], bounds)


def _occurrences(rows: list[int], values: list, kind: str) -> Occurrences:
    """The gathered occurrences in row order, in the filter engine's representation."""
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
    row_arr = np.asarray(rows, dtype=np.int64)[order] if rows else np.zeros(0, np.int64)
    if kind == "none":
        return Occurrences(row_arr, np.zeros(len(rows), dtype=np.int64))
    if not rows:
        return Occurrences(row_arr, _empty(kind))
    if kind in (STR, BYTES):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    elif kind == IPV6:
        arr = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, 16)
    else:
        arr = np.asarray(values)
    return Occurrences(row_arr, normalize(arr[order], kind))


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
