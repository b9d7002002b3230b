"""A real Wirelens server in a subprocess (``python -m app.cli serve``), as users start it.

The tests that kill the server, fill its disk or measure its event loop need a real process with
a real socket; this starts one on a free port with its own data dir and environment, reads the
banner it prints (the ``Open ...?token=`` line), and stops or SIGKILLs it on request.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1", env: dict | None = None,
                 preexec_fn=None, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.env.pop("WIRELENS_TOKEN", None) if "WIRELENS_TOKEN" not in (env or {}) else None
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self.token: str | None = None

    def start(self, timeout: float = 30) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", self.host, "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env, preexec_fn=self.preexec_fn,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/api/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the server did not start:\n{self.output()}")
            time.sleep(0.05)
        match = re.search(r"[?&]token=([A-Za-z0-9_\-%]+)", self.output())
        self.token = match.group(1) if match else self.env.get("WIRELENS_TOKEN")
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 30) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={**self.headers(), **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method: str, path: str, **kw) -> tuple[int, dict]:
        status, _, body = self.request(method, path, **kw)
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            raise AssertionError(f"{method} {path}: {status} not JSON: {body[:300]!r}") from None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, exactly like a crash or the OOM killer."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def multipart(name: str, data: bytes, boundary: str = "wirelens-test-boundary") -> tuple[bytes, str]:
    """A multipart/form-data body with one ``file`` field; (body, content type)."""
    safe = name.replace("\\", "\\\\").replace('"', "%22")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode("utf-8")
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(server: Server, name: str, data: bytes, wait: bool = True, timeout: float = 120) -> dict:
    body, ctype = multipart(name, data)
    status, capture = server.json("POST", "/api/captures", body=body, headers={"Content-Type": ctype})
    assert status == 201, (status, capture)
    deadline = time.monotonic() + timeout
    while wait and capture["status"] == "indexing":
        assert time.monotonic() < deadline, f"indexing did not finish: {capture}"
        time.sleep(0.05)
        status, capture = server.json("GET", f"/api/captures/{capture['id']}")
    return capture


def post_while_reading(server: Server, path: str, body: bytes, headers: dict[str, str],
                       chunked: bool = False) -> tuple[int, dict]:
    """POST ``body`` from one thread while reading the answer in this one.

    A server refusing an upload answers before the body has arrived and then closes; reading
    only after sending everything (as urllib does) may find the connection reset instead.
    """
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: close",
             *(f"{k}: {v}" for k, v in {**server.headers(), **headers}.items())]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)

    def send() -> None:
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            for i in range(0, len(body), 16384):
                chunk = body[i : i + 16384]
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: its answer says why

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length and len(rest) >= int(length.group(1)):
                    break
    except OSError:
        pass
    finally:
        sock.close()
        sender.join(timeout=10)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head, "no answer at all"
    return int(head.split()[1]), json.loads(rest or b"null")
