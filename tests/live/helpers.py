"""What the live-capture tests share: a real server, a ping server, an SSE client, pcap reading.

The server is the real thing (``wirelens serve`` in a subprocess on a free port, or uvicorn on a
Unix socket inside a network namespace); the tests talk HTTP to it like any client would.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_root() -> None:
    """Live capture needs CAP_NET_RAW: without it these tests fail (they never skip)."""
    status = Path("/proc/self/status").read_text()
    caps = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    if not caps >> 13 & 1:
        pytest.fail("live capture tests need CAP_NET_RAW (run them as root, as the CI does)")


# -- the server under test ----------------------------------------------------------------------

class Server:
    """``wirelens serve`` in a subprocess; ``client`` speaks to it over TCP (or a Unix socket)."""

    def __init__(self, argv: list[str], env: dict, base_url: str, log: Path, uds: str | None = None) -> None:
        self.base_url = base_url
        self.uds = uds
        # The server's output goes to a file (a pipe nobody reads could fill and stall it).
        self.log = log
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT, text=True)
        self.client = self.new_client()
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {self.output()[-2000:]}")
            time.sleep(0.1)

    def new_client(self, timeout: float = 30) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=self.uds) if self.uds else None
        return httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> bool:
        """Ctrl-C the server; True when it ended by itself (open event streams included)."""
        graceful = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                graceful = False
                self.process.kill()
                self.process.wait()
        self.client.close()
        return graceful and self.process.returncode == 0

    # -- API shortcuts ------------------------------------------------------------------------

    def start_capture(self, interface: str, capture_filter: str | None = None) -> dict:
        r = self.client.post("/api/captures/live", json={"interface": interface, "capture_filter": capture_filter})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "capturing"
        return r.json()

    def stop_capture(self, capture_id: str) -> dict:
        r = self.client.post(f"/api/captures/{capture_id}/stop")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ready", r.json()
        return r.json()

    def download(self, capture_id: str) -> bytes:
        r = self.client.get(f"/api/captures/{capture_id}/download")
        assert r.status_code == 200, r.text
        return r.content


def serve_tcp(data_dir: Path, **env_extra: str) -> Server:
    port = free_port()
    env = {**os.environ, "WIRELENS_LIVE_CAPTURE": "1", **env_extra}
    argv = [PYTHON, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir)]
    return Server(argv, env, f"http://127.0.0.1:{port}", log=Path(data_dir).parent / "server.log")


# -- a server to capture ------------------------------------------------------------------------

class PingHandler(BaseHTTPRequestHandler):
    """GET /ping -> pong over HTTP/1.0: one request per connection, closed by the server."""

    def do_GET(self) -> None:  # noqa: N802
        body = b"pong" if self.path == "/ping" else b"not found"
        self.send_response(200 if self.path == "/ping" else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def ping_server(host: str = "127.0.0.1", port: int = 0) -> HTTPServer:
    """A ping server answering in a background thread; ``shutdown()`` it when done."""
    server = HTTPServer((host, port), PingHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


# -- an SSE client ------------------------------------------------------------------------------

@dataclass
class Event:
    name: str
    data: str
    id: str | None = None

    def json(self):
        return json.loads(self.data)


@dataclass
class SSEClient:
    """Reads a server-sent-event stream in a thread; ``events`` fills as they arrive."""

    client: httpx.Client
    path: str
    headers: dict = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    response_headers: dict = field(default_factory=dict)
    status: int | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._connected.wait(15), "the event stream did not open"
        assert self.status == 200, f"event stream answered {self.status}"

    def _run(self) -> None:
        try:
            with self.client.stream("GET", self.path, headers=self.headers, timeout=None) as response:
                self.status = response.status_code
                self.response_headers = dict(response.headers)
                self._connected.set()
                name, data, event_id = "message", [], None
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if data:
                            self.events.append(Event(name, "\n".join(data), event_id))
                        name, data, event_id = "message", [], None
                    elif line.startswith(":"):
                        self.comments.append(line)
                    else:
                        key, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if key == "event":
                            name = value
                        elif key == "data":
                            data.append(value)
                        elif key == "id":
                            event_id = value
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            if not self._stop.is_set():
                self.error = exc
        finally:
            self._connected.set()
            self.finished.set()

    def named(self, name: str) -> list[Event]:
        return [e for e in list(self.events) if e.name == name]

    def rows(self) -> list[dict]:
        return [row for e in self.named("rows") for row in e.json()]

    def wait_for(self, predicate, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.error is not None:
                raise AssertionError(f"the event stream failed: {self.error!r}")
            if time.monotonic() > deadline:
                tail = [(e.name, e.data[:200]) for e in self.events if e.name != "rows"]
                raise AssertionError(f"timed out waiting on the event stream; got {tail[-8:]}")
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()


# -- reading what was captured ------------------------------------------------------------------

def read_pcap(data: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """(link type, [(wire length, frame bytes), ...]) of a pcap file."""
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    frames, pos = [], 24
    while pos + 16 <= len(data):
        _sec, _frac, incl, orig = struct.unpack(endian + "IIII", data[pos : pos + 16])
        frames.append((orig, data[pos + 16 : pos + 16 + incl]))
        pos += 16 + incl
    return linktype, frames


@dataclass
class Segment:
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes

    @property
    def names(self) -> set[str]:
        bits = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16}
        return {name for name, bit in bits.items() if self.flags & bit}


def tcp_segments(linktype: int, frames: list[tuple[int, bytes]]) -> list[Segment]:
    """The IPv4 TCP segments of Ethernet (1) or Linux cooked v2 (276) frames."""
    out = []
    for _wire, frame in frames:
        if linktype == 1:
            ethertype, ip = struct.unpack(">H", frame[12:14])[0], frame[14:]
        elif linktype == 276:
            ethertype, ip = struct.unpack(">H", frame[0:2])[0], frame[20:]
        else:
            raise AssertionError(f"unexpected link type {linktype}")
        assert ethertype == 0x0800, f"not IPv4: {ethertype:#x}"
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        assert ip[9] == 6, "not TCP"
        tcp = ip[ihl:total]
        offset = (tcp[12] >> 4) * 4
        out.append(Segment(
            src=socket.inet_ntoa(ip[12:16]), dst=socket.inet_ntoa(ip[16:20]),
            sport=struct.unpack(">H", tcp[0:2])[0], dport=struct.unpack(">H", tcp[2:4])[0],
            seq=struct.unpack(">I", tcp[4:8])[0], ack=struct.unpack(">I", tcp[8:12])[0],
            flags=tcp[13], payload=tcp[offset:],
        ))
    return out


def check_one_exchange(segments: list[Segment], server_port: int) -> None:
    """One HTTP exchange, each packet once: handshake, request, response, both FINs."""
    keys = [(s.src, s.sport, s.seq, s.ack, s.flags, s.payload) for s in segments]
    assert len(keys) == len(set(keys)), "a packet appears twice"
    syn = [s for s in segments if s.names & {"SYN", "ACK"} == {"SYN"}]
    syn_ack = [s for s in segments if {"SYN", "ACK"} <= s.names]
    assert len(syn) == 1 and syn[0].dport == server_port
    assert len(syn_ack) == 1 and syn_ack[0].sport == server_port
    requests = [s for s in segments if s.payload.startswith(b"GET /ping ")]
    assert len(requests) == 1 and requests[0].dport == server_port
    response = b"".join(s.payload for s in segments if s.sport == server_port)
    assert response.startswith(b"HTTP/1.0 200") and response.endswith(b"pong")
    fins = [s for s in segments if "FIN" in s.names]
    assert sorted(s.sport == server_port for s in fins) == [False, True], "one FIN from each side"
    assert not [s for s in segments if "RST" in s.names]
    last_fin = max(segments.index(f) for f in fins)
    assert segments[-1].names == {"ACK"} and len(segments) == last_fin + 2, "the teardown ends with an ACK"
