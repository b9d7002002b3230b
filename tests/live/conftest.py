"""A real Wirelens server for the live-capture tests (one per session: it takes seconds to start)."""
from __future__ import annotations

import sqlite3
import subprocess
import time

import pytest

from tests.live.helpers import Server, SSEClient, require_root, serve_tcp


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    require_root()
    data_dir = tmp_path_factory.mktemp("live") / "data"
    # A small queue and a short keep-alive so the slow-client and idle-stream tests stay quick.
    srv = serve_tcp(data_dir, WIRELENS_SSE_QUEUE_ROWS="3000", WIRELENS_SSE_KEEPALIVE="1")
    yield srv
    # Ctrl-C with a capture running and a client on its event stream: the server ends the
    # stream, stops the capture, indexes it, and exits by itself.
    running = srv.start_capture("lo", "udp dst port 9")
    stream = SSEClient(srv.new_client(), f"/api/captures/{running['id']}/events")
    started = time.monotonic()
    assert srv.stop(), f"the server did not shut down cleanly:\n{srv.output()[-3000:]}"
    assert time.monotonic() - started < 15
    stream.finished.wait(5)
    assert stream.finished.is_set(), "the event stream was ended"
    with sqlite3.connect(data_dir / "wirelens.db") as db:
        status = db.execute("SELECT status FROM captures WHERE id = ?", (running["id"],)).fetchone()[0]
    assert status == "ready", "the capture was stopped and indexed on the way out"
    # No capture process writing into its data dir remains (its command line names its file).
    left = subprocess.run(["pgrep", "-f", f"app.live.capturer.*{data_dir}"], capture_output=True, text=True)
    assert not left.stdout.strip(), f"capture processes outlived the server: {left.stdout}"
