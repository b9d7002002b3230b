"""The library through the JSON API: upload, list, open, download, delete, and bad input."""
from __future__ import annotations

import gzip
import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.core.capture import Captures
from app.main import create_app
from tests.reference import CORPUS
from tests.web.conftest import upload


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_upload_list_get_download_delete(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    assert capture["status"] == "ready"
    assert capture["packets"] == 43 and capture["format"] == "pcap" and capture["link_types"] == [1]
    assert not capture["truncated"]
    assert abs(capture["duration"] - 30.393704) < 1e-6
    listed = client.get("/api/captures").json()["captures"]
    assert [c["id"] for c in listed] == [capture["id"]]
    body = client.get(f"/api/captures/{capture['id']}/download").content
    assert body == (CORPUS / "dpkt_http.pcap").read_bytes()
    assert client.delete(f"/api/captures/{capture['id']}").status_code == 204
    assert client.get(f"/api/captures/{capture['id']}").status_code == 404
    assert client.get("/api/captures").json()["captures"] == []


def test_library_survives_a_restart(settings):
    with TestClient(create_app(settings)) as first:
        capture = upload(first, CORPUS / "epb.pcapng")
    with TestClient(create_app(settings)) as second:
        again = second.get(f"/api/captures/{capture['id']}").json()
        assert again["status"] == "ready" and again["packets"] == capture["packets"]
        page = second.get(f"/api/captures/{capture['id']}/packets").json()
        assert page["total"] == capture["packets"]


def test_gzip_upload_is_stored_as_sent_and_read_inflated(client, tmp_path):
    packed = tmp_path / "http.pcap.gz"
    packed.write_bytes(gzip.compress((CORPUS / "dpkt_http.pcap").read_bytes()))
    capture = upload(client, packed)
    assert capture["status"] == "ready" and capture["packets"] == 43
    assert client.get(f"/api/captures/{capture['id']}/download").content == packed.read_bytes()


def test_pcapng_keeps_comments_and_interfaces(client):
    capture = upload(client, CORPUS / "many_interfaces-1.pcapng")
    assert capture["format"] == "pcapng" and capture["status"] == "ready"
    assert set(capture["link_types"]) == {0, 1, 12}  # Ethernet, NULL and raw IP interfaces


def test_text_file_is_refused_and_nothing_is_added(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a capture\n" * 10)
    r = client.post("/api/captures", files={"file": ("notes.txt", text.read_bytes())})
    assert r.status_code == 400
    assert "not a capture file" in r.json()["error"]
    assert client.get("/api/captures").json()["captures"] == []


def test_empty_file_is_refused(client):
    r = client.post("/api/captures", files={"file": ("empty.pcap", b"")})
    assert r.status_code == 400 and "empty" in r.json()["error"]


def test_file_over_the_limit_is_413_and_nothing_is_added(client):
    big = b"\xd4\xc3\xb2\xa1" + b"\0" * (9 << 20)
    r = client.post("/api/captures", files={"file": ("big.pcap", big)})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert client.get("/api/captures").json()["captures"] == []


def test_cut_file_keeps_the_packets_before_the_cut(client, tmp_path):
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-30])
    capture = upload(client, cut)
    assert capture["status"] == "ready" and capture["packets"] == 42 and capture["truncated"]
    assert any("after packet 42" in w or "follow packet 42" in w for w in capture["warnings"])
    assert client.get(f"/api/captures/{capture['id']}/packets").json()["total"] == 42


def test_damaged_corpus_file_reads_like_tshark(client):
    capture = upload(client, CORPUS / "truncated_dns_2.pcap")
    assert capture["status"] == "ready" and capture["packets"] == 1 and capture["truncated"]


def test_unknown_link_type_warns(client, tmp_path):
    data = bytearray((CORPUS / "dpkt_http.pcap").read_bytes())
    data[20:24] = (147).to_bytes(4, "little")
    path = tmp_path / "user0.pcap"
    path.write_bytes(bytes(data))
    capture = upload(client, path)
    assert capture["status"] == "ready" and capture["packets"] == 43
    assert any("raw frames" in w for w in capture["warnings"])
    rows = client.get(f"/api/captures/{capture['id']}/packets?limit=2").json()["packets"]
    assert len(rows) == 2
    detail = client.get(f"/api/captures/{capture['id']}/packets/1").json()
    assert detail["layers"][0]["name"] == "frame"


def test_unknown_ids_are_404_in_the_error_shape(client):
    for path in ("/api/captures/0123456789abcdef", "/api/captures/..%2F..%2Fetc",
                 "/api/captures/0123456789abcdef/packets"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path


def test_odd_file_names_are_stored_as_text(client, tmp_path):
    capture = upload(client, CORPUS / "dpkt_http.pcap", name="../../<b>évil</b>\x00.pcap")
    assert "/" not in capture["name"] and "\x00" not in capture["name"]
    assert capture["name"].endswith(".pcap")


def test_packet_page_and_detail(client):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    page = client.get(f"/api/captures/{capture['id']}/packets?offset=40&limit=10").json()
    assert page["total"] == 43 and page["matched"] == 43 and len(page["packets"]) == 3
    assert [p["number"] for p in page["packets"]] == [41, 42, 43]
    detail = client.get(f"/api/captures/{capture['id']}/packets/1").json()
    assert detail["length"] == 62 and len(detail["bytes"]) == 124
    assert client.get(f"/api/captures/{capture['id']}/packets/44").status_code == 404
    assert client.get(f"/api/captures/{capture['id']}/packets?limit=-1").status_code == 422


def test_openapi_documents_every_json_route(client):
    schema = client.get("/openapi.json").json()
    api_routes = {r.path for r in client.app.routes if getattr(r, "path", "").startswith("/api/")}
    assert api_routes <= set(schema["paths"])


@pytest.fixture
def held(monkeypatch):
    """Indexing waits until the returned event is set (a big capture, as a script sees it)."""
    release = threading.Event()
    real = Captures.index

    def index(self, *args, **kwargs):
        release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Captures, "index", index)
    yield release
    release.set()


def test_waiting_for_a_capture_answers_when_it_is_ready(client, held):
    capture = upload(client, CORPUS / "dpkt_http.pcap", wait=False)
    url = f"/api/captures/{capture['id']}"
    assert client.get(url).json()["status"] == "indexing"
    assert client.get(url, params={"wait": 0.2}).json()["status"] == "indexing"  # timed out
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(client.get(url, params={"wait": 30})))
    started = time.monotonic()
    waiting.start()
    time.sleep(0.3)
    assert not answers  # still waiting: the capture is still being indexed
    held.set()
    waiting.join(60)
    assert time.monotonic() - started < 30  # answered when ready, not at the timeout
    assert answers[0].status_code == 200
    assert answers[0].json()["status"] == "ready" and answers[0].json()["packets"] == 43
    assert client.get(url, params={"wait": 30}).json()["status"] == "ready"  # at once, when ready


def test_waiting_for_a_failing_capture_answers_with_its_error(client, held, tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((CORPUS / "dpkt_http.pcap").read_bytes()[:30])  # no whole packet
    capture = upload(client, cut, wait=False)
    held.set()
    answer = client.get(f"/api/captures/{capture['id']}", params={"wait": 30}).json()
    assert answer["status"] == "error" and answer["error"]


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
def test_a_bad_wait_is_a_422_that_says_so(client, wait):
    capture = upload(client, CORPUS / "dpkt_http.pcap")
    r = client.get(f"/api/captures/{capture['id']}", params={"wait": wait})
    assert r.status_code == 422 and "wait" in r.text
