"""The ladder model, its SVG and Mermaid renderings, and follow-stream on corpus flows."""
from __future__ import annotations

import base64
import re

import pytest

from app.core.flows import FlowTable
from app.core.follow import follow
from app.core.index import build_index
from app.core.ladder import ladder
from app.core.ladder_render import mermaid, svg
from tests.reference import CORPUS, reference_frames


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """zip_descriptor.pcap: HTTP GET on localhost over BSD loopback (127.0.0.1 <-> 127.0.0.1)."""
    return build_index(CORPUS / "zip_descriptor.pcap", tmp_path_factory.mktemp("lb") / "idx")


def test_loopback_connection_has_two_lanes_keyed_by_port(loopback):
    table = FlowTable(loopback, "tcp")
    streams = [s for s in range(table.count)
               if table.flow("0" * 16, s)["a"]["address"] == table.flow("0" * 16, s)["b"]["address"]]
    assert streams, "the capture has a 127.0.0.1 <-> 127.0.0.1 connection"
    model = ladder(loopback, table, "0" * 16, streams[0])
    a, b = model["lanes"]
    assert a["address"] == b["address"] and a["port"] != b["port"]


def test_every_event_matches_tshark_numbers(loopback):
    table = FlowTable(loopback, "tcp")
    frames = reference_frames("zip_descriptor.pcap")
    for stream in range(table.count):
        for e in ladder(loopback, table, "0" * 16, stream)["events"]:
            ref = frames[e["number"] - 1]
            assert str(e["seq"]) == ref["tcp.seq"] and str(e["seq_raw"]) == ref["tcp.seq_raw"]
            if e["ack"] is not None:
                assert str(e["ack"]) == ref["tcp.ack"]


def test_svg_and_mermaid_escape_and_link(loopback):
    table = FlowTable(loopback, "tcp")
    model = ladder(loopback, table, "0" * 16, 0)
    model["events"][0]["explain"] = "<script>alert(1)</script>"
    doc = svg(model, link=lambda n: f"/captures/x?packet={n}&a=<b>")
    assert "<script>" not in doc and "&lt;script&gt;" in doc
    assert 'href="/captures/x?packet=1&amp;a=&lt;b&gt;"' in doc
    assert doc.count("<line class=\"arr") == len(model["events"])
    text = mermaid(model, raw=True)
    assert text.startswith("sequenceDiagram\n")
    assert len(re.findall(r"->>", text)) == len(model["events"])
    assert "Seq=" + str(model["events"][0]["seq_raw"]) in text


def test_follow_stream_of_the_loopback_get(loopback):
    table = FlowTable(loopback, "tcp")
    for stream in range(table.count):
        data = follow(loopback, "tcp", stream, bool(table.flow("0" * 16, stream).get("swapped")))
        sent = b"".join(base64.b64decode(s["data_base64"]) for s in data["segments"] if s["direction"] == "a>b")
        if sent:
            assert sent.startswith(b"GET ")
            return
    pytest.fail("no stream carried a request")
