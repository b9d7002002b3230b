"""New rows of a capture fanned out to its stream subscribers, each with a bounded queue.

One ``Feed`` per capture that has subscribers looks at the capture every ``TICK`` seconds (its
growing index while it is captured or indexed, the final index afterwards), formats the rows of
the packets that arrived since the last look, once per distinct display filter, and offers them
in batches of at most ``BATCH_ROWS`` to every subscriber. The feed never waits for a subscriber:
a subscriber whose queue would hold more than its row limit loses the queued rows and is told to
``resync`` instead (reload its page of rows, then carry on after the frame the event names). A
slow or vanished client therefore costs the capture and the other clients nothing.

A subscriber first catches up by itself: rows after the frame it asked to start from up to the
point where the feed's batches begin, read from the index at the pace the client takes them
(and again, woken by a ``catchup`` item, for the rows of a tick that was at work when it joined).
Frame numbers only grow, so the stream writer drops any row at or below the last one it sent,
and a reconnect that names its last frame resumes with neither gap nor duplicate.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import AsyncIterator, Callable

import numpy as np
from anyio import to_thread

from app.core import filtering
from app.core.capture import CaptureView, Captures
from app.core.errors import NotFound, NotReady, WirelensError
from app.live.subscriber import BATCH_ROWS, Batch, Subscriber

log = logging.getLogger("wirelens.live")

TICK = 0.2  # seconds between looks at a capture: rows arrive at most this late
SCAN_BUDGET = 5000  # packets a feed turns into rows per tick, at most
SKIP_BACKLOG = 20000  # further behind than this, the feed jumps to the newest packet (resync)
PROGRESS_REFRESH = 2.0  # seconds between progress events when only the clock and rate moved
FINAL = ("ready", "error")


@dataclass
class Snapshot:
    """What a feed sees of a capture at one tick."""

    record: object
    view: CaptureView | None

    @property
    def total(self) -> int:
        return self.view.total if self.view is not None else 0


class Hub:
    """Every feed of the server; the stream routes subscribe here."""

    def __init__(self, captures: Captures, live_progress: Callable[[str], dict | None],
                 max_filter_length: int = 4096, queue_rows: int = 10000) -> None:
        self.captures = captures
        self.live_progress = live_progress
        self.max_filter_length = max_filter_length
        self.queue_rows = max(BATCH_ROWS, queue_rows)
        # A client that reads each tick's rows before the next tick never overflows: one tick
        # produces at most half a queue.
        self.scan_budget = max(BATCH_ROWS, min(SCAN_BUDGET, self.queue_rows // 2))
        self.feeds: dict[str, Feed] = {}
        self._masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the mask cache is used from worker threads
        self.closing = False

    # -- reading the capture (in worker threads) ----------------------------------------------

    def snapshot(self, capture_id: str) -> Snapshot:
        attempts = 0
        while True:
            try:
                view = self.captures.open(capture_id)
                return Snapshot(view.record, view)
            except NotReady:
                record = self.captures.library.get(capture_id)
                # ``open`` read the record while the capture was indexed and then found the
                # index finished: a ready capture has a view, so look again rather than report
                # it ready with no packets (its streams would end at once, rows missing).
                if record.status != "ready" or attempts >= 3:
                    return Snapshot(record, None)
                attempts += 1
            except (ValueError, IndexError):
                # An upload's index builder can be caught between counting a chunk and storing
                # its columns (live captures use a builder that cannot); the next look is whole.
                attempts += 1
                if attempts >= 3:
                    raise
                time.sleep(0.02)

    def mask(self, capture_id: str, view: CaptureView, text: str) -> np.ndarray:
        """The filter's matches over ``view``, kept for the next caller with the same view."""
        key = (capture_id, type(view.index).__name__, view.total, text)
        with self._lock:
            cached = self._masks.get(key)
        if cached is not None:
            return cached
        mask = np.asarray(filtering.mask(view, text, self.max_filter_length), dtype=bool)
        with self._lock:
            self._masks[key] = mask
            while len(self._masks) > 32:
                self._masks.popitem(last=False)
        return mask

    def positions(self, capture_id: str, view: CaptureView, text: str, lo: int, hi: int) -> tuple[np.ndarray, int]:
        """0-based positions of the matching packets in ``[lo, hi)`` and how many match before."""
        if not text:
            return np.arange(lo, hi), lo
        mask = self.mask(capture_id, view, text)
        return lo + np.flatnonzero(mask[lo:hi]), int(np.count_nonzero(mask[:lo]))

    def batches(self, capture_id: str, view: CaptureView, filters: set[str], lo: int, hi: int) -> dict:
        """Per filter, the batches of rows of packets ``lo..hi-1`` (rows formatted once)."""
        found: dict[str, object] = {}
        wanted: set[int] = set()
        for text in filters:
            try:
                found[text] = self.positions(capture_id, view, text, lo, hi)
                wanted.update(found[text][0].tolist())
            except WirelensError as exc:
                found[text] = exc
        rows = {i: view.row(i) for i in sorted(wanted)}
        result: dict[str, object] = {}
        for text, value in found.items():
            if isinstance(value, WirelensError):
                result[text] = value
                continue
            positions, base = value
            result[text] = _chunk(positions.tolist(), base, hi, rows.__getitem__)
        return result

    def tail(self, capture_id: str, text: str, count: int) -> dict:
        """The last ``count`` rows matching ``text`` now: what a live page shows before its
        stream (started after ``last``) brings the next ones."""
        snap = self.snapshot(capture_id)
        if snap.view is None:
            return {"record": snap.record, "rows": [], "indexes": [], "total": 0, "matched": 0, "last": 0}
        view, total = snap.view, snap.total
        positions, _ = self.positions(capture_id, view, text, 0, total)
        matched = len(positions)
        shown = positions[-count:] if count else positions[:0]
        return {"record": snap.record, "rows": view.rows(shown),
                "indexes": list(range(matched - len(shown), matched)), "total": total,
                "matched": matched, "last": total}

    # -- subscribing --------------------------------------------------------------------------

    async def check_filter(self, capture_id: str, text: str) -> None:
        """Raise the filter's error (400 with its position) before a stream starts."""
        snap = await to_thread.run_sync(self.snapshot, capture_id)
        if text and snap.view is not None:
            await to_thread.run_sync(self.mask, capture_id, snap.view, text)

    async def subscribe(self, capture_id: str, filter_text: str, start: int) -> Subscriber:
        feed = self.feeds.get(capture_id)
        if feed is None or feed.done:
            snap = await to_thread.run_sync(self.snapshot, capture_id)
            feed = self.feeds.get(capture_id)
            if feed is None or feed.done:
                feed = Feed(self, capture_id, snap.total)
                self.feeds[capture_id] = feed
                feed.task = asyncio.create_task(feed.run(), name=f"feed-{capture_id}")
        sub = Subscriber(capture_id, filter_text, start, self.queue_rows)
        # No await between reading ``published`` and joining: the feed's batches start there.
        sub.catchup_until = feed.published
        feed.subscribers.append(sub)
        if self.closing:
            sub.close()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.gone = True
        feed = self.feeds.get(sub.capture_id)
        if feed is not None and sub in feed.subscribers:
            feed.subscribers.remove(sub)
            if not feed.subscribers:
                feed.stop()

    async def catch_up(self, sub: Subscriber) -> AsyncIterator[Batch]:
        """Rows after ``sub.start`` up to where the feed's batches begin, pulled at the client's
        pace; called again when the feed moves that point (it resumes where it got to)."""
        pos = sub.caught
        while pos < sub.catchup_until and not sub.gone:
            snap = await to_thread.run_sync(self.snapshot, sub.capture_id)
            view = snap.view
            target = min(sub.catchup_until, snap.total)
            if view is None or pos >= target:
                return
            positions, base = await to_thread.run_sync(
                self.positions, sub.capture_id, view, sub.filter, pos, target)
            positions = positions.tolist()
            for k in range(0, len(positions), BATCH_ROWS):
                chunk = positions[k : k + BATCH_ROWS]
                rows = await to_thread.run_sync(view.rows, np.asarray(chunk, dtype=np.int64))
                last = k + BATCH_ROWS >= len(positions)
                yield Batch(rows, list(range(base + k, base + k + len(chunk))),
                            target if last else chunk[-1] + 1)
            pos = sub.caught = max(sub.caught, target)

    def shutdown(self) -> None:
        """End every stream now (the server is stopping; clients reconnect to the next one)."""
        self.closing = True
        for feed in list(self.feeds.values()):
            for sub in list(feed.subscribers):
                sub.close("shutdown")
            feed.stop()


