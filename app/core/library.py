"""The capture library: files stored byte-for-byte under the data dir, metadata in SQLite.

Layout of the data dir::

    wirelens.db              one row per capture (stdlib sqlite3)
    incoming/                uploads being received (never visible as captures)
    captures/<id>/original   the uploaded bytes, exactly as received
    captures/<id>/capture    the bytes the index reads (a copy inflated from gzip, else a link)
    captures/<id>/index/     the packet index (see ``index``)

Capture ids are generated here (hex) and checked before they are joined to a path, and an
uploaded file name is only ever stored as text, so neither can reach the filesystem.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

from app.core import pcapfile
from app.core.errors import CaptureFormatError, CaptureTooLarge, NotFound

ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    format TEXT NOT NULL,
    compressed INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    packets INTEGER NOT NULL DEFAULT 0,
    link_types TEXT NOT NULL DEFAULT '[]',
    first_epoch REAL,
    last_epoch REAL,
    truncated INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_epoch REAL NOT NULL
);
"""


@dataclass
class CaptureRecord:
    """One capture of the library as the API's ``Capture`` object describes it."""

    id: str
    name: str
    size_bytes: int
    format: str
    status: str
    progress: float = 0.0
    packets: int = 0
    link_types: list[int] = field(default_factory=list)
    first_epoch: float | None = None
    last_epoch: float | None = None
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    created_epoch: float = 0.0
    compressed: bool = False
    error: str | None = None

    @property
    def duration(self) -> float:
        if self.first_epoch is None or self.last_epoch is None:
            return 0.0
        return max(0.0, self.last_epoch - self.first_epoch)

    def as_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "size_bytes": self.size_bytes, "format": self.format,
            "link_types": self.link_types, "packets": self.packets,
            "first_epoch": self.first_epoch, "last_epoch": self.last_epoch,
            "duration": self.duration, "status": self.status, "progress": self.progress,
            "truncated": self.truncated, "warnings": self.warnings,
            "created_epoch": self.created_epoch, "error": self.error,
        }


def check_id(capture_id: str) -> str:
    """Refuse anything but an id this library could have made (no path can be smuggled in)."""
    if not isinstance(capture_id, str) or not ID_PATTERN.match(capture_id):
        raise NotFound(f"There is no capture with id {capture_id!r}.")
    return capture_id


def clean_name(name: str | None) -> str:
    """A display name for an uploaded file: text only, no control characters, bounded length."""
    name = (name or "capture").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:200].strip()
    return name or "capture"


