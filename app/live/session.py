"""One running live capture: its capture process, its growing index, and how it ends.

A session owns three things. The capture process (``capturer``) appends packets to the capture's
file in the library. An indexing thread follows that file with ``IndexBuilder.step(final=False)``
so the packets captured so far can be viewed, filtered and streamed while the capture runs. A
reader thread takes the process's JSON lines (packet, byte and drop counts). Stopping tells the
process to stop, lets the indexer read the file to its end, and builds the final index, after
which the capture is an ordinary library capture.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from app.core.capture import Captures
from app.core.errors import NotFound, WirelensError
from app.core.index import CHUNK, IndexBuilder
from app.live.bpf import Program
from app.live.interfaces import BadInterface, Interface
from app.live.privileges import CaptureForbidden, remedy

log = logging.getLogger("wirelens.live")

READY_TIMEOUT = 15.0  # seconds for the capture process to start (Python start-up included)
STOP_TIMEOUT = 10.0
RECORD_EVERY = 0.5  # seconds between updates of the library record while capturing
IDLE_WAIT = 0.05


class FollowingBuilder(IndexBuilder):
    """An index builder whose snapshots never catch a chunk half added.

    ``IndexBuilder.step`` advances its record count before the chunk's columns are stored, so a
    snapshot taken by another thread at that moment sees columns of different lengths. A live
    capture is snapshotted all the time (pages, streams) while its file is followed, so here a
    step and a snapshot wait for each other.
    """

    def __init__(self, capture_path: Path) -> None:
        super().__init__(capture_path)
        self._step_lock = threading.Lock()

    def step(self, final: bool = True, max_records: int = CHUNK) -> int:
        with self._step_lock:
            return super().step(final, max_records)

    def snapshot(self):
        with self._step_lock:
            return super().snapshot()


class CaptureFailed(WirelensError):
    """The capture process could not start for a reason other than the interface or rights."""


class LiveSession:
    """A capture process writing one library capture, followed by an incremental index."""

    def __init__(self, captures: Captures, capture_id: str, interface: Interface, program: Program,
                 path: Path, limits: dict, rcvbuf: int, loopback_index: int) -> None:
        self.captures = captures
        self.library = captures.library
        self.id = capture_id
        self.interface = interface
        self.program = program
        self.path = path
        self.limits = limits
        self.started = time.time()
        self.stats: dict = {"packets": 0, "bytes": path.stat().st_size, "drops": 0}
        self.stop_reason: str | None = None
        self.error: str | None = None
        self.builder = FollowingBuilder(path)
        self.finished = threading.Event()  # the final index is built (or failed)
        self._samples: deque[tuple[float, int]] = deque(maxlen=16)
        self._exited = threading.Event()
        self._stop_lock = threading.Lock()
        config = {
            "interface": interface.name, "cooked": interface.cooked, "linktype": interface.linktype,
            "loopback_index": loopback_index, "kernel": program.kernel,
            "userspace": program.userspace, "output": str(path), "rcvbuf": rcvbuf,
            "max_bytes": limits.get("max_bytes", 0), "max_seconds": limits.get("max_seconds", 0),
        }
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.live.capturer", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, close_fds=True,
        )

    # -- start --------------------------------------------------------------------------------

    def wait_ready(self) -> None:
        """Block until the capture socket is bound; raise the process's error if it fails."""
        result: dict = {}

        def first_line() -> None:
            result["line"] = self.process.stdout.readline()

        reader = threading.Thread(target=first_line, daemon=True)
        reader.start()
        reader.join(READY_TIMEOUT)
        line = result.get("line")
        if not line:
            self.process.kill()
            self.process.wait()
            detail = _last_lines(self.process.stderr.read())
            raise CaptureFailed(f"The capture process did not start on {self.interface.name}."
                                + (f" It said: {detail}" if detail else ""), {"stderr": detail})
        message = json.loads(line)
        if "error" in message:
            self.process.wait(timeout=5)
            kind = message.get("kind")
            if kind == "permission":
                raise CaptureForbidden(f"{message['error']} {remedy()}", {"remedy": remedy()})
            if kind == "interface":
                raise BadInterface(message["error"], {"interface": self.interface.name})
            raise CaptureFailed(message["error"])
        threading.Thread(target=self._read_stats, name=f"live-stats-{self.id}", daemon=True).start()
        threading.Thread(target=self._follow, name=f"live-index-{self.id}", daemon=True).start()

    # -- while capturing ----------------------------------------------------------------------

    def _read_stats(self) -> None:
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            for key in ("stats", "stopped"):
                if key in message:
                    self.stats.update(message[key])
                    self._samples.append((time.monotonic(), int(message[key]["packets"])))
            if "stopped" in message:
                self.stop_reason = self.stop_reason or message["stopped"].get("reason")
        self.process.wait()
        if self.process.returncode not in (0, None) and not self.stop_reason:
            self.error = _last_lines(self.process.stderr.read()) or "The capture process failed."
            self.stop_reason = "error"
        self._exited.set()

    @property
    def running(self) -> bool:
        return not self._exited.is_set()

    def rate(self) -> float:
        """Packets per second over the last few seconds of the capture process's reports."""
        samples = list(self._samples)
        if len(samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = samples[max(0, len(samples) - 5)], samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def _follow(self) -> None:
        """Index the file while it grows; when the process has exited, build the final index."""
        last_record = 0.0
        limit = self.library.max_packets  # the most this server indexes of one capture
        self.captures.follow(self.id, self.builder)
        try:
            while True:
                exited = self._exited.is_set()  # read before stepping: nothing is written after
                room = CHUNK if not limit else min(CHUNK, limit - self.builder.count)
                added = self.builder.step(final=False, max_records=room) if room > 0 else 0
                now = time.monotonic()
                if now - last_record >= RECORD_EVERY:
                    self._update_record()
                    last_record = now
                if exited and not added:
                    break
                if room <= 0 and not self.stop_reason:
                    self.stop_reason = "max_packets"
                    self.request_stop()
                if not added:
                    self._exited.wait(IDLE_WAIT)
        except (NotFound, FileNotFoundError):
            # Deleted while capturing: nothing is left to write to or to index.
            self.request_stop()
            self.captures.unfollow(self.id)
            self.finished.set()
            return
        except Exception:  # noqa: BLE001 - the capture must still end as a library capture
            log.exception("following live capture %s failed", self.id)
        self._finish()

    def _update_record(self) -> None:
        values: dict = {"packets": self.builder.count, "size_bytes": self.path.stat().st_size}
        parts = self.builder.parts.get("ts_sec")
        nsec = self.builder.parts.get("ts_nsec")
        if parts and nsec and len(parts[0]) and len(parts[-1]):
            values["first_epoch"] = int(parts[0][0]) + int(nsec[0][0]) / 1e9
            values["last_epoch"] = int(parts[-1][-1]) + int(nsec[-1][-1]) / 1e9
        try:
            self.library.update(self.id, **values)
        except NotFound:
            raise
        except Exception:  # noqa: BLE001 - a busy database must not end the capture
            log.warning("could not update live capture %s", self.id, exc_info=True)

    def _finish(self) -> None:
        try:
            self.library.get(self.id)
        except NotFound:
            self.captures.unfollow(self.id)
            self.finished.set()
            return
        try:
            self.library.update(self.id, status="indexing", size_bytes=self.path.stat().st_size,
                                progress=0.99)
            record = self.captures.index(self.id, builder=self.builder)
            notes = self._notes()
            if notes and record.status == "ready":
                self.library.update(self.id, warnings=record.warnings + notes)
        except Exception:  # noqa: BLE001
            log.exception("final index of live capture %s failed", self.id)
            self.library.update(self.id, status="error", progress=1.0,
                                error="The capture was saved but could not be indexed.")
        finally:
            self.finished.set()

    def _notes(self) -> list[str]:
        notes = []
        drops = int(self.stats.get("drops") or 0)
        if drops:
            notes.append(f"The kernel dropped {drops} packets during the capture "
                         "(they are not in the file).")
        if self.stop_reason == "max_bytes":
            notes.append(f"The capture stopped at the size limit of {self.limits.get('max_bytes')} bytes.")
        elif self.stop_reason == "max_seconds":
            notes.append(f"The capture stopped at the duration limit of {self.limits.get('max_seconds')} s.")
        elif self.stop_reason == "max_packets":
            notes.append(f"The capture stopped at {self.library.max_packets:,} packets, the most this "
                         "server indexes of one capture.")
        elif self.stop_reason == "interface_down":
            notes.append(f"The capture stopped because {self.interface.name} went away.")
        elif self.stop_reason == "error" and self.error:
            notes.append(f"The capture stopped on an error: {self.error}")
        return notes

    # -- stop ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the capture process to stop (it writes what the kernel still holds, then exits)."""
        with self._stop_lock:
            if self.process.poll() is not None:
                return
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.flush()
                self.process.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass

    def stop(self, timeout: float | None = None) -> None:
        """Stop capturing and wait until the final index is built."""
        self.request_stop()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.finished.wait(timeout)

    def progress(self) -> dict:
        """Counts for the ``progress`` events of the capture's stream."""
        return {
            "captured": int(self.stats.get("packets") or 0), "bytes": int(self.stats.get("bytes") or 0),
            "drops": int(self.stats.get("drops") or 0), "rate": round(self.rate(), 1),
            "elapsed": round(time.time() - self.started, 3), "interface": self.interface.name,
            "capture_filter": self.program.expression,
        }


def _last_lines(text: str | None, count: int = 3) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:])
