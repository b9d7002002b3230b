"""Live captures that end by themselves: at the duration limit and at the packet limit."""
from __future__ import annotations

import socket
import time

from app.core.capture import Captures
from app.core.library import Library
from app.live.manager import LiveCaptures
from app.settings import Settings
from tests.live.helpers import require_root


def _live(tmp_path, **limits) -> LiveCaptures:
    settings = Settings(data_dir=tmp_path / "data", **limits)
    library = Library(settings.data_dir, max_packets=settings.max_packets)
    return LiveCaptures(Captures(library), settings)


def _wait_finished(live: LiveCaptures, capture_id: str, timeout: float = 20) -> None:
    session = live.session(capture_id)
    assert session.finished.wait(timeout), "the capture did not end by itself"


def test_a_capture_stops_at_its_duration_limit(tmp_path):
    require_root()
    live = _live(tmp_path, live_max_seconds=1)
    record = live.start("lo", "udp dst port 9")
    started = time.monotonic()
    _wait_finished(live, record.id)
    assert 0.9 < time.monotonic() - started < 10
    final = live.library.get(record.id)
    assert final.status == "ready"
    assert "The capture stopped at the duration limit of 1 s." in final.warnings
    live.shutdown()


def test_a_capture_stops_at_the_packet_limit(tmp_path):
    require_root()
    live = _live(tmp_path, max_packets=100)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        record = live.start("lo", f"udp dst port {port}")
        session = live.session(record.id)
        deadline = time.monotonic() + 20
        while not session.finished.is_set() and time.monotonic() < deadline:
            for _ in range(50):
                sender.sendto(b"x", ("127.0.0.1", port))
            time.sleep(0.05)
        _wait_finished(live, record.id)
    finally:
        sink.close()
        sender.close()
    final = live.library.get(record.id)
    assert final.status == "ready" and final.packets == 100
    assert any("the most this server indexes" in w for w in final.warnings)
    live.shutdown()
