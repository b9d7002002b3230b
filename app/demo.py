"""A tiny ping server to capture: ``GET /ping`` answers ``pong``, like ``songkg7/rest-server``.

``wirelens demo-server --port 8080`` stands in for the REST server of the walkthrough when Docker
Hub is out of reach (the ``offline`` compose profile runs it) and gives the tests a server whose
traffic they can capture. It answers the way a Spring or Go ping endpoint does, so a capture of
``curl localhost:8080/ping`` reads the same: HTTP/1.1, ``Content-Type: text/plain;charset=UTF-8``,
``Content-Length: 4``, a ``Date`` and keep-alive headers, body ``pong``.

Only the standard library: the server must start in the slim image and in a bare network namespace.
"""
from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How long an idle keep-alive connection stays open: Tomcat's default, announced in Keep-Alive.
KEEP_ALIVE_SECONDS = 60
_NO_IPV6 = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT}


class PingHandler(BaseHTTPRequestHandler):
    """``/ping`` → ``pong``; anything else → 404 with a short text body."""

    protocol_version = "HTTP/1.1"  # persistent connections, as curl and the REST server speak
    timeout = KEEP_ALIVE_SECONDS
    # Buffered writes: the status line, headers and body leave in one TCP segment, as a Spring or Go
    # server sends them (http.server otherwise sends the headers and the body separately).
    # handle_one_request() flushes after every request.
    wbufsize = 64 * 1024
    quiet = False

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            status, body = 200, b"pong"
        else:
            status, body = 404, b"Not Found"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", f"timeout={KEEP_ALIVE_SECONDS}")
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def send_response(self, code: int, message: str | None = None) -> None:
        # http.server adds "Server: BaseHTTP/... Python/..."; the REST server sends no Server
        # header, so only the status line and Date go out here.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        if not self.quiet:
            sys.stderr.write(f"{self.client_address[0]} {format % args}\n")


def _server_class(family: int) -> type[ThreadingHTTPServer]:
    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

        def server_bind(self) -> None:
            if family == socket.AF_INET6:
                # "::" must not also take the IPv4 port: a separate IPv4 socket may want it.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            super().server_bind()

    return Server


def bind_addresses(host: str, port: int) -> list[tuple[int, str]]:
    """Every (family, address) ``host`` names, once each: ``localhost`` is 127.0.0.1 and ::1."""
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (family, str(sockaddr[0]))
        if key not in seen:
            seen.append(key)
    return seen


class DemoServer:
    """The ping server on every address of ``host`` (curl tries ::1 before 127.0.0.1 for localhost,
    so listening on both keeps a capture free of refused IPv6 attempts)."""

    def __init__(self, host: str = "localhost", port: int = 8080, quiet: bool = False) -> None:
        handler = type("Handler", (PingHandler,), {"quiet": quiet})
        self.servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        skipped: list[OSError] = []
        try:
            for family, address in bind_addresses(host, port):
                try:
                    server = _server_class(family)((address, port), handler)
                except OSError as exc:
                    error = OSError(exc.errno, f"cannot listen on {address} port {port}: {exc.strerror}")
                    # A machine without IPv6 still serves IPv4 localhost; any other failure (a port
                    # in use on ::1 among them) is real.
                    if family == socket.AF_INET6 and host == "localhost" and exc.errno in _NO_IPV6:
                        skipped.append(error)
                        continue
                    raise error from exc
                self.servers.append(server)
                port = server.server_address[1]  # port 0: every address gets the same free port
        except BaseException:
            self.close()
            raise
        if not self.servers:
            raise skipped[0] if skipped else OSError(f"{host} has no IPv4 or IPv6 address to listen on")
        self.port = port

    @property
    def addresses(self) -> list[str]:
        return [f"[{s.server_address[0]}]" if ":" in s.server_address[0] else s.server_address[0]
                for s in self.servers]

    def start(self) -> "DemoServer":
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        for server in self.servers:
            if self._threads:  # shutdown() waits for serve_forever, so only once it has started
                server.shutdown()
            server.server_close()

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def run(host: str, port: int, quiet: bool = False) -> None:
    """Serve until SIGINT or SIGTERM (``docker stop`` sends SIGTERM)."""
    server = DemoServer(host, port, quiet=quiet).start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    urls = ", ".join(f"http://{address}:{server.port}/ping" for address in server.addresses)
    print(f"Wirelens demo server answering pong at {urls}", flush=True)
    stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wirelens demo-server",
        description="A ping server to capture: GET /ping answers pong (like songkg7/rest-server).",
    )
    parser.add_argument("--host", default="localhost",
                        help="address to listen on (default localhost: both 127.0.0.1 and ::1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    try:
        run(args.host, args.port, quiet=args.quiet)
    except OSError as exc:
        print(f"wirelens demo-server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
