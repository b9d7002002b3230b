"""The event stream of a running server: resuming, slow clients, per-client filters, uploads."""
from __future__ import annotations

import re
import socket
import time
from urllib.parse import quote

from tests.live.helpers import SSEClient, ping_server


class UdpTraffic:
    """Datagrams to ports bound on 127.0.0.1 (bound, so no ICMP errors join the capture)."""

    def __init__(self, count: int = 1) -> None:
        self.sinks = []
        for _ in range(count):
            sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sink.bind(("127.0.0.1", 0))
            self.sinks.append(sink)
        self.ports = [s.getsockname()[1] for s in self.sinks]
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, count: int, port: int | None = None, pace: int = 0) -> None:
        target = ("127.0.0.1", port or self.ports[0])
        for i in range(count):
            self.sender.sendto(b"datagram %d" % i, target)
            if pace and i % pace == pace - 1:
                time.sleep(0.002)  # the loopback flood must not overrun the sink's buffer

    def close(self) -> None:
        for s in self.sinks:
            s.close()
        self.sender.close()


def _numbers(rows: list[dict]) -> list[int]:
    return [r["number"] for r in rows]


def test_reconnect_with_last_event_id_resumes_without_gap_or_duplicate(server):
    udp = UdpTraffic()
    try:
        capture = server.start_capture("lo", f"udp dst port {udp.ports[0]}")
        path = f"/api/captures/{capture['id']}/events"
        first = SSEClient(server.new_client(), path)
        udp.send(700)
        first.wait_for(lambda: len(first.rows()) >= 700)
        first.close()
        rows_events = first.named("rows")
        assert all(int(e.id) == e.json()[-1]["number"] for e in rows_events), "id = last frame number"
        assert all(len(e.json()) <= 500 for e in rows_events), "batched, at most 500 rows per event"
        last_id = rows_events[-1].id

        udp.send(300)  # while no client is connected
        second = SSEClient(server.new_client(), path, headers={"Last-Event-ID": last_id})
        second.wait_for(lambda: _numbers(second.rows())[-1:] == [1000])
        assert _numbers(first.rows()) + _numbers(second.rows()) == list(range(1, 1001))

        # Resuming from inside a batch, by query parameter (EventSource's first connection
        # cannot send headers).
        third = SSEClient(server.new_client(), path + "?last_event_id=123")
        third.wait_for(lambda: _numbers(third.rows())[-1:] == [1000])
        assert _numbers(third.rows()) == list(range(124, 1001))
        for stream in (second, third):
            stream.close()
        server.stop_capture(capture["id"])
    finally:
        udp.close()


