"""The command line with a real server process: `wirelens serve` and `wirelens -r FILE FILTER`."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.reference import CORPUS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} never printed; stderr: {proc.stderr.read()[-2000:]}")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_until_serving(port: int, timeout: float = 30) -> None:
    """The URL is printed just before the server starts listening: wait for it to answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            get_json(f"http://127.0.0.1:{port}/api/health")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_read_file_prints_the_url_that_opens_it(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "-r", str(CORPUS / "dpkt_http.pcap"), "tcp.port==80",
           "--port", str(port), "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_for_line(proc, "Open http://")
        url = line.split("Open ", 1)[1].strip()
        assert url.startswith(f"http://127.0.0.1:{port}/captures/")
        assert url.endswith("?filter=tcp.port%3D%3D80")
        capture_id = url.split("/captures/", 1)[1].split("?", 1)[0]
        wait_until_serving(port)
        for _ in range(200):
            capture = get_json(f"http://127.0.0.1:{port}/api/captures/{capture_id}")
            if capture["status"] != "indexing":
                break
            time.sleep(0.05)
        assert capture["status"] == "ready" and capture["packets"] == 43
        assert capture["name"] == "dpkt_http.pcap"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # The original file is untouched; the library holds its own copy.
    assert (CORPUS / "dpkt_http.pcap").exists()


def test_serve_uses_the_given_host_port_and_data_dir(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(tmp_path / "lib")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc, f"127.0.0.1:{port}")
        wait_until_serving(port)
        assert get_json(f"http://127.0.0.1:{port}/api/health")["status"] == "ok"
        assert (tmp_path / "lib" / "wirelens.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_read_refuses_a_text_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a capture")
    proc = subprocess.run([sys.executable, "-m", "app.cli", "-r", str(text), "--data-dir", str(tmp_path / "d")],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "not a capture file" in proc.stderr


def test_a_taken_port_is_reported_before_anything_is_added_or_captured(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        data = tmp_path / "d"
        for args in (["serve"], ["-r", str(CORPUS / "dpkt_http.pcap")],
                     ["-i", "lo", "-f", "tcp port 8080"]):
            cmd = [sys.executable, "-m", "app.cli", *args, "--port", port, "--data-dir", str(data)]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
            assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
            assert "Open http" not in proc.stdout
        captures = list((data / "captures").glob("*")) if (data / "captures").exists() else []
        assert captures == []
