"""One place for every setting: data dir, limits, access token, live capture on/off.

Values come from keyword arguments (the command line) or ``WIRELENS_*`` environment variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else default


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("WIRELENS_DATA_DIR", "wirelens-data")))
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = field(default_factory=lambda: _env_int("WIRELENS_MAX_UPLOAD_BYTES", 4 << 30))
    max_filter_length: int = 4096
    page_size: int = 100
    max_page_size: int = 1000
    live_capture: bool = field(default_factory=lambda: os.environ.get("WIRELENS_LIVE_CAPTURE", "1") != "0")

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
