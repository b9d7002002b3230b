"""Capturing real traffic through the API: loopback against tcpdump, and the ``any`` interface."""
from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

from tests.live.helpers import (SSEClient, check_one_exchange, ping_server, read_pcap,
                                tcp_segments)


def _tcpdump(interface: str, bpf: str, out) -> subprocess.Popen:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.fail("tcpdump is missing (tests/run.sh installs it)")
    proc = subprocess.Popen([tcpdump, "-i", interface, "-U", "-n", "-w", str(out), bpf],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # "tcpdump: listening on lo, ..." once the socket is bound
    assert "listening on" in line, line
    return proc


def _settled_count(path, quiet: float = 0.5, timeout: float = 10) -> int:
    """Packets in tcpdump's file once none has been added for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(read_pcap(path.read_bytes())[1]) if path.stat().st_size >= 24 else 0
        if now != count:
            count, since = now, time.monotonic()
        elif count and time.monotonic() - since >= quiet:
            return count
        time.sleep(0.05)
    raise AssertionError("tcpdump's capture did not settle")


def test_lo_capture_holds_one_http_exchange_once(server, tmp_path):
    """Every packet once on lo (no outgoing copies), identical to tcpdump's, streamed while it ran."""
    ping = ping_server()
    port = ping.server_address[1]
    reference = tmp_path / "tcpdump.pcap"
    dump = _tcpdump("lo", f"tcp port {port}", reference)
    try:
        capture = server.start_capture("lo", f"tcp port {port}")
        stream = SSEClient(server.new_client(), f"/api/captures/{capture['id']}/events")
        assert stream.response_headers["content-type"].startswith("text/event-stream")
        assert stream.response_headers["cache-control"] == "no-store"
        assert stream.response_headers["x-accel-buffering"] == "no"

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=10) as r:
            assert r.read() == b"pong"
        # The rows arrive while the capture runs: the whole exchange, handshake to last ACK.
        expected = _settled_count(reference)
        stream.wait_for(lambda: len(stream.rows()) >= expected, timeout=15)
        live_rows = stream.rows()
        final = server.stop_capture(capture["id"])
        stream.wait_for(lambda: stream.named("done"), timeout=15)
    finally:
        ping.shutdown()
        dump.terminate()
        dump.wait(timeout=10)

    linktype, frames = read_pcap(server.download(capture["id"]))
    assert linktype == 1
    check_one_exchange(tcp_segments(linktype, frames), port)
    # tcpdump (libpcap) saw exactly the same packets, byte for byte.
    ref_linktype, ref_frames = read_pcap(reference.read_bytes())
    assert ref_linktype == 1
    assert [f for _, f in frames] == [f for _, f in ref_frames]
    assert [w for w, _ in frames] == [w for w, _ in ref_frames]

    assert final["packets"] == len(frames)
    numbers = [r["number"] for r in stream.rows()]
    assert numbers == list(range(1, len(frames) + 1)), "each row once, in order"
    assert [r["number"] for r in live_rows] == list(range(1, len(live_rows) + 1))
    assert len(live_rows) == len(frames), "the rows were streamed while capturing, not after"
    infos = [r["info"] for r in stream.rows()]
    assert "[SYN]" in infos[0] and "[SYN, ACK]" in infos[1]
    assert sum("GET /ping" in i for i in infos) == 1
    assert stream.named("done")[-1].json() == {"status": "ready", "packets": len(frames)}
    assert [e.json()["status"] for e in stream.named("status")][-1] == "ready"

    # After the stop it is an ordinary capture: paged rows, packet details, display filters.
    page = server.client.get(f"/api/captures/{capture['id']}/packets", params={"limit": 100}).json()
    assert page["total"] == len(frames)
    # Protocol and Info may differ where the final index knows more than the growing one did
    # (a segment that turned out to be part of a reassembled PDU, the scaled window).
    columns = ("number", "source", "destination", "length")
    assert [[r[c] for c in columns] for r in page["packets"]] == [[r[c] for c in columns] for r in stream.rows()]
    matched = server.client.get(f"/api/captures/{capture['id']}/packets",
                                params={"filter": "tcp.flags.syn == 1"}).json()
    assert matched["matched"] == 2
    flows = server.client.get("/api/flows", params={"capture": capture["id"], "protocol": "tcp"}).json()["flows"]
    assert len(flows) == 1 and flows[0]["b"]["port"] == port and flows[0]["packets"] == len(frames)
    assert flows[0]["handshake"]["syn"] == 1 and flows[0]["handshake"]["syn_ack"] == 2
    tshark = shutil.which("tshark")
    assert tshark, "tshark is missing (tests/run.sh installs it)"
    path = tmp_path / "wirelens.pcap"
    path.write_bytes(server.download(capture["id"]))
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(n) for n in numbers]


def test_any_interface_writes_linux_cooked_v2(server):
    """``any`` gives SLL2 frames (link type 276); lo's packets still appear once each."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    try:
        capture = server.start_capture("any", f"udp dst port {port}")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(3):
            sender.sendto(b"cooked %d" % i, ("127.0.0.1", port))
        for i in range(3):
            assert sink.recvfrom(100)[0] == b"cooked %d" % i
        time.sleep(0.3)
        final = server.stop_capture(capture["id"])
    finally:
        sink.close()
    assert final["link_types"] == [276]
    linktype, frames = read_pcap(server.download(capture["id"]))
    assert linktype == 276
    assert len(frames) == 3
    lo_index = socket.if_nametoindex("lo")
    for i, (wire, frame) in enumerate(frames):
        protocol, _reserved, ifindex, hatype, pkttype, halen = struct.unpack(">HHIHBB", frame[:12])
        assert (protocol, ifindex, hatype, pkttype, halen) == (0x0800, lo_index, 772, 0, 6)
        assert frame.endswith(b"cooked %d" % i) and wire == len(frame)
    rows = server.client.get(f"/api/captures/{capture['id']}/packets").json()["packets"]
    assert [r["protocol"] for r in rows] == ["UDP"] * 3
    assert {r["source"] for r in rows} == {"127.0.0.1"}
    assert all(r["info"].endswith(f"→ {port} Len=8") for r in rows)