def _chunk(positions: list[int], base: int, hi: int, row: Callable[[int], dict]) -> list[Batch]:
    batches = []
    for k in range(0, len(positions), BATCH_ROWS):
        chunk = positions[k : k + BATCH_ROWS]
        last = k + BATCH_ROWS >= len(positions)
        batches.append(Batch([row(i) for i in chunk], list(range(base + k, base + k + len(chunk))),
                             hi if last else chunk[-1] + 1))
    return batches


class Feed:
    """The producer of one capture's events (see the module docstring)."""

    def __init__(self, hub: Hub, capture_id: str, published: int) -> None:
        self.hub = hub
        self.capture_id = capture_id
        self.published = published  # rows of frames up to this number have been offered
        self.subscribers: list[Subscriber] = []
        self.task: asyncio.Task | None = None
        self.done = False
        self._progress: dict | None = None
        self._progress_sent = 0.0
        self._samples: deque[tuple[float, int]] = deque(maxlen=16)

    def stop(self) -> None:
        self.done = True
        if self.hub.feeds.get(self.capture_id) is self:
            del self.hub.feeds[self.capture_id]
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    async def run(self) -> None:
        try:
            while not self.done and self.subscribers:
                started = time.monotonic()
                await self.tick()
                # A tick that took long (a huge snapshot, a costly filter) spaces the next one.
                spent = time.monotonic() - started
                await asyncio.sleep(max(TICK - spent, spent))
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - tell the clients rather than leave them waiting
            log.exception("feed of capture %s failed", self.capture_id)
            for sub in list(self.subscribers):
                sub.close("error", {"error": "The stream failed on the server."})
        finally:
            self.stop()

    async def tick(self) -> None:
        subs = list(self.subscribers)
        try:
            snap = await to_thread.run_sync(self.hub.snapshot, self.capture_id)
        except NotFound:
            for sub in list(self.subscribers):  # also those that joined during the look
                sub.offer("status", {"id": self.capture_id, "status": "deleted"})
                sub.close("done", {"status": "deleted", "packets": self.published})
            self.stop()
            return
        n = snap.total
        status = snap.record.status
        lo = self.published
        if n - lo > SKIP_BACKLOG:
            for sub in subs:
                sub.offer("resync", {"after": n})
            self.published = n
        elif n > lo:
            hi = min(n, lo + self.hub.scan_budget)
            filters = {sub.filter for sub in subs}
            result = await to_thread.run_sync(self.hub.batches, self.capture_id, snap.view, filters, lo, hi)
            for sub in subs:
                if sub.ended or sub.gone:
                    continue
                value = result.get(sub.filter)
                if isinstance(value, WirelensError):
                    sub.close("error", {"error": value.message, "detail": value.detail})
                    continue
                for batch in value or ():
                    sub.offer("rows", batch)
            self.published = hi
        # Subscribers that joined while this tick worked were not offered its rows (nor its
        # resync): they read them themselves. Their stream may already have finished its
        # catch-up and be waiting for events, so it is woken to catch up again, before the
        # events that follow (this tick's done among them).
        ticked = set(map(id, subs))
        for sub in self.subscribers:
            if id(sub) not in ticked and sub.catchup_until < self.published:
                sub.catchup_until = self.published
                sub.offer("catchup")
        self._report(snap, status, n)

    def _report(self, snap: Snapshot, status: str, n: int) -> None:
        record = snap.record
        for sub in self.subscribers:
            if sub.status != status:
                sub.status = status
                sub.offer("status", record.as_dict())
        now = time.monotonic()
        self._samples.append((now, n))
        progress = {"status": status, "packets": n, "bytes": record.size_bytes,
                    "fraction": record.progress if status == "indexing" else (1.0 if status in FINAL else None),
                    "rate": _rate(self._samples)}
        live = self.hub.live_progress(self.capture_id)
        if live:
            progress.update(live)
        # New counts go out at once; the clock and rate alone refresh every few seconds.
        counts = {k: v for k, v in progress.items() if k not in ("rate", "elapsed")}
        last = {k: v for k, v in (self._progress or {}).items() if k not in ("rate", "elapsed")}
        if counts != last or now - self._progress_sent >= PROGRESS_REFRESH:
            self._progress = progress
            self._progress_sent = now
            for sub in self.subscribers:
                sub.offer("progress", progress)
        # A ready capture always has a view: without one, this look was not whole; wait.
        whole = snap.view is not None or status == "error"
        if status in FINAL and self.published >= n and whole:
            for sub in self.subscribers:
                sub.close("done", {"status": status, "packets": n})
            self.stop()


def _rate(samples: deque) -> float:
    if len(samples) < 2:
        return 0.0
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return round((n1 - n0) / (t1 - t0), 1) if t1 > t0 else 0.0
