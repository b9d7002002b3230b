"""The walkthrough's capture, in the compose setup rebuilt with a network namespace.

One namespace holds what the ``offline`` profile runs: the ping server and Wirelens, both started
with compose's commands as the image's user (Wirelens captures through the interpreter's file
capability). A request comes from outside (the root namespace, through the veth pair, as the host
reaches a published port). The live capture on the namespace's end of the pair must hold the
3-way handshake of exactly that connection: SYN with the client's ISN, SYN-ACK with the server's
ISN and ACK = client ISN + 1, ACK = server ISN + 1; and the flows, the ladder and tshark reading
the same file must agree.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.netns.conftest import compose_caps
from tests.netns.dockerfile import compose_config
from tests.netns.namespaces import namespace, wait_http
from tests.netns.test_image import service_env, swap_data


def api(base: str, path: str, body: dict | None = None, timeout: float = 60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def curl_like(address: str, port: int) -> tuple[int, bytes]:
    """``curl http://ADDRESS:PORT/ping``: one connection, the request, the response, the client
    closes. Returns the client's port and the response."""
    with socket.create_connection((address, port), timeout=10) as s:
        client_port = s.getsockname()[1]
        s.sendall(f"GET /ping HTTP/1.1\r\nHost: {address}:{port}\r\nUser-Agent: curl/7.88.1\r\n"
                  "Accept: */*\r\n\r\n".encode())
        response = b""
        while not (b"\r\n\r\n" in response and response.endswith(b"pong")):
            chunk = s.recv(4096)
            if not chunk:
                break
            response += chunk
    return client_port, response


def fields(layers: list[dict]) -> dict:
    """First value of every named node of a packet's protocol tree."""
    found: dict = {}
    stack = list(reversed(layers))
    while stack:
        node = stack.pop()
        found.setdefault(node["name"], node.get("value"))
        stack.extend(reversed(node.get("children") or []))
    return found


