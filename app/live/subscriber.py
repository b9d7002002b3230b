"""One stream client's side of a feed: the batches of rows it is offered and its bounded queue.

The queue never makes the feed wait: events are offered, and rows beyond the client's limit
replace everything queued with one ``resync`` event (see ``feed``). Progress events replace
each other, since only the newest counts matter.
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

BATCH_ROWS = 500  # rows per ``rows`` event


@dataclass
class Batch:
    """Rows of consecutive matching frames; ``upto`` is the last frame number looked at."""

    rows: list[dict]
    indexes: list[int]  # each row's position in the (filtered) packet list
    upto: int
    encoded: dict[str, str] = field(default_factory=dict)  # per output format, shared

    @property
    def last(self) -> int:
        return self.rows[-1]["number"] if self.rows else self.upto


class Subscriber:
    """One stream client: its filter, where it starts, and its bounded queue of events."""

    def __init__(self, capture_id: str, filter_text: str, start: int, max_rows: int) -> None:
        self.capture_id = capture_id
        self.filter = filter_text
        self.start = start  # frames up to this number are never sent
        self.max_rows = max_rows
        self.catchup_until = 0  # frames up to here are read by the subscriber itself
        self.caught = start  # ... and frames up to here it has read (or skipped on a resync)
        self.resyncs = 0
        self.status: str | None = None  # the capture status this client was last told
        self.ended = False  # the feed has queued its last event for this subscriber
        self.gone = False  # the client went away: stop working for it
        self._items: deque[tuple[str, object]] = deque()
        self._rows = 0
        self._wake = asyncio.Event()

    def offer(self, kind: str, payload: object = None) -> None:
        """Queue an event without ever waiting; rows past the limit become a ``resync``."""
        if self.ended or self.gone:
            return
        if kind == "rows":
            batch: Batch = payload  # type: ignore[assignment]
            if self._rows + len(batch.rows) > self.max_rows:
                self._overflow(batch.upto)
                return
            self._rows += len(batch.rows)
        elif kind == "progress":
            # Only the newest progress matters: replace a queued one rather than pile them up.
            for i, (queued, _) in enumerate(self._items):
                if queued == "progress":
                    self._items[i] = (kind, payload)
                    return
        self._items.append((kind, payload))
        self._wake.set()

    def _overflow(self, upto: int) -> None:
        status = [item for item in self._items if item[0] == "status"][-1:]
        self._items.clear()
        self._rows = 0
        self.resyncs += 1
        self._items.append(("resync", {"after": upto}))
        self._items.extend(status)
        self._wake.set()

    def close(self, kind: str = "shutdown", payload: object = None) -> None:
        """End the stream: the writer sends what is queued up to this event, then stops."""
        self.offer(kind, payload)
        self.ended = True

    @property
    def pending_rows(self) -> int:
        return self._rows

    async def next(self, timeout: float) -> tuple[str, object] | None:
        """The next event, or None after ``timeout`` seconds without one (time for a ping)."""
        if not self._items:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                return None
            if not self._items:
                return None
        kind, payload = self._items.popleft()
        if kind == "rows":
            self._rows -= len(payload.rows)  # type: ignore[union-attr]
        return kind, payload
