"""Display filters through the API: the 400 shape with a position, check, completion, export."""
from __future__ import annotations

import subprocess

from tests.reference import CORPUS
from tests.web.conftest import upload


def test_bad_filter_is_400_with_the_position(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    r = client.get(f"/api/captures/{capture['id']}/packets", params={"filter": "tcp.port == 80)"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] and body["detail"]["position"] == 14
    assert body["detail"]["filter"] == "tcp.port == 80)"
    r = client.get(f"/api/captures/{capture['id']}/packets", params={"filter": "foo.bar==1"})
    assert r.status_code == 400 and r.json()["detail"]["position"] == 0
    assert "foo.bar" in r.json()["error"]


def test_filter_applies_to_the_packet_list(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    page = client.get(f"/api/captures/{capture['id']}/packets", params={"filter": "udp"}).json()
    assert page["total"] == 43 and page["matched"] == 2
    assert [p["number"] for p in page["packets"]] == [13, 17]
    assert page["filter"] == "udp"
    syn = client.get(f"/api/captures/{capture['id']}/packets",
                     params={"filter": "tcp.flags.syn==1 and tcp.flags.ack==0"}).json()
    assert [p["number"] for p in syn["packets"]] == [1]  # stream 1 starts mid-connection


def test_check_and_complete(client):
    ok = client.get("/api/filter/check", params={"filter": "tcp.port in {80, 443, 8000..8080}"}).json()
    assert ok["valid"] and not ok["warnings"]
    bad = client.get("/api/filter/check", params={"filter": "ip.src == 999.1.1.1"}).json()
    assert not bad["valid"] and bad["position"] == 10 and bad["error"]
    odd = client.get("/api/filter/check", params={"filter": "ip.addr != 10.0.0.1"}).json()
    assert odd["valid"] and odd["warnings"]
    names = [f["name"] for f in client.get("/api/filter/fields", params={"prefix": "tcp.fl"}).json()["fields"]]
    assert names[0] == "tcp.flags" and "tcp.flags.syn" in names


def test_export_specified_packets_reads_back_in_tshark(client, tmp_path):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    r = client.get(f"/api/captures/{capture['id']}/download", params={"filter": "tcp.stream == 1"})
    assert r.status_code == 200
    out = tmp_path / "stream1.pcap"
    out.write_bytes(r.content)
    shown = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.len"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(shown) == 7


def test_export_of_a_pcapng_keeps_comments(client, tmp_path):
    capture = upload(client, CORPUS / "epb.pcapng")
    r = client.get(f"/api/captures/{capture['id']}/download", params={"filter": "frame"})
    out = tmp_path / "all.pcapng"
    out.write_bytes(r.content)
    comments = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.comment"],
                              capture_output=True, text=True, check=True).stdout
    assert "this is a comment" in comments


def test_the_extraction_of_a_field_the_index_lacks_is_reported(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    url = f"/api/captures/{capture['id']}/extraction"
    assert client.get(url).json() == {"field": None, "done": 0, "total": 0, "running": False}
    page = client.get(f"/api/captures/{capture['id']}/packets",
                      params={"filter": 'http.user_agent contains "Mozilla"'}).json()
    assert page["matched"] >= 1
    after = client.get(url).json()
    assert after["field"] == "http.user_agent" and not after["running"]
    assert after["done"] == after["total"] >= page["matched"]
    assert client.get("/api/captures/0123456789abcdef/extraction").status_code == 404
