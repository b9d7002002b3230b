"""One place for every setting: data dir, limits, access token, live capture on/off.

Values come from keyword arguments (the command line) or ``WIRELENS_*`` environment variables.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else default


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("WIRELENS_DATA_DIR", "wirelens-data")))
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = field(default_factory=lambda: _env_int("WIRELENS_MAX_UPLOAD_BYTES", 4 << 30))
    max_filter_length: int = field(default_factory=lambda: _env_int("WIRELENS_MAX_FILTER_LENGTH", 4096))
    page_size: int = 100
    max_page_size: int = 1000
    live_capture: bool = field(default_factory=lambda: os.environ.get("WIRELENS_LIVE_CAPTURE", "1") != "0")
    # Live capture: captures running at once, and the kernel socket buffer of each (the size and
    # duration at which a capture stops are live_max_bytes / live_max_seconds below).
    live_max_captures: int = field(default_factory=lambda: _env_int("WIRELENS_LIVE_MAX_CAPTURES", 4))
    live_socket_buffer: int = field(default_factory=lambda: _env_int("WIRELENS_LIVE_SOCKET_BUFFER", 32 << 20))
    # Server-sent events: rows a subscriber may have queued before it is told to resync, and
    # seconds between keep-alive comments on an idle stream.
    sse_queue_rows: int = field(default_factory=lambda: _env_int("WIRELENS_SSE_QUEUE_ROWS", 10000))
    sse_keepalive_seconds: int = field(default_factory=lambda: _env_int("WIRELENS_SSE_KEEPALIVE", 15))
    # Access: "auto" asks for the token only when the server listens beyond this machine; "on"
    # always asks; "off" never does (e.g. inside a container whose port is published locally).
    auth: str = field(default_factory=lambda: os.environ.get("WIRELENS_AUTH", "auto").strip().lower())
    token: str | None = field(default_factory=lambda: os.environ.get("WIRELENS_TOKEN") or None)
    # Extra names the server may be reached by without a token (the Host header is checked so a
    # web page cannot reach a token-less local server through DNS rebinding).
    allowed_hosts: list[str] = field(default_factory=lambda: [
        h.strip() for h in os.environ.get("WIRELENS_ALLOWED_HOSTS", "").split(",") if h.strip()])
    # Wrong access tokens: this many from one client address within the window (seconds) make
    # that address wait out a window before its next attempt (429); 0 turns the limit off.
    login_max_failures: int = field(default_factory=lambda: _env_int("WIRELENS_LOGIN_MAX_FAILURES", 10))
    login_window_seconds: float = field(default_factory=lambda: _env_int("WIRELENS_LOGIN_WINDOW", 60))
    max_concurrent_uploads: int = field(default_factory=lambda: _env_int("WIRELENS_MAX_UPLOADS", 8))
    max_packets: int = field(default_factory=lambda: _env_int("WIRELENS_MAX_PACKETS", 20_000_000))
    live_max_bytes: int = field(default_factory=lambda: _env_int("WIRELENS_LIVE_MAX_BYTES", 1 << 30))
    live_max_seconds: int = field(default_factory=lambda: _env_int("WIRELENS_LIVE_MAX_SECONDS", 3600))

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.auth not in ("auto", "on", "off"):
            raise ValueError(f"WIRELENS_AUTH must be auto, on or off, not {self.auth!r}")

    @property
    def loopback_only(self) -> bool:
        """True when the server listens on this machine's loopback interface only."""
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def auth_required(self) -> bool:
        """Whether requests must carry the access token."""
        if self.auth == "off":
            return False
        return self.auth == "on" or self.token is not None or not self.loopback_only