class Library:
    """All captures under one data dir. Thread-safe: every call opens its own connection."""

    def __init__(self, data_dir: Path, max_upload_bytes: int = 2 << 30, max_packets: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.max_upload_bytes = max_upload_bytes
        self.max_packets = max_packets  # per capture; indexing stops there (see index.build_index)
        (self.data_dir / "captures").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "incoming").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)
        # Anything left in incoming/ is an upload that a crash interrupted: it never became a
        # capture, so it is simply dropped.
        for stale in (self.data_dir / "incoming").iterdir():
            if stale.is_dir():  # the columns spooled while an upload was read
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.data_dir / "wirelens.db", timeout=30)
        db.row_factory = sqlite3.Row
        return db

    # -- paths --------------------------------------------------------------------------------

    def folder(self, capture_id: str) -> Path:
        return self.data_dir / "captures" / check_id(capture_id)

    def original_path(self, capture_id: str) -> Path:
        return self.folder(capture_id) / "original"

    def capture_path(self, capture_id: str) -> Path:
        return self.folder(capture_id) / "capture"

    def index_dir(self, capture_id: str) -> Path:
        return self.folder(capture_id) / "index"

    # -- records ------------------------------------------------------------------------------

    def list(self) -> list[CaptureRecord]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM captures ORDER BY created_epoch DESC, id").fetchall()
        return [_record(r) for r in rows]

    def get(self, capture_id: str) -> CaptureRecord:
        check_id(capture_id)
        with self._db() as db:
            row = db.execute("SELECT * FROM captures WHERE id = ?", (capture_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no capture with id {capture_id!r}.")
        return _record(row)

    def update(self, capture_id: str, **values) -> None:
        for key in ("link_types", "warnings"):
            if key in values:
                values[key] = json.dumps(values[key])
        if "truncated" in values:
            values["truncated"] = int(bool(values["truncated"]))
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._lock, self._db() as db:
            db.execute(f"UPDATE captures SET {sets} WHERE id = ?", (*values.values(), capture_id))

    def delete(self, capture_id: str) -> None:
        self.get(capture_id)
        with self._lock, self._db() as db:
            db.execute("DELETE FROM captures WHERE id = ?", (capture_id,))
        shutil.rmtree(self.folder(capture_id), ignore_errors=True)

    # -- adding -------------------------------------------------------------------------------

    def incoming_file(self) -> tuple[Path, BinaryIO]:
        """A fresh file in incoming/ for an upload being received."""
        path = self.data_dir / "incoming" / uuid.uuid4().hex
        return path, open(path, "xb")

    def receive(self, chunks: Iterable[bytes], name: str) -> CaptureRecord:
        """Store an upload given as chunks of bytes (see ``add_file`` for the rest)."""
        path, out = self.incoming_file()
        size = 0
        try:
            with out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_upload_bytes:
                        raise CaptureTooLarge(
                            f"The upload is larger than the limit of {self.max_upload_bytes} bytes."
                        )
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return self.add_file(path, name)

    def add_file(self, incoming: Path, name: str, move: bool = True) -> CaptureRecord:
        """Make a capture of a received file; it is then ``indexing`` until ``index`` finishes.

        The file's first bytes are checked here so that a text file or an empty file is refused
        at once, with nothing added to the library.
        """
        try:
            with open(incoming, "rb") as f:
                head = f.read(64)
            kind = pcapfile.sniff_format(head)
            capture_id = uuid.uuid4().hex[:16]
            folder = self.folder(capture_id)
            folder.mkdir(parents=True)
            original = folder / "original"
            if move:
                os.replace(incoming, original)
            else:
                shutil.copyfile(incoming, original)
        except BaseException:
            if move:
                Path(incoming).unlink(missing_ok=True)
            raise
        size = original.stat().st_size
        record = CaptureRecord(
            id=capture_id, name=clean_name(name), size_bytes=size,
            format="pcap" if kind == "pcap" else ("pcapng" if kind == "pcapng" else "pcap"),
            status="indexing", compressed=kind == "gzip", created_epoch=time.time(),
        )
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO captures (id, name, size_bytes, format, compressed, status, progress,"
                " created_epoch) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                (record.id, record.name, size, record.format, int(record.compressed),
                 record.status, record.created_epoch),
            )
        return record

    def prepare(self, capture_id: str) -> Path:
        """The file the index reads: the original, or its inflated copy for gzip uploads."""
        record = self.get(capture_id)
        target = self.capture_path(capture_id)
        if target.exists():
            return target
        original = self.original_path(capture_id)
        if record.compressed:
            tmp = target.with_suffix(".inflating")
            try:
                pcapfile.inflate(original, tmp, self.max_upload_bytes)
                with open(tmp, "rb") as f:
                    kind = pcapfile.sniff_format(f.read(64))
                if kind == "gzip":
                    raise CaptureFormatError("The gzip file holds another gzip file, not a capture.")
            except BaseException:
                # A refused bomb must not leave its first gigabytes behind on the disk.
                tmp.unlink(missing_ok=True)
                raise
            self.update(capture_id, format=kind)
            os.replace(tmp, target)
        else:
            os.link(original, target)
        return target

    def pending(self) -> list[str]:
        """Captures whose indexing was interrupted (by a restart): they are indexed again."""
        with self._db() as db:
            rows = db.execute("SELECT id FROM captures WHERE status = 'indexing'").fetchall()
        return [r["id"] for r in rows]


def _record(row: sqlite3.Row) -> CaptureRecord:
    return CaptureRecord(
        id=row["id"], name=row["name"], size_bytes=row["size_bytes"], format=row["format"],
        status=row["status"], progress=row["progress"], packets=row["packets"],
        link_types=json.loads(row["link_types"]), first_epoch=row["first_epoch"],
        last_epoch=row["last_epoch"], truncated=bool(row["truncated"]),
        warnings=json.loads(row["warnings"]), created_epoch=row["created_epoch"],
        compressed=bool(row["compressed"]), error=row["error"],
    )
