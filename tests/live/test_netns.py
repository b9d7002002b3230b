"""Capturing on a veth between two network namespaces, with the server inside one of them.

Namespace A holds the ping server and the Wirelens server (started with ``ip netns exec``, so
its capture process sees A's interfaces); namespace B holds the client. The two are joined by a
veth pair with 10.x addresses that exist only inside the namespaces. The test reaches the
Wirelens server through a Unix socket, which namespaces do not separate.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time

import pytest

from tests.live.helpers import (PYTHON, ROOT, Server, SSEClient, check_one_exchange, read_pcap,
                                require_root, tcp_segments)

PING_SERVER = """
import sys
from tests.live.helpers import ping_server
server = ping_server(sys.argv[1], int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.read()
"""
CLIENT = """
import sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/ping", timeout=10) as r:
    sys.stdout.write(r.read().decode())
"""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr}"


def test_capture_on_a_veth_between_namespaces(tmp_path):
    require_root()
    if shutil.which("ip") is None:
        pytest.fail("iproute2's `ip` is missing (tests/run.sh installs it)")
    tag = secrets.token_hex(3)
    ns_a, ns_b = f"wl-a-{tag}", f"wl-b-{tag}"
    veth_a, veth_b = f"wla{tag}", f"wlb{tag}"
    addr_a, addr_b, port = "10.231.77.1", "10.231.77.2", 8080
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WIRELENS_DATA_DIR": str(tmp_path / "data")}
    processes: list[subprocess.Popen] = []
    server = None
    try:
        _ip("netns", "add", ns_a)
        _ip("netns", "add", ns_b)
        _ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _ip("link", "set", veth_a, "netns", ns_a)
        _ip("link", "set", veth_b, "netns", ns_b)
        for ns, dev, addr in ((ns_a, veth_a, addr_a), (ns_b, veth_b, addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

        ping = subprocess.Popen(["ip", "netns", "exec", ns_a, PYTHON, "-c", PING_SERVER, addr_a, str(port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        processes.append(ping)
        assert ping.stdout.readline().strip() == "ready"

        sock = str(tmp_path / "wirelens.sock")
        server = Server(["ip", "netns", "exec", ns_a, PYTHON, "-m", "uvicorn", "--factory",
                         "app.main:create_app", "--uds", sock, "--log-level", "warning"],
                        env, "http://localhost", log=tmp_path / "server.log", uds=sock)
        names = [i["name"] for i in server.client.get("/api/interfaces").json()["interfaces"]]
        assert veth_a in names and veth_b not in names, "the server sees namespace A's interfaces"

        capture = server.start_capture(veth_a, f"tcp port {port}")
        stream = SSEClient(server.new_client(), f"/api/captures/{capture['id']}/events")
        client = subprocess.run(["ip", "netns", "exec", ns_b, PYTHON, "-c", CLIENT, addr_a, str(port)],
                                capture_output=True, text=True, timeout=30, env=env, cwd=ROOT)
        assert client.stdout == "pong", client.stderr
        stream.wait_for(lambda: sum("FIN" in r["info"] for r in stream.rows()) >= 2, timeout=15)
        time.sleep(0.5)  # the last ACK
        final = server.stop_capture(capture["id"])
        stream.wait_for(lambda: stream.named("done"), timeout=15)

        linktype, frames = read_pcap(server.download(capture["id"]))
        assert linktype == 1 and final["packets"] == len(frames)
        segments = tcp_segments(linktype, frames)
        check_one_exchange(segments, port)
        assert {(s.src, s.dst) for s in segments} == {(addr_a, addr_b), (addr_b, addr_a)}
        assert [r["number"] for r in stream.rows()] == list(range(1, len(frames) + 1))
        assert stream.rows()[0]["source"] == addr_b and "[SYN]" in stream.rows()[0]["info"]
        stream.close()
    finally:
        if server is not None:
            server.stop()
        for proc in processes:
            proc.kill()
            proc.wait()
        for ns in (ns_a, ns_b):  # deleting a namespace deletes its end of the veth pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert ns_a not in left and ns_b not in left
