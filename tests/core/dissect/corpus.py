"""Frames of a corpus capture as the dissector sees them (bytes, link type, FrameMeta), read with
Scapy's raw pcap/pcapng readers, plus helpers to compare dissections with the tshark references."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator

from scapy.utils import RawPcapNgReader, RawPcapReader

from app.core.dissect import FrameMeta, dissect, field_values
from tests.reference import CORPUS


def _raw_frames(name: str) -> Iterator[tuple[bytes, int, int, int, int, int, list[str], str | None, bool]]:
    """(bytes, linktype, sec, nsec, wire_len, interface id, comments, ifname, is_pcapng) per record."""
    path = str(CORPUS / name)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"\x0a\x0d\x0d\x0a":
        r = RawPcapNgReader(path)
        try:
            while True:
                try:
                    d, m = r._read_packet(size=1 << 20)
                except EOFError:
                    break
                ticks = (m.tshigh << 32) | m.tslow
                ns = ticks * 1_000_000_000 // m.tsresol
                names = [i[2].get("name") for i in r.interfaces]
                ifid = names.index(m.ifname) if m.ifname in names else 0
                comments = [c.decode("utf-8", "replace") for c in (m.comments or [])]
                ifname = m.ifname.decode("utf-8", "replace") if m.ifname else None
                yield d, m.linktype, ns // 1_000_000_000, ns % 1_000_000_000, m.wirelen, ifid, comments, ifname, True
        finally:
            r.close()
    else:
        r = RawPcapReader(path)
        try:
            nano = getattr(r, "nano", False)
            while True:
                try:
                    d, m = r._read_packet(size=1 << 20)
                except EOFError:
                    break
                nsec = m.usec if nano else m.usec * 1000
                yield d, r.linktype, m.sec, nsec, m.wirelen, 0, [], None, False
        finally:
            r.close()


@lru_cache(maxsize=None)
def frames(name: str) -> tuple[tuple[bytes, int, FrameMeta], ...]:
    """Every frame of a capture with the FrameMeta a pcap reader would build."""
    out = []
    first = prev = None
    for i, (d, lt, sec, nsec, wl, ifid, comments, ifname, ng) in enumerate(_raw_frames(name)):
        t = sec * 1_000_000_000 + nsec
        first = t if first is None else first
        meta = FrameMeta(number=i + 1, epoch_sec=sec, epoch_nsec=nsec, time_relative=(t - first) / 1e9,
                         wire_len=wl, cap_len=len(d), interface_id=ifid, comments=comments, linktype=lt,
                         has_interface_id=ng, interface_name=ifname,
                         time_delta=0.0 if prev is None else (t - prev) / 1e9)
        prev = t
        out.append((d, lt, meta))
    return tuple(out)


@lru_cache(maxsize=None)
def dissected(name: str) -> tuple[tuple[list[dict], dict[str, list]], ...]:
    """(layers, field values) of every frame, without TCP context."""
    res = []
    for d, lt, meta in frames(name):
        layers = dissect(d, lt, meta)
        res.append((layers, field_values(layers)))
    return tuple(res)


def _int(s: str) -> int:
    return int(s, 16) if s.startswith("0x") else int(s)


# reference field -> how the tshark text becomes the typed value the tree holds
HEX_FIELDS = {"eth.type", "sll.etype", "ip.id", "tcp.flags", "dns.id"}
STR_FIELDS = {"eth.src", "eth.dst", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "arp.src.proto_ipv4",
              "arp.dst.proto_ipv4", "dns.qry.name", "http.request.method", "http.request.uri",
              "http.request.version", "http.host", "frame.protocols", "frame.comment", "tcp.flags.str"}
FLOAT_FIELDS = {"frame.time_epoch", "frame.time_relative", "frame.time_delta"}


def normalise(field: str, text: str) -> Any:
    """tshark's printed value as the Python value the dissector stores."""
    if field in STR_FIELDS:
        return text
    if field in FLOAT_FIELDS:
        return float(text)
    return _int(text)


def same(field: str, expected: str, got: Any) -> bool:
    """Whether a node value equals tshark's text for the field."""
    if got is None:
        return False
    want = normalise(field, expected)
    if field in FLOAT_FIELDS:
        return abs(float(got) - want) < 1e-6
    if isinstance(want, int) and isinstance(got, bool):
        return int(got) == want
    return got == want