def test_handshake_from_outside_is_captured_inside_the_shared_namespace(image, workdir):
    if shutil.which("tshark") is None:
        pytest.fail("tshark is missing (tests/run.sh installs it)")
    services = compose_config("offline")["services"]
    data = image.data_dir(workdir)
    with namespace("wlh") as ns:
        saved = image.env
        try:
            image.env = service_env(image, "ping-offline")
            server = ns.exec(*image.as_user(services["ping-offline"]["command"], compose_caps("ping-offline")),
                             log=workdir / "ping.log", cwd=data)
            image.env = service_env(image, "wirelens-offline")
            viewer = ns.exec(*image.as_user(swap_data(services["wirelens-offline"]["command"], data),
                                            compose_caps("wirelens-offline")),
                             log=workdir / "server.log", cwd=data)
        finally:
            image.env = saved
        base = f"http://{ns.address}:8000"
        wait_http(f"http://{ns.address}:8080/ping", server, workdir / "ping.log")
        wait_http(f"{base}/api/health", viewer, workdir / "server.log")

        # Inside the namespace Wirelens sees lo and its end of the pair (a container's eth0), and
        # may capture although it is not root.
        status, interfaces = api(base, "/api/interfaces")
        assert status == 200, interfaces
        names = {i["name"] for i in interfaces["interfaces"]}
        assert {"lo", ns.inner} <= names and ns.outer not in names
        assert interfaces["can_capture"] is True, interfaces.get("message")

        status, capture = api(base, "/api/captures/live",
                              {"interface": ns.inner, "capture_filter": "tcp port 8080", "name": "handshake"})
        assert status == 201, capture
        assert capture["status"] == "capturing"
        client_port, response = curl_like(ns.address, 8080)
        assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b"\r\n\r\npong")
        time.sleep(0.5)  # the server's FIN and the last ACK
        status, capture = api(base, f"/api/captures/{capture['id']}/stop", {})
        assert status == 200 and capture["status"] == "ready", capture
        cid = capture["id"]

        status, page = api(base, f"/api/captures/{cid}/packets?filter=tcp.port%3D%3D8080&limit=100")
        assert status == 200, page
        rows = page["packets"]
        assert page["matched"] == page["total"] >= 9  # handshake, request, response, teardown
        syn, syn_ack, ack = (fields(api(base, f"/api/captures/{cid}/packets/{r['number']}")[1]["layers"])
                             for r in rows[:3])

        # SYN: from the client's port, carries the client's ISN.
        assert (syn["tcp.srcport"], syn["tcp.dstport"]) == (client_port, 8080)
        assert syn["tcp.flags.syn"] and not syn["tcp.flags.ack"]
        client_isn = syn["tcp.seq_raw"]
        client_next = (client_isn + 1) % 2**32  # sequence numbers wrap around
        # SYN-ACK: the server's ISN, and ACK = client ISN + 1 (the SYN consumed one number).
        assert (syn_ack["tcp.srcport"], syn_ack["tcp.dstport"]) == (8080, client_port)
        assert syn_ack["tcp.flags.syn"] and syn_ack["tcp.flags.ack"]
        server_isn = syn_ack["tcp.seq_raw"]
        server_next = (server_isn + 1) % 2**32
        assert syn_ack["tcp.ack_raw"] == client_next
        # ACK: ACK = server ISN + 1, seq = client ISN + 1; relative numbers both 1.
        assert ack["tcp.srcport"] == client_port and not ack["tcp.flags.syn"] and ack["tcp.flags.ack"]
        assert ack["tcp.ack_raw"] == server_next
        assert ack["tcp.seq_raw"] == client_next
        assert (syn["tcp.seq"], syn_ack["tcp.ack"], ack["tcp.seq"], ack["tcp.ack"]) == (0, 1, 1, 1)
        assert "[SYN]" in rows[0]["info"] and "[SYN, ACK]" in rows[1]["info"] and "[ACK]" in rows[2]["info"]
        assert rows[0]["source"] == ns.peer_address and rows[0]["destination"] == ns.address
        infos = " | ".join(r["info"] for r in rows)
        assert "GET /ping HTTP/1.1" in infos and "HTTP/1.1 200 OK" in infos
        assert sum("[SYN]" in r["info"] for r in rows) == 1  # each packet once

        # The flow and its ladder say the same.
        status, flows = api(base, f"/api/flows?capture={cid}&protocol=tcp")
        assert status == 200 and len(flows["flows"]) == 1, flows
        flow = flows["flows"][0]
        assert flow["a"] == {"address": ns.peer_address, "port": client_port}
        assert flow["b"] == {"address": ns.address, "port": 8080}
        shake = flow["handshake"]
        assert (shake["syn"], shake["syn_ack"], shake["ack"]) == tuple(r["number"] for r in rows[:3])
        assert (shake["client_isn"], shake["server_isn"]) == (client_isn, server_isn)
        status, ladder = api(base, f"/api/flows/{flow['id']}/ladder")
        assert status == 200, ladder
        first = ladder["events"][:3]
        assert [e["flags"] for e in first] == [["SYN"], ["SYN", "ACK"], ["ACK"]]
        assert [e["direction"] for e in first] == ["a>b", "b>a", "a>b"]
        assert first[1]["ack_raw"] == client_next and first[2]["ack_raw"] == server_next
        assert (first[2]["state_a"], first[2]["state_b"]) == ("ESTABLISHED", "ESTABLISHED")
        assert str(server_next) in first[2]["explain"]

        # tshark reads the file Wirelens wrote and finds the same handshake.
        with urllib.request.urlopen(f"{base}/api/captures/{cid}/download", timeout=30) as r:
            (workdir / "handshake.pcap").write_bytes(r.read())
        out = subprocess.run(["tshark", "-r", str(workdir / "handshake.pcap"), "-T", "fields",
                              "-e", "tcp.flags", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = [line.split("\t") for line in out.stdout.splitlines()]
        assert len(lines) == len(rows)
        assert lines[0] == ["0x0002", str(client_isn), "0"]
        assert lines[1] == ["0x0012", str(server_isn), str(client_next)]
        assert lines[2] == ["0x0010", str(client_next), str(server_next)]