def test_a_slow_client_gets_resync_and_slows_nobody(server):
    udp = UdpTraffic()
    total = 9000
    try:
        capture = server.start_capture("lo", f"udp dst port {udp.ports[0]}")
        path = f"/api/captures/{capture['id']}/events"
        fast = SSEClient(server.new_client(), path)
        # The slow client: a tiny receive buffer, and it reads nothing until the end. It takes
        # the HTML twin with a long filter (matching every packet): each row links to the page
        # with that filter, so rows are large and the megabytes the kernel buffers for its
        # connection fill quickly.
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        host, port = server.base_url.removeprefix("http://").split(":")
        slow.connect((host, int(port)))
        long_filter = quote(" && ".join(["udp"] * 120))
        slow.sendall(f"GET /captures/{capture['id']}/events?filter={long_filter} HTTP/1.1\r\n"
                     f"Host: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        time.sleep(0.3)

        started = time.monotonic()
        udp.send(total, pace=200)
        fast.wait_for(lambda: len(fast.rows()) >= total, timeout=30)
        elapsed = time.monotonic() - started
        assert _numbers(fast.rows()) == list(range(1, total + 1)), "the fast client lost nothing"
        assert not fast.named("resync")
        final = server.stop_capture(capture["id"])
        assert final["packets"] == total, "the capture kept up"
        assert not any("dropped" in w for w in final["warnings"])
        assert elapsed < 20

        slow.settimeout(30)
        events = _parse_sse(_read_chunked(slow))
        slow.close()
    finally:
        udp.close()
    names = [name for name, _, _ in events]
    assert "resync" in names, "the slow client was told to reload"
    assert names[-1] == "done"
    got = [row["number"] for name, data, _ in events if name == "rows" for row in _html_rows(data)]
    assert got == sorted(set(got)), "rows in order, none twice"
    assert len(got) < total, "rows were dropped for the slow client"
    # Rows are contiguous except right after a resync, which says where the stream carries on.
    expected, resync_after = 1, None
    for name, data, event_id in events:
        if name == "resync":
            resync_after = int(re.search(r'data-after="(\d+)"', data).group(1))
            assert event_id == str(resync_after) and resync_after >= expected - 1
        elif name == "rows":
            for row in _html_rows(data):
                if resync_after is None:
                    assert row["number"] == expected
                else:
                    assert row["number"] > resync_after
                    resync_after = None
                expected = row["number"] + 1


def test_each_client_gets_its_own_display_filter(server):
    udp = UdpTraffic(2)
    a, b = udp.ports
    try:
        capture = server.start_capture("lo", f"udp dst port {a} or udp dst port {b}")
        path = f"/api/captures/{capture['id']}/events"
        bad = server.client.get(path, params={"filter": "udp.dstport == "})
        assert bad.status_code == 400 and bad.json()["detail"]["position"] >= 0
        only_a = SSEClient(server.new_client(), path + f"?filter=udp.dstport+%3D%3D+{a}")
        everything = SSEClient(server.new_client(), path)
        for _ in range(5):
            udp.send(2, a)
            udp.send(1, b)
        everything.wait_for(lambda: len(everything.rows()) >= 15)
        only_a.wait_for(lambda: len(only_a.rows()) >= 10)
        server.stop_capture(capture["id"])
        only_a.wait_for(lambda: only_a.named("done"))
    finally:
        udp.close()
    to_a = [r["number"] for r in everything.rows() if r["info"].endswith(f"→ {a} Len=10")]
    assert len(everything.rows()) == 15 and len(to_a) == 10
    assert _numbers(only_a.rows()) == to_a


def test_html_twin_renders_escaped_packet_list_rows(server):
    ping = ping_server()
    port = ping.server_address[1]
    try:
        capture = server.start_capture("lo", f"tcp port {port}")
        stream = SSEClient(server.new_client(), f"/captures/{capture['id']}/events")
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b'GET /<b>x&y"z</b> HTTP/1.0\r\n\r\n')
            while conn.recv(4096):
                pass
        stream.wait_for(lambda: any("GET /" in e.data for e in stream.named("rows")))
        server.stop_capture(capture["id"])
        stream.wait_for(lambda: stream.named("done"))
    finally:
        ping.shutdown()
    html = "\n".join(e.data for e in stream.named("rows"))
    assert "<b>" not in html and "&lt;b&gt;x&amp;y&#34;z&lt;/b&gt;" in html
    rows = html.count("<tr ")
    assert rows >= 5 and html.count("</tr>") == rows
    for number in range(1, rows + 1):
        assert f'data-index="{number - 1}" data-number="{number}"' in html
    assert f'<a href="/captures/{capture["id"]}?packet=1"' in html
    assert stream.named("progress") and "packets" in stream.named("progress")[0].data


def test_idle_stream_sends_keep_alive_comments(server):
    udp = UdpTraffic()
    try:
        capture = server.start_capture("lo", f"udp dst port {udp.ports[0]}")
        stream = SSEClient(server.new_client(), f"/api/captures/{capture['id']}/events")
        stream.wait_for(lambda: ": keep-alive" in stream.comments, timeout=10)
        server.stop_capture(capture["id"])
    finally:
        udp.close()


def test_an_uploads_stream_delivers_rows_as_indexed_and_ends_with_done(server, corpus_dir):
    path = corpus_dir / "many-protocols.pcap"
    started = time.monotonic()
    with open(path, "rb") as f:
        upload = server.client.post("/api/captures", files={"file": (path.name, f)}).json()
    stream = SSEClient(server.new_client(), f"/api/captures/{upload['id']}/events")
    stream.wait_for(lambda: stream.named("rows"), timeout=10)
    first_rows = time.monotonic() - started
    stream.wait_for(lambda: stream.named("done"), timeout=60)
    stream.finished.wait(10)
    assert stream.finished.is_set(), "the stream ends after done"
    capture = server.client.get(f"/api/captures/{upload['id']}").json()
    assert capture["status"] == "ready"
    assert _numbers(stream.rows()) == list(range(1, capture["packets"] + 1))
    assert stream.named("done")[-1].json() == {"status": "ready", "packets": capture["packets"]}
    assert stream.named("status")[-1].json()["status"] == "ready"
    assert first_rows < 3, f"first rows after {first_rows:.1f} s"


def _read_chunked(sock: socket.socket) -> bytes:
    """The body of an HTTP/1.1 chunked response read to its end from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    out = b""
    while True:
        while b"\r\n" not in body:
            body += sock.recv(65536)
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return out
        while len(body) < size + 2:
            more = sock.recv(65536)
            assert more, "connection closed inside a chunk"
            body += more
        out += body[:size]
        body = body[size + 2 :]


def _parse_sse(raw: bytes) -> list[tuple[str, str, str | None]]:
    events = []
    for block in raw.decode().split("\n\n"):
        name, data, event_id = "message", [], None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith("id: "):
                event_id = line[4:]
        if data:
            events.append((name, "\n".join(data), event_id))
    return events


def _html_rows(html: str) -> list[dict]:
    return [{"number": int(n)} for n in re.findall(r'<tr [^>]*data-number="(\d+)"', html)]
