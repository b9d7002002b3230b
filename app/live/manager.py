"""Starting and stopping live captures, several at once, each one a library capture.

``LiveCaptures.start`` checks everything that can be checked before capturing (live capture
enabled, the right to capture, the interface, the capture filter compiled by libpcap), then
creates the capture in the library with a pcap header of the interface's link type, starts the
capture process and waits until its socket is bound: when ``start`` returns, packets on the
interface are being recorded. The capture's status is ``capturing`` until ``stop``, then
``indexing`` while the final index is built, then ``ready``.
"""
from __future__ import annotations

import logging
import struct
import threading
import time
from typing import Callable

from app.core.capture import Captures
from app.core.errors import NotFound, WirelensError
from app.core.library import CaptureRecord
from app.live import bpf, interfaces, privileges
from app.live.session import LiveSession
from app.settings import Settings

log = logging.getLogger("wirelens.live")

PCAP_NS_MAGIC = 0xA1B23C4D


class LiveDisabled(WirelensError):
    status = 403


class NotCapturing(WirelensError):
    status = 409


class TooManyCaptures(WirelensError):
    status = 409


def pcap_header(linktype: int) -> bytes:
    """A pcap file header (little-endian, nanosecond timestamps) for ``linktype``."""
    return struct.pack("<IHHiIII", PCAP_NS_MAGIC, 2, 4, 0, 0, bpf.SNAPLEN, linktype)


def check_enabled(settings: Settings) -> None:
    if not settings.live_capture:
        raise LiveDisabled("Live capture is switched off on this server "
                           "(WIRELENS_LIVE_CAPTURE=0); upload capture files instead.")


class LiveCaptures:
    """The live sessions of one server."""

    def __init__(self, captures: Captures, settings: Settings) -> None:
        self.captures = captures
        self.library = captures.library
        self.settings = settings
        self._sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    # -- starting -----------------------------------------------------------------------------

    def start(self, interface: str, capture_filter: str | None = None, name: str | None = None) -> CaptureRecord:
        check_enabled(self.settings)
        self.reap()
        privileges.require()
        iface = interfaces.get_interface(interface)
        lo_index = interfaces.loopback_index()
        program = bpf.build(capture_filter, iface.linktype, iface.cooked, lo_index, iface.loopback)
        with self._lock:
            running = sum(1 for s in self._sessions.values() if s.running)
        if running >= self.settings.live_max_captures:
            raise TooManyCaptures(f"{running} live captures are already running, the most this "
                                  "server allows; stop one first.")
        path, out = self.library.incoming_file()
        with out:
            out.write(pcap_header(iface.linktype))
        stamp = time.strftime("%Y-%m-%d-%H%M%S")
        record = self.library.add_file(path, name or f"{iface.name}-{stamp}.pcap")
        self.library.update(record.id, status="capturing", progress=0.0, link_types=[iface.linktype])
        try:
            capture_path = self.library.prepare(record.id)  # a hard link: appends show through
            session = LiveSession(
                self.captures, record.id, iface, program, capture_path,
                limits={"max_bytes": self.settings.live_max_bytes,
                        "max_seconds": self.settings.live_max_seconds},
                rcvbuf=self.settings.live_socket_buffer, loopback_index=lo_index,
            )
            session.wait_ready()
        except BaseException:
            self.library.delete(record.id)
            raise
        with self._lock:
            self._sessions[record.id] = session
        log.info("capturing on %s into %s (filter %r)", iface.name, record.id, program.expression)
        return self.library.get(record.id)

    # -- stopping -----------------------------------------------------------------------------

    def session(self, capture_id: str) -> LiveSession | None:
        with self._lock:
            return self._sessions.get(capture_id)

    def progress_of(self, capture_id: str) -> dict | None:
        """The live counters of a capture for its event stream (None when it is not live)."""
        session = self.session(capture_id)
        return session.progress() if session is not None else None

    def stop(self, capture_id: str) -> CaptureRecord:
        """Stop a capture and return it once its final index is built (status ``ready``)."""
        record = self.library.get(capture_id)
        session = self.session(capture_id)
        if session is None:
            if record.status == "capturing":
                raise NotCapturing(f"Capture {capture_id} is not being captured by this server.")
            if record.status in ("ready", "error"):
                return record  # already stopped: stopping again changes nothing
            raise NotCapturing(f"Capture {capture_id} is not a live capture.")
        session.stop()
        with self._lock:
            self._sessions.pop(capture_id, None)
        return self.library.get(capture_id)

    def reap(self) -> None:
        """Forget sessions that ended on their own (limits reached, interface gone)."""
        with self._lock:
            done = [cid for cid, s in self._sessions.items() if s.finished.is_set()]
            for cid in done:
                self._sessions.pop(cid, None)

    def shutdown(self) -> None:
        """Stop every capture (the server is going down); files are complete and indexed."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.request_stop()
        for session in sessions:
            try:
                session.stop()
            except Exception:  # noqa: BLE001 - stop the others regardless
                log.exception("stopping live capture %s failed", session.id)

    def recover(self, reindex: Callable[[str], object]) -> list[str]:
        """Captures left ``capturing`` by a server that died: their files are indexed as they are."""
        recovered = []
        for record in self.library.list():
            if record.status == "capturing" and self.session(record.id) is None:
                try:
                    self.library.update(record.id, status="indexing", progress=0.0)
                except NotFound:
                    continue
                reindex(record.id)
                recovered.append(record.id)
        return recovered
