"""Conversations against tshark's per-stream packet and byte counts on every corpus capture."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.flows import FlowTable, parse_flow_id, round9
from app.core.errors import NotFound
from app.core.index import build_index
from tests.reference import CORPUS, capture_names, load_reference

# Streams tshark numbers that the index leaves out, and why (see tests/core/test_index.py).
KNOWN_MISSING: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    root = tmp_path_factory.mktemp("flows")
    return {name: build_index(CORPUS / name, root / name) for name in capture_names()}


def _side(idx, table, stream):
    f = int(table.first[stream])
    return (idx.address(int(idx["net_src"][f])), int(table.sport[f]),
            idx.address(int(idx["net_dst"][f])), int(table.dport[f]))


@pytest.mark.parametrize("name", capture_names())
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_stream_counts_match_tshark(name, protocol, indexes):
    idx = indexes[name]
    table = FlowTable(idx, protocol)
    expected = load_reference(name)["streams"].get(protocol, [])
    if (name, protocol) in KNOWN_MISSING:
        return
    assert table.count == len(expected)
    by_stream = {e["stream"]: e for e in expected}
    for stream in range(table.count):
        e = by_stream[stream]
        got = (int(table.packets_ab[stream]), int(table.bytes_ab[stream]),
               int(table.packets_ba[stream]), int(table.bytes_ba[stream]))
        want = (e["frames_a_to_b"], e["bytes_a_to_b"], e["frames_b_to_a"], e["bytes_b_to_a"])
        if (e["addr_a"], int(e["port_a"])) != _side(idx, table, stream)[:2]:
            want = (want[2], want[3], want[0], want[1])
        assert got == want, (stream, e)


def test_flow_object_of_an_http_connection(indexes):
    idx = indexes["dpkt_http.pcap"]
    flow = FlowTable(idx, "tcp").flow("0123456789abcdef", 0)
    assert flow["id"] == "0123456789abcdef-tcp-0"
    assert flow["a"] == {"address": "145.254.160.237", "port": 3372}
    assert flow["b"] == {"address": "65.208.228.223", "port": 80}
    assert flow["packets"] == 34 and flow["a_to_b"]["packets"] == 16
    assert flow["handshake"]["syn"] == 1 and flow["handshake"]["syn_ack"] == 2
    assert flow["handshake"]["ack"] == 3
    assert flow["handshake"]["client_isn"] == 951057939 and flow["handshake"]["server_isn"] == 290218379
    assert abs(flow["handshake"]["rtt"] - 0.911310) < 1e-6
    assert flow["completeness"] & 0x07 == 0x07


def test_flow_ids_are_checked():
    assert parse_flow_id("0123456789abcdef-udp-12") == ("0123456789abcdef", "udp", 12)
    for bad in ("../x-tcp-1", "0123456789abcdef-icmp-1", "0123456789abcdef-tcp-", ""):
        with pytest.raises(NotFound):
            parse_flow_id(bad)


def test_round9_is_pythons_round():
    rng = np.random.default_rng(0)
    ties = (rng.integers(0, 10**12, 20000) + 0.5) / 1e9  # products that land near .5
    values = np.concatenate([
        rng.random(20000) * 1e5, rng.integers(0, 10**15, 20000) / 1e9, ties,
        np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), -rng.random(2000) * 100,
        (rng.integers(0, 10**9, 2000) * 2 + 1) / 2048.0,  # exact halves at the 9th decimal
        [0.0, -0.0, -1e-12, 1e7, 1e300, np.inf],
    ])
    got = round9(values)
    want = [round(v, 9) for v in values.tolist()]
    assert [(g, math.copysign(1, g)) for g in got] == [(w, math.copysign(1, w)) for w in want]
    assert math.isnan(round9(np.array([np.nan]))[0])


def _same(a, b) -> bool:
    """Equal values of equal types, dict keys in the same order."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_flows_of_many_streams_are_the_flows_one_by_one(protocol, indexes):
    for name, idx in indexes.items():
        table = FlowTable(idx, protocol)
        streams = table.matching(None)[::-1]  # any order, kept
        many = table.flows("0123456789abcdef", streams)
        assert len(many) == len(streams)
        for stream, flow in zip(streams.tolist(), many):
            assert _same(flow, table.flow("0123456789abcdef", stream)), (name, stream)
