"""The optional tcp_context: relative numbers, stream, analysis flags and reassembled PDUs.

The context values are taken from the tshark reference (what the capture-wide TCP analysis is
expected to compute); the test checks that the dissector puts them in the fields tshark uses.
"""
from __future__ import annotations

import pytest

from app.core.dissect import dissect, field_values
from tests.core.dissect.corpus import dissected, frames, same
from tests.reference import reference_frames

ANALYSIS_FLAGS = ["retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
                  "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
                  "zero_window_probe_ack", "window_update", "window_full", "keep_alive", "keep_alive_ack",
                  "reused_ports"]


def context_from_reference(ref: dict) -> dict:
    ctx = {"seq": int(ref["tcp.seq"]), "ack": int(ref["tcp.ack"]), "nxtseq": int(ref["tcp.nxtseq"]),
           "stream": int(ref["tcp.stream"]), "window": int(ref["tcp.window_size"]),
           "analysis": [f for f in ANALYSIS_FLAGS if ref[f"tcp.analysis.{f}"]]}
    if ref["tcp.analysis.duplicate_ack_num"]:
        ctx["dup_ack_num"] = int(ref["tcp.analysis.duplicate_ack_num"])
        ctx["dup_ack_frame"] = int(ref["tcp.analysis.duplicate_ack_frame"])
    return ctx


@pytest.mark.parametrize("name", ["wireshark-retrans.pcap", "tcp_reassembly.pcap", "retransmit-fast009.pcap",
                                  "206_example_b.pcap", "one_tcp_stream.pcap", "test_loopback.pcap",
                                  "dpkt_http.pcap"])
def test_context_fields_match_tshark(name: str) -> None:
    checked = 0
    for (data, lt, meta), ref in zip(frames(name), reference_frames(name)):
        if ref["tcp.seq"] is None:
            continue
        tc = context_from_reference(ref)
        fv = field_values(dissect(data, lt, meta, tcp_context=tc))
        for f in ("tcp.seq", "tcp.ack", "tcp.nxtseq", "tcp.stream", "tcp.window_size",
                  "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame"):
            if ref[f] is not None:
                assert f in fv and same(f, ref[f], fv[f][0]), (meta.number, f, ref[f], fv.get(f))
        for flag in ANALYSIS_FLAGS + ["flags"]:
            assert (f"tcp.analysis.{flag}" in fv) == bool(ref[f"tcp.analysis.{flag}"]), (meta.number, flag)
        checked += 1
    assert checked > 0


def test_context_changes_labels() -> None:
    data, lt, meta = frames("testmyids.pcap")[3]
    ref = reference_frames("testmyids.pcap")[3]
    layers = dissect(data, lt, meta, tcp_context=context_from_reference(ref))
    tcp = next(lay for lay in layers if lay["name"] == "tcp")
    assert tcp["label"] == "Transmission Control Protocol, Src Port: 54162, Dst Port: 80, Seq: 1, Ack: 1, Len: 76"
    labels = [c["label"] for c in tcp["children"]]
    assert "Sequence Number: 1    (relative sequence number)" in labels
    assert "Sequence Number (raw): 4239578155" in labels
    assert "[Next Sequence Number: 77    (relative sequence number)]" in labels
    assert "Acknowledgment Number: 1    (relative ack number)" in labels
    assert "[Stream index: 0]" in labels


def test_analysis_subtree_and_keep_alive() -> None:
    """A keep-alive byte is shown as data; a retransmission is not dissected again (as tshark)."""
    name = "many-protocols.pcap"
    refs = reference_frames(name)
    data, lt, meta = frames(name)[211]  # frame 212: keep-alive
    layers = dissect(data, lt, meta, tcp_context=context_from_reference(refs[211]))
    fv = field_values(layers)
    assert fv["frame.protocols"] == ["eth:ethertype:ip:tcp:data"] == [refs[211]["frame.protocols"]]
    assert "TCP keep-alive segment" in fv["_ws.expert.message"]
    tcp = next(lay for lay in layers if lay["name"] == "tcp")
    seq_ack = next(c for c in tcp["children"] if c["name"] == "tcp.analysis")
    assert seq_ack["label"] == "[SEQ/ACK analysis]"
    name = "wireshark-retrans.pcap"
    refs = reference_frames(name)
    data, lt, meta = frames(name)[21]  # frame 22: fast retransmission of an HTTP request segment
    fv = field_values(dissect(data, lt, meta, tcp_context=context_from_reference(refs[21])))
    assert fv["frame.protocols"] == [refs[21]["frame.protocols"]] == ["eth:ethertype:ip:tcp"]
    assert {"tcp.analysis.retransmission", "tcp.analysis.fast_retransmission"} <= set(fv)


def _payload(name: str, number: int) -> bytes:
    return dissected(name)[number - 1][1]["tcp.payload"][0]


@pytest.mark.parametrize("name,parts", [
    ("http_large_req_8001.pcap", [4, 5]),     # request split over two segments
    ("http_large_req_8001.pcap", [8, 9]),     # HTTP/1.0 response ending with the connection
    ("test_ethernet.pcap", [6, 8]),           # 302 response in two segments
])
def test_reassembled_pdu_is_dissected_in_its_last_segment(name: str, parts: list[int]) -> None:
    refs = reference_frames(name)
    app = b""
    for i, number in enumerate(parts):
        data, lt, meta = frames(name)[number - 1]
        app += _payload(name, number)
        last = i == len(parts) - 1
        tc = context_from_reference(refs[number - 1])
        tc.update({"app_data": app} if last else {"reassembled_pdu": True})
        layers = dissect(data, lt, meta, tcp_context=tc)
        fv = field_values(layers)
        assert fv["frame.protocols"] == [refs[number - 1]["frame.protocols"]], number
        for f in ("http.request.method", "http.request.uri", "http.host", "http.response.code"):
            want = refs[number - 1][f]
            assert (f in fv) == (want is not None), (number, f)
            if want is not None:
                assert same(f, want, fv[f][0])
        for lay in layers:
            stack = [lay]
            while stack:
                n = stack.pop()
                if n["offset"] is not None:
                    assert 0 <= n["offset"] and n["offset"] + n["length"] <= len(data)
                stack.extend(n["children"])
