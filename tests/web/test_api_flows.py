"""Flows, ladders and follow-stream through the JSON API."""
from __future__ import annotations

import base64

from tests.reference import CORPUS
from tests.web.conftest import upload


def test_flows_of_a_capture_and_of_the_library(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    other = upload(client, CORPUS / "test_dns.pcap")
    flows = client.get("/api/flows", params={"capture": capture["id"]}).json()["flows"]
    assert [(f["protocol"], f["stream"]) for f in flows] == [("tcp", 0), ("tcp", 1), ("udp", 0)]
    tcp0 = flows[0]
    assert tcp0["a"] == {"address": "145.254.160.237", "port": 3372}
    assert tcp0["packets"] == 34 and tcp0["bytes"] == 1351 + 19344
    assert tcp0["handshake"]["client_isn"] == 951057939
    # The server closed first (frame 40), so it waits in TIME-WAIT; the client ends CLOSED.
    assert tcp0["state"] == {"a": "CLOSED", "b": "TIME-WAIT"}
    udp = client.get("/api/flows", params={"capture": capture["id"], "protocol": "udp"}).json()["flows"]
    assert len(udp) == 1 and udp[0]["b"]["port"] == 53
    only = client.get("/api/flows", params={"capture": capture["id"], "filter": "dns"}).json()["flows"]
    assert [f["id"] for f in only] == [f"{capture['id']}-udp-0"]
    everything = client.get("/api/flows").json()
    assert {f["capture"] for f in everything["flows"]} == {capture["id"], other["id"]}
    one = client.get(f"/api/flows/{tcp0['id']}").json()
    assert one == tcp0


def test_ladder_shows_the_handshake(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    model = client.get(f"/api/flows/{capture['id']}-tcp-0/ladder").json()
    assert len(model["lanes"]) == 2 and model["total_events"] == 34
    syn, syn_ack, ack = model["events"][:3]
    assert syn["flags"] == ["SYN"] and syn["direction"] == "a>b" and syn["seq"] == 0
    assert syn_ack["flags"] == ["SYN", "ACK"] and syn_ack["direction"] == "b>a"
    assert syn_ack["ack_raw"] == syn["seq_raw"] + 1
    assert ack["ack_raw"] == syn_ack["seq_raw"] + 1
    assert ack["state_a"] == "ESTABLISHED" and ack["state_b"] == "ESTABLISHED"
    assert "951057939 + 1" in syn_ack["explain"]
    other = client.get(f"/api/flows/{capture['id']}-tcp-1/ladder").json()
    spurious = [e for e in other["events"] if "spurious_retransmission" in e["analysis"]]
    assert [e["number"] for e in spurious] == [36]
    assert "seq 1 was already sent in frame 26" in spurious[0]["explain"]


def test_follow_stream_reassembles_the_http_exchange(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    body = client.get(f"/api/flows/{capture['id']}-tcp-0/stream").json()
    request = b"".join(base64.b64decode(s["data_base64"]) for s in body["segments"] if s["direction"] == "a>b")
    response = b"".join(base64.b64decode(s["data_base64"]) for s in body["segments"] if s["direction"] == "b>a")
    assert request.startswith(b"GET /download.html HTTP/1.1\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(response) == 18364 and response.endswith(b"</html>\n")


def test_unknown_flows_are_404(client):
    assert client.get("/api/flows/0123456789abcdef-tcp-0").status_code == 404
    assert client.get("/api/flows/nonsense").status_code == 404
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    assert client.get(f"/api/flows/{capture['id']}-tcp-99/ladder").status_code == 404
