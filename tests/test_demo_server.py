"""``wirelens demo-server``: the ping server that stands in for songkg7/rest-server.

What a capture of ``curl localhost:8080/ping`` shows must read like the REST server's: an
HTTP/1.1 response with ``Content-Type: text/plain;charset=UTF-8``, ``Content-Length: 4``, a Date
and keep-alive headers, no Server header, sent in one TCP segment, body ``pong``.
"""
from __future__ import annotations

import http.client
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.demo import DemoServer, bind_addresses

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server():
    with DemoServer("127.0.0.1", 0, quiet=True) as running:
        yield running


def test_ping_answers_pong_with_the_rest_servers_headers(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/ping", headers={"User-Agent": "curl/7.88.1", "Accept": "*/*"})
    response = connection.getresponse()
    assert (response.status, response.version, response.read()) == (200, 11, b"pong")
    headers = dict(response.getheaders())
    assert list(headers) == ["Date", "Content-Type", "Content-Length", "Keep-Alive", "Connection"]
    assert headers["Content-Type"] == "text/plain;charset=UTF-8"
    assert headers["Content-Length"] == "4"
    assert headers["Keep-Alive"] == "timeout=60" and headers["Connection"] == "keep-alive"
    assert headers["Date"].endswith(" GMT")
    # The connection stays open, as curl and the REST server expect of HTTP/1.1.
    connection.request("GET", "/ping?again=1")
    assert connection.getresponse().read() == b"pong"
    connection.close()


def test_head_other_paths_and_connection_close(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("HEAD", "/ping")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == "4" and response.read() == b""
    connection.request("GET", "/nothing-here", headers={"Connection": "close"})
    response = connection.getresponse()
    assert response.status == 404 and response.read() == b"Not Found"
    assert response.getheader("Content-Type") == "text/plain;charset=UTF-8"
    assert response.getheader("Connection") == "close"
    connection.close()


def test_the_response_leaves_in_one_segment(server, tmp_path):
    tcpdump = shutil.which("tcpdump")
    tshark = shutil.which("tshark")
    if not tcpdump or not tshark:
        pytest.fail("tcpdump and tshark are needed (tests/run.sh installs them)")
    pcap = tmp_path / "ping.pcap"
    capture = subprocess.Popen([tcpdump, "-i", "lo", "-U", "--immediate-mode", "-w", str(pcap), f"tcp port {server.port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in capture.stderr.readline()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n")
            data = b""
            while not data.endswith(b"pong"):
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
        time.sleep(0.3)
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
    out = subprocess.run([tshark, "-r", str(pcap), "-Y", f"tcp.srcport == {server.port} && tcp.len > 0",
                          "-T", "fields", "-e", "tcp.len"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(data))]  # status line, headers and body together


def test_localhost_listens_on_every_loopback_address_it_names():
    expected = bind_addresses("localhost", 0)
    assert expected and all(address in ("127.0.0.1", "::1") for _, address in expected)
    with DemoServer("localhost", 0, quiet=True) as running:
        listening = [s.server_address[0] for s in running.servers]
        assert set(listening) <= {a for _, a in expected} and "127.0.0.1" in listening
        for address in listening:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family) as s:
                s.settimeout(10)
                s.connect((address, running.port))
                s.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                assert s.recv(4096).endswith(b"\r\n\r\npong")


def test_command_line_serves_until_sigterm(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "demo-server", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/ping" in banner, proc.stderr.read() if proc.poll() is not None else banner
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/ping")
        assert connection.getresponse().read() == b"pong"
        connection.close()
        # The same port again: refused with the reason, exit status 1.
        second = subprocess.run([sys.executable, "-m", "app.cli", "demo-server", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1 and f"cannot listen on 127.0.0.1 port {port}" in second.stderr
        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
        assert proc.wait(timeout=10) == 0
        assert '"GET /ping HTTP/1.1" 200' in proc.stderr.read()  # one log line per request
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
