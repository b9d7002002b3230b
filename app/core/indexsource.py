"""Display-filter fields of a capture, read from its index columns (see dfilter.source).

Fields the index holds are answered with whole-column numpy operations, so a filter on them costs
milliseconds on a million packets. Every other field is extracted once per capture from the
packets' protocol trees (``lazyfields``) and cached.
"""
from __future__ import annotations

from typing import Callable

import ipaddress

import numpy as np

from app.core import layers
from app.core.dfilter.source import Occurrences
from app.core.indexview import CaptureIndex
from app.core.tcp.flags import FIELD_MASKS

Getter = Callable[["IndexSource"], tuple[np.ndarray, np.ndarray]]  # -> (rows, values)
ColumnGetter = Callable[["IndexSource"], tuple[np.ndarray, np.ndarray]]  # -> (present, values)


def _where(mask: np.ndarray, values: np.ndarray, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``mask`` and their ``values`` (converted to ``dtype`` there only: a full
    column converted first would cost a new array as long as the capture)."""
    rows = np.flatnonzero(mask)
    return rows, values[rows] if dtype is None else values[rows].astype(dtype)


def _merge(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Occurrences of several fields under one name (ip.addr = ip.src and ip.dst), by row."""
    first = parts[0][0]
    if all(len(p[0]) == len(first) and np.array_equal(p[0], first) for p in parts[1:]):
        # The usual case (both ports of every TCP packet): interleave, no sort needed.
        values = np.stack([p[1] for p in parts], axis=1)
        return np.repeat(first, len(parts)), values.reshape((-1,) + values.shape[2:])
    rows = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    order = np.argsort(rows, kind="stable")
    return rows[order], values[order]


class IndexSource:
    """A ``FieldSource`` over one capture's index (plus lazily extracted fields)."""

    def __init__(self, index: CaptureIndex, lazy=None) -> None:
        self.index = index
        self.n = index.n
        self.lazy = lazy
        self._cache: dict[str, Occurrences] = {}

    # -- helpers for the field table ----------------------------------------------------------

    def col(self, name: str) -> np.ndarray:
        return np.asarray(self.index[name])

    def l3(self, version: int) -> np.ndarray:
        return self.col("l3") == version

    def l4(self, proto: int) -> np.ndarray:
        return self.col("l4") == proto

    def addr(self, column: str, version: int, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        ids = self.col(column)
        n4 = len(self.index.addr4)
        if among is None:
            rows = np.flatnonzero(self.has_addr(column, version))
        else:  # an inner header's version is read from its address id
            rows = among[ids[among] >= 0]
            rows = rows[(ids[rows] < n4) == (version == 4)]
        if version == 4:
            return rows, self.index.addr4[ids[rows]].astype(np.uint32)
        return rows, np.asarray(self.index.addr6)[ids[rows] - n4]

    def has_addr(self, column: str, version: int) -> np.ndarray:
        """The packets whose first IP header is of ``version`` and has an address in ``column``.
        A damaged header can say IPv4 in its EtherType and 6 in its version nibble; its
        addresses were then read as IPv6 and have ids past the IPv4 table."""
        ids = self.col(column)
        n4 = len(self.index.addr4)
        return self.l3(version) & ((ids >= 0) & (ids < n4) if version == 4 else ids >= n4)

    def relative_time(self) -> np.ndarray:
        ts = self.col("ts_sec")
        if not len(ts):
            return np.zeros(0)
        return (ts - ts[0]) + (self.col("ts_nsec") - self.col("ts_nsec")[0]) / 1e9

    # -- FieldSource --------------------------------------------------------------------------

    def values(self, name: str) -> Occurrences | None:
        return self.values_within(name, None)

    def values_within(self, name: str, within: np.ndarray | None) -> Occurrences | None:
        """Occurrences of ``name``; a lazily extracted field is read for ``within`` only (the
        answer is then a ``Partial`` unless every packet has been looked at)."""
        if name in self._cache:
            return self._cache[name]
        getter = FIELDS.get(name)
        if getter is not None:
            rows, vals = getter(self)
            occ = self._cache[name] = Occurrences(np.asarray(rows, dtype=np.int64), vals)
            return occ
        if self.lazy is not None:
            return self.lazy.values(name, within)  # cached there, packet by packet
        return None

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(present, value) of every packet for the COLUMNS fields, else None."""
        fn = COLUMNS.get(name)
        return None if fn is None else fn(self)

    def coded_column(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(present, code, table) of every packet for the CODED fields, else None."""
        fn = CODED.get(name)
        return None if fn is None else fn(self)

    def present(self, name: str) -> np.ndarray | None:
        return self.present_within(name, None)

    def present_within(self, name: str, within: np.ndarray | None) -> np.ndarray | None:
        fn = PRESENCE.get(name)
        if fn is not None:
            return fn(self)
        if name in FIELD_MASKS:
            return (self.col("tcp_analysis") & FIELD_MASKS[name]) != 0
        if name in FIELDS:
            return None  # derived from values()
        if self.lazy is not None:
            return self.lazy.present(name, within)
        return None

    def cost(self, name: str) -> int:
        """What answering ``name`` costs: 0 from the index, more when read from packets."""
        if name in FIELDS or name in PRESENCE or name in FIELD_MASKS or self.lazy is None:
            return 0
        return self.lazy.cost(name)


def _tcp(s: IndexSource, column: str):
    return _where(s.l4(6), s.col(column), np.int64)


def _udp(s: IndexSource, column: str):
    own = _where(s.l4(17), s.col(column), np.int64)
    quoted = _where(s.col("q_l4") == 17, s.col("q_" + column), np.int64)
    return _merge(own, quoted)


def _ip_any(s: IndexSource, column: str, version: int):
    """Every occurrence of an IP address field. The index holds the first IP header's; packets
    with more (tunnels, ICMP errors quoting a packet) are rare and read from their trees."""
    first = s.addr(f"ip_{column}", version)
    several = _several_headers(s)
    if not several.any() or s.lazy is None:
        return first
    keep = ~several[first[0]]
    rows, values = list(first[0][keep]), list(first[1][keep])
    name = f"{'ip' if version == 4 else 'ipv6'}.{column}"
    for i in np.flatnonzero(several).tolist():
        for text in s.lazy.dissect_one(i).get(name, []):
            address = ipaddress.ip_address(text)
            rows.append(i)
            values.append(int(address) if version == 4 else np.frombuffer(address.packed, np.uint8))
    if not rows:
        return first
    order = np.argsort(np.asarray(rows), kind="stable")
    rows_arr = np.asarray(rows, dtype=np.int64)[order]
    if version == 4:
        return rows_arr, np.asarray(values, dtype=np.uint32)[order]
    return rows_arr, np.stack(values)[order]


def _ip_coded(s: IndexSource, column: str, version: int):
    """The first IP header's addresses as codes into the capture's address table, or None when
    packets hold more than one (see _ip_any). The codes are the index's address ids, so the
    IPv6 table starts with a placeholder row per IPv4 address."""
    if s.lazy is not None and _several_headers(s).any():
        return None
    present = s.has_addr(f"ip_{column}", version)
    if version == 4:
        return present, s.col(f"ip_{column}"), np.asarray(s.index.addr4).astype(np.uint32)
    n4 = len(s.index.addr4)
    table = np.concatenate([np.zeros((n4, 16), np.uint8), np.asarray(s.index.addr6, np.uint8)])
    return present, s.col(f"ip_{column}"), table


def _several_headers(s: IndexSource) -> np.ndarray:
    """The packets with more than one IP header (tunnels, ICMP errors quoting a packet)."""
    return (s.col("flags") & (layers.F_TUNNEL | layers.F_QUOTED)) != 0


def _flag_bit(bit: int) -> ColumnGetter:
    return lambda s: (s.l4(6), (s.col("tcp_flags") & bit) != 0)


def _occurrences(column: ColumnGetter) -> Getter:
    """The occurrences of a field with at most one value per packet, from its COLUMNS entry."""
    def getter(s: IndexSource) -> tuple[np.ndarray, np.ndarray]:
        present, values = column(s)
        return _where(present, values, np.int64)
    return getter


def _frame_protocol(s: IndexSource) -> np.ndarray:
    return np.ones(s.n, dtype=bool)


FIELDS: dict[str, Getter] = {
    "frame.number": lambda s: (np.arange(s.n), np.arange(1, s.n + 1, dtype=np.int64)),
    "frame.len": lambda s: (np.arange(s.n), s.col("wirelen").astype(np.int64)),
    "frame.cap_len": lambda s: (np.arange(s.n), s.col("caplen").astype(np.int64)),
    "frame.time_epoch": lambda s: (np.arange(s.n), s.col("ts_sec") + s.col("ts_nsec") / 1e9),
    "frame.time_relative": lambda s: (np.arange(s.n), s.relative_time()),
    "frame.time_delta": lambda s: (np.arange(s.n), np.diff(s.relative_time(), prepend=0.0) if s.n else np.zeros(0)),
    "frame.interface_id": lambda s: (np.arange(s.n) if s.index.meta.format == "pcapng" else np.zeros(0, np.int64),
                                     s.col("iface").astype(np.int64) if s.index.meta.format == "pcapng" else np.zeros(0, np.int64)),
    "eth.src": lambda s: _where(s.col("eth_type") >= 0, s.col("eth_src")),
    "eth.dst": lambda s: _where(s.col("eth_type") >= 0, s.col("eth_dst")),
    "eth.addr": lambda s: _merge(_where(s.col("eth_type") >= 0, s.col("eth_dst")),
                                 _where(s.col("eth_type") >= 0, s.col("eth_src"))),
    "eth.type": lambda s: _where(s.col("eth_type") >= 0, s.col("eth_type"), np.int64),
    "vlan.id": lambda s: _where(s.col("vlan_id") >= 0, s.col("vlan_id"), np.int64),
    "sll.pkttype": lambda s: _where(s.col("sll_pkttype") >= 0, s.col("sll_pkttype"), np.int64),
    "null.family": lambda s: _where(s.col("null_family") >= 0, s.col("null_family")),
    "ip.src": lambda s: _ip_any(s, "src", 4),
    "ip.dst": lambda s: _ip_any(s, "dst", 4),
    "ip.addr": lambda s: _merge(_ip_any(s, "src", 4), _ip_any(s, "dst", 4)),
    "ip.proto": lambda s: _where(s.l3(4), s.col("ip_proto"), np.int64),
    "ip.ttl": lambda s: _where(s.l3(4), s.col("ip_ttl"), np.int64),
    "ip.id": lambda s: _where(s.l3(4), s.col("ip_id"), np.int64),
    "ip.len": lambda s: _where(s.l3(4), s.col("ip_len"), np.int64),
    "ip.version": lambda s: _where(s.l3(4), np.full(s.n, 4, dtype=np.int64)),
    "ip.frag_offset": lambda s: _where(s.l3(4), s.col("ip_frag"), np.int64),
    "ip.flags.mf": lambda s: _where(s.l3(4), (s.col("ip_flags").astype(np.int64) >> 0) & 1),
    "ip.flags.df": lambda s: _where(s.l3(4), (s.col("ip_flags").astype(np.int64) >> 1) & 1),
    "ip.flags.rb": lambda s: _where(s.l3(4), (s.col("ip_flags").astype(np.int64) >> 2) & 1),
    "ipv6.src": lambda s: _ip_any(s, "src", 6),
    "ipv6.dst": lambda s: _ip_any(s, "dst", 6),
    "ipv6.addr": lambda s: _merge(_ip_any(s, "src", 6), _ip_any(s, "dst", 6)),
    "ipv6.nxt": lambda s: _where(s.l3(6), s.col("ip_proto"), np.int64),
    "ipv6.hlim": lambda s: _where(s.l3(6), s.col("ip_ttl"), np.int64),
    "ipv6.plen": lambda s: _where(s.l3(6), s.col("ip_len"), np.int64),
    "tcp.port": lambda s: _merge(_tcp(s, "sport"), _tcp(s, "dport")),
    "tcp.seq": lambda s: _tcp(s, "tcp_seq"),
    "tcp.seq_raw": lambda s: _tcp(s, "seq"),
    "tcp.ack": lambda s: _where(s.l4(6) & ((s.col("tcp_flags") & 0x10) != 0), s.col("tcp_ack"), np.int64),
    "tcp.ack_raw": lambda s: _where(s.l4(6) & ((s.col("tcp_flags") & 0x10) != 0), s.col("ack"), np.int64),
    "tcp.len": lambda s: _where(s.l4(6) & (s.col("tcp_nxtseq") >= 0), s.col("pl_len"), np.int64),
    "tcp.nxtseq": lambda s: _where(s.l4(6) & (s.col("tcp_nxtseq") >= 0), s.col("tcp_nxtseq"), np.int64),
    "tcp.hdr_len": lambda s: _tcp(s, "tcp_hlen"),
    "tcp.flags": lambda s: _tcp(s, "tcp_flags"),
    "tcp.flags.res": lambda s: _where(s.l4(6), (s.col("tcp_flags").astype(np.int64) >> 9) & 7),
    "tcp.window_size_value": lambda s: _tcp(s, "tcp_win"),
    "tcp.window_size": lambda s: _tcp(s, "tcp_window"),
    "tcp.analysis.duplicate_ack_num": lambda s: _where(s.col("tcp_dup_num") > 0, s.col("tcp_dup_num"), np.int64),
    "tcp.analysis.duplicate_ack_frame": lambda s: _where(s.col("tcp_dup_frame") > 0, s.col("tcp_dup_frame"), np.int64),
    "udp.srcport": lambda s: _udp(s, "sport"),
    "udp.dstport": lambda s: _udp(s, "dport"),
    "udp.port": lambda s: _merge(_udp(s, "sport"), _udp(s, "dport")),
    "udp.length": lambda s: _where(s.l4(17), s.col("pl_len").astype(np.int64) + 8),
    "udp.stream": lambda s: _where(s.col("udp_stream") >= 0, s.col("udp_stream"), np.int64),
    "icmp.type": lambda s: _where(s.l4(1), s.col("icmp_type"), np.int64),
    "icmp.code": lambda s: _where(s.l4(1), s.col("icmp_code"), np.int64),
    "icmpv6.type": lambda s: _where(s.l4(58), s.col("icmp_type"), np.int64),
    "icmpv6.code": lambda s: _where(s.l4(58), s.col("icmp_code"), np.int64),
}

# Integer fields a packet holds at most once, in one index column: (present, value) of every
# packet. Comparisons with a constant use them whole (IndexSource.column); their occurrences,
# for everything else, are in FIELDS too.
COLUMNS: dict[str, ColumnGetter] = {
    "tcp.srcport": lambda s: (s.l4(6), s.col("sport")),
    "tcp.dstport": lambda s: (s.l4(6), s.col("dport")),
    "tcp.stream": lambda s: (s.col("tcp_stream") >= 0, s.col("tcp_stream")),
    "tcp.flags.fin": _flag_bit(0x001), "tcp.flags.syn": _flag_bit(0x002),
    "tcp.flags.reset": _flag_bit(0x004), "tcp.flags.push": _flag_bit(0x008),
    "tcp.flags.ack": _flag_bit(0x010), "tcp.flags.urg": _flag_bit(0x020),
    "tcp.flags.ece": _flag_bit(0x040), "tcp.flags.cwr": _flag_bit(0x080),
    "tcp.flags.ae": _flag_bit(0x100), "tcp.flags.ns": _flag_bit(0x100),
    "tcp.flags.ecn": _flag_bit(0x040),
}
FIELDS.update({name: _occurrences(column) for name, column in COLUMNS.items()})

# Fields a packet holds at most once whose values repeat (addresses): (present, code, table)
# of every packet, ``table[code]`` its value where present. A comparison with a constant is made on the
# table, then looked up per packet (IndexSource.coded_column); the occurrences are in FIELDS.
CODED: dict[str, Callable[[IndexSource], tuple[np.ndarray, np.ndarray, np.ndarray] | None]] = {
    "ip.src": lambda s: _ip_coded(s, "src", 4), "ip.dst": lambda s: _ip_coded(s, "dst", 4),
    "ipv6.src": lambda s: _ip_coded(s, "src", 6), "ipv6.dst": lambda s: _ip_coded(s, "dst", 6),
}

# Protocols whose presence the index answers without looking at payloads.
PRESENCE: dict[str, Callable[[IndexSource], np.ndarray]] = {
    "frame": _frame_protocol,
    "eth": lambda s: s.col("eth_type") >= 0,
    "vlan": lambda s: s.col("vlan_count") > 0,
    "sll": lambda s: np.isin(s.col("linktype"), (113, 276)),
    "null": lambda s: np.isin(s.col("linktype"), (0, 108)),
    "ip": lambda s: (s.col("ip_hdr") >= 0) & s.l3(4),
    "ipv6": lambda s: (s.col("ip_hdr") >= 0) & s.l3(6),
    "arp": lambda s: s.col("arp_hdr") >= 0,
    "tcp": lambda s: s.l4(6) | (s.col("q_l4") == 6),
    "udp": lambda s: s.l4(17) | (s.col("q_l4") == 17),
    "icmp": lambda s: s.l4(1),
    "icmpv6": lambda s: s.l4(58),
    "_ws.malformed": lambda s: (s.col("flags") & layers.F_MALFORMED) != 0,
}
