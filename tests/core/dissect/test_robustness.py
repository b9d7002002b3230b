"""Cut, contradictory and random frames: a tree with what parsed plus a marker, never an exception."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest

from app.core.dissect import dissect, field_values
from tests.core.dissect.corpus import frames
from tests.reference import capture_names, reference_frames


def _walk(nodes):
    for n in nodes:
        yield n
        yield from _walk(n["children"])


def _assert_sane(layers: list[dict], cap: int) -> None:
    assert layers and layers[0]["name"] == "frame"
    for n in _walk(layers):
        assert not n["label"].startswith("[Dissector bug"), n["label"]
        if n["offset"] is not None:
            assert 0 <= n["offset"] and n["offset"] + (n["length"] or 0) <= cap, n


def _labels(layers: list[dict]) -> list[str]:
    return [n["label"] for n in layers]


def _representatives(limit_per_stack: int = 1) -> list[tuple[str, int]]:
    """One frame for every distinct protocol stack of the corpus."""
    seen: dict[str, int] = {}
    out = []
    for name in capture_names():
        for ref in reference_frames(name):
            stack = ref["frame.protocols"]
            if seen.get(stack, 0) < limit_per_stack:
                seen[stack] = seen.get(stack, 0) + 1
                out.append((name, int(ref["frame.number"])))
    return out


@pytest.mark.parametrize("name,number", _representatives())
def test_every_cut_of_a_frame(name: str, number: int) -> None:
    data, lt, meta = frames(name)[number - 1]
    cuts = list(range(0, min(len(data), 160))) + list(range(160, len(data), 37))
    for cut in cuts:
        m = replace(meta, cap_len=cut)
        layers = dissect(data[:cut], lt, m)
        _assert_sane(layers, cut)
        fv = field_values(layers)
        assert fv["frame.cap_len"] == [cut] and fv["frame.len"] == [meta.wire_len]


def test_cut_headers_say_which_protocol_was_truncated() -> None:
    data, lt, meta = frames("testmyids.pcap")[3]  # Ethernet/IPv4/TCP(32-byte header)/HTTP
    for cut, proto in ((10, "Ethernet"), (20, "IPv4"), (40, "TCP"), (60, "TCP")):
        layers = dissect(data[:cut], lt, replace(meta, cap_len=cut))
        assert layers[-1]["name"] == "_ws.short"
        assert layers[-1]["label"] == f"[Packet size limited during capture: {proto} truncated]"
        assert "_ws.malformed" not in field_values(layers)
    # what parsed before the cut stays in the tree
    fv = field_values(dissect(data[:40], lt, replace(meta, cap_len=40)))
    assert fv["ip.src"] == ["172.17.0.2"] and fv["tcp.srcport"] == [54162] and "tcp.flags" not in fv


def test_corpus_truncated_captures_are_marked_short() -> None:
    """tcp_truncated-header.pcap (snaplen 68) and the damaged truncated_dns_2.pcap."""
    data, lt, meta = frames("tcp_truncated-header.pcap")[0]
    layers = dissect(data, lt, meta)
    fv = field_values(layers)
    assert fv["tcp.options.mss_val"] == [1460] and layers[-1]["name"] == "_ws.short"
    assert "TCP truncated" in layers[-1]["label"]
    data, lt, meta = frames("truncated_dns_2.pcap")[0]
    assert (len(data), meta.wire_len) == (200, 282)
    layers = dissect(data, lt, meta)
    fv = field_values(layers)
    assert fv["dns.qry.name"] == ["mycelium-wallet.s3.amazonaws.com"]
    assert layers[-1]["label"] == "[Packet size limited during capture: DNS truncated]"


def _patched(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new):]


def test_contradicting_lengths_are_malformed() -> None:
    # DNS query claiming 5 questions but carrying one: runs past the UDP datagram
    data, lt, meta = frames("test_dns.pcap")[0]
    bad = _patched(data, 14 + 20 + 8 + 4, b"\x00\x05")
    layers = dissect(bad, lt, meta)
    assert layers[-1]["name"] == "_ws.malformed" and layers[-1]["label"] == "[Malformed Packet: DNS]"
    assert field_values(layers)["dns.qry.name"][0] == field_values(dissect(data, lt, meta))["dns.qry.name"][0]
    # TCP data offset of 60 bytes in a 32-byte segment
    data, lt, meta = frames("testmyids.pcap")[1]
    bad = _patched(data, 14 + 20 + 12, b"\xf0")
    layers = dissect(bad, lt, meta)
    assert layers[-1]["label"] == "[Malformed Packet: TCP]"
    assert field_values(layers)["tcp.hdr_len"] == [60]
    # an IPv4 total length shorter than the header is flagged, not raised
    bad = _patched(data, 14 + 2, b"\x00\x10")
    fv = field_values(dissect(bad, lt, meta))
    assert fv["ip.len"] == [16] and "tcp" not in fv


@pytest.mark.parametrize("linktype", [1, 0, 108, 101, 228, 229, 113, 276, 147, 9999])
def test_random_bytes_never_raise(linktype: int) -> None:
    rng = random.Random(linktype)
    _, _, meta = frames("testmyids.pcap")[0]
    for i in range(300):
        n = rng.randrange(0, 120)
        data = bytes(rng.randrange(256) for _ in range(n))
        layers = dissect(data, linktype, replace(meta, cap_len=n, wire_len=n + rng.choice((0, 0, 7)),
                                                 linktype=linktype))
        _assert_sane(layers, n)


def test_unknown_link_type_is_frame_plus_data() -> None:
    data, _, meta = frames("testmyids.pcap")[0]
    layers = dissect(data, 147, replace(meta, linktype=147))
    assert [lay["name"] for lay in layers] == ["frame", "data"]
    fv = field_values(layers)
    assert fv["data.data"] == [data] and fv["frame.protocols"] == ["data"]


@pytest.mark.parametrize("name", ["many-protocols.pcap", "gre-sample.pcap", "sll.pcap", "DnsPackets.pcap",
                                  "sip_wireshark.pcap", "wireshark-dhcp.pcap", "linux_dlt_sll2.pcap",
                                  "VlanPackets.pcap", "one_http_stream_rst.pcap", "tls_ecdhe.pcap"])
def test_mutated_frames_never_raise(name: str) -> None:
    rng = random.Random(name)
    fr = frames(name)
    for i in range(600):
        data, lt, meta = fr[rng.randrange(len(fr))]
        b = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            if b:
                b[rng.randrange(min(len(b), 120))] = rng.randrange(256)
        layers = dissect(bytes(b), lt, meta)
        _assert_sane(layers, len(b))
