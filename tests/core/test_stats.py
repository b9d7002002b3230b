"""Conversations and endpoints tables against tshark's -z conv tables on the corpus."""
from __future__ import annotations

import pytest

from app.core.index import build_index
from app.core.stats import conversations, endpoints
from tests.reference import CORPUS, capture_names, load_reference

@pytest.mark.parametrize("name", capture_names())
def test_tcp_and_udp_conversations_match_tshark(name, tmp_path):
    idx = build_index(CORPUS / name, tmp_path / "idx")
    for kind in ("tcp", "udp"):
        ref = load_reference(name)["conversations"].get(kind, [])
        want = sorted(
            (tuple(sorted([f"{c['addr_a']}:{c['port_a']}", f"{c['addr_b']}:{c['port_b']}"])), c["frames"])
            for c in ref)
        got = sorted((tuple(sorted([c["a"], c["b"]])), c["packets"]) for c in conversations(idx, kind))
        assert got == want, kind


def test_ip_conversations_and_endpoints_add_up(tmp_path):
    idx = build_index(CORPUS / "dpkt_http.pcap", tmp_path / "idx")
    conv = conversations(idx, "ipv4")
    assert sum(c["packets"] for c in conv) == 43
    assert conv[0]["a"] == "145.254.160.237" and conv[0]["b"] == "65.208.228.223"
    ends = {e["address"]: e for e in endpoints(idx, "ipv4")}
    assert ends["145.254.160.237"]["packets"] == 43
    assert ends["145.254.160.237"]["tx"]["packets"] + ends["145.254.160.237"]["rx"]["packets"] == 43
    eth = conversations(idx, "eth")
    assert len(eth) == 1 and eth[0]["packets"] == 43
