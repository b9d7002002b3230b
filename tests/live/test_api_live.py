"""The live-capture routes' answers: interfaces, refusals with their reasons, privileges, switch-off."""
from __future__ import annotations

import socket
import subprocess
import time

from fastapi.testclient import TestClient

from app.live import privileges
from app.main import create_app
from app.settings import Settings


def test_interfaces_come_from_the_os(server):
    body = server.client.get("/api/interfaces").json()
    assert body["can_capture"] is True and body["message"] is None
    by_name = {i["name"]: i for i in body["interfaces"]}
    assert set(by_name) >= {"lo", "any"}
    lo = by_name["lo"]
    assert lo["loopback"] is True and lo["up"] is True and "127.0.0.1/8" in lo["addresses"]
    assert by_name["any"]["loopback"] is False
    # Every interface of this namespace is listed (the kernel's own list).
    assert {name for _, name in socket.if_nameindex()} <= set(by_name)


def test_unknown_interface_is_400_with_the_reason(server):
    r = server.client.post("/api/captures/live", json={"interface": "nosuch0"})
    assert r.status_code == 400
    assert r.json()["error"] == "There is no network interface called 'nosuch0'."
    assert "lo" in r.json()["detail"]["available"]
    r = server.client.post("/api/captures/live", json={"interface": "../../etc"})
    assert r.status_code == 400
    before = server.client.get("/api/captures").json()["captures"]
    assert not [c for c in before if c["status"] == "capturing"], "a refused capture leaves nothing"


def test_bad_capture_filter_is_400_with_libpcaps_reason(server):
    r = server.client.post("/api/captures/live", json={"interface": "lo", "capture_filter": "tcp port"})
    assert r.status_code == 400
    assert r.json()["detail"]["reason"] == "can't parse filter expression: syntax error"
    assert "syntax error" in r.json()["error"]
    r = server.client.post("/api/captures/live", json={"interface": "lo", "capture_filter": "tcp port 99999"})
    assert r.status_code == 400 and "illegal port number 99999" in r.json()["error"]
    # Compiled for the interface's link type: no Ethernet addresses on cooked ``any`` frames.
    r = server.client.post("/api/captures/live", json={"interface": "any", "capture_filter": "ether host 1:2:3:4:5:6"})
    assert r.status_code == 400 and "ethernet addresses supported only" in r.json()["error"]


def test_stop_answers_for_unknown_and_non_live_captures(server, corpus_dir):
    assert server.client.post("/api/captures/0123456789abcdef/stop").status_code == 404
    with open(corpus_dir / "dns_icmp.pcap", "rb") as f:
        upload = server.client.post("/api/captures", files={"file": ("dns_icmp.pcap", f)}).json()
    while upload["status"] == "indexing":
        time.sleep(0.05)
        upload = server.client.get(f"/api/captures/{upload['id']}").json()
    # Nothing is being captured: stopping changes nothing and answers the capture as it is.
    r = server.client.post(f"/api/captures/{upload['id']}/stop")
    assert r.status_code == 200 and r.json() == upload


def test_live_capture_switched_off_is_403_everywhere(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", live_capture=False)
    with TestClient(create_app(settings)) as client:
        for method, path, body in (("GET", "/api/interfaces", None),
                                   ("POST", "/api/captures/live", {"interface": "lo"}),
                                   ("POST", "/api/captures/0123456789abcdef/stop", None)):
            r = client.request(method, path, json=body)
            assert r.status_code == 403, path
            assert "switched off" in r.json()["error"] and "WIRELENS_LIVE_CAPTURE=0" in r.json()["error"]


def test_without_cap_net_raw_the_answer_says_what_to_grant(tmp_path, monkeypatch):
    status = tmp_path / "status"
    status.write_text("Name:\tpython3\nCapEff:\t0000000000001000\n")  # CAP_NET_ADMIN only
    state = privileges.check(status)
    assert state.can_capture is False
    assert "CAP_NET_RAW" in state.message and "setcap cap_net_raw,cap_net_admin=eip" in state.message
    assert "--cap-add=NET_RAW" in state.message
    status.write_text("Name:\tpython3\nCapEff:\t0000000000002000\n")  # bit 13: CAP_NET_RAW
    assert privileges.check(status).can_capture is True

    # Through the API: the interface list says it, and starting is refused with 403.
    refused = privileges.Privileges(False, "This process cannot capture packets. " + privileges.remedy())
    monkeypatch.setattr(privileges, "check", lambda *args: refused)
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        body = client.get("/api/interfaces").json()
        assert body["can_capture"] is False and "setcap" in body["message"]
        r = client.post("/api/captures/live", json={"interface": "lo"})
        assert r.status_code == 403 and "setcap" in r.json()["error"]
        assert client.get("/api/captures").json()["captures"] == []


def test_deleting_a_running_capture_stops_its_capture_process(server):
    capture = server.start_capture("lo", "udp dst port 9")
    pattern = f"app.live.capturer.*{capture['id']}"
    assert subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
    assert server.client.delete(f"/api/captures/{capture['id']}").status_code == 204
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the capture process outlived its capture"
        time.sleep(0.05)
    assert server.client.get(f"/api/captures/{capture['id']}").status_code == 404
    assert server.client.post(f"/api/captures/{capture['id']}/stop").status_code == 404
