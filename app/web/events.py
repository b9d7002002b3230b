"""Server-sent events: a capture's rows as they are captured or indexed, in JSON or HTML.

``GET /api/captures/{id}/events`` streams named events: ``status`` (the Capture), ``rows`` (a JSON
list of Row, at most 500 per event, ``id:`` = the last frame number in it), ``progress``
(packets, bytes, rate, fraction), ``resync`` (rows were dropped because the client fell behind:
reload the page of rows, then carry on), ``error`` and ``done``. ``GET /captures/{id}/events`` is
its HTML twin for htmx's SSE extension: the same events, with ``rows`` rendered by the packet
list's own row macro (so escaping and markup are the page's).

The display filter is applied on the server, per stream. A reconnect resumes after the frame in
``Last-Event-ID`` (or ``?last_event_id=``); ``?after=N`` starts a fresh stream after frame N.
"""
from __future__ import annotations

import asyncio
import json
import signal
import threading
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.core.errors import WirelensError
from app.live.feed import Hub
from app.live.subscriber import Batch, Subscriber
from app.web import pages  # noqa: F401 - registers the template globals the row macro uses
from app.web.templating import templates

router = APIRouter()

HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
RETRY_MS = 2000

_ROWS = templates.env.from_string(
    '{%- from "partials/rows.html" import packet_row -%}'
    "{%- for row in rows %}{{ packet_row(row, indexes[loop.index0], capture_id, filter) }}\n{% endfor -%}"
)
_PROGRESS = templates.env.from_string(
    '<span class="live-progress" data-status="{{ p.status }}" data-packets="{{ p.packets }}"'
    ' data-rate="{{ p.rate }}"{% if p.fraction is not none %} data-fraction="{{ p.fraction }}"{% endif %}>'
    "{% if p.status == 'capturing' %}Capturing{% if p.interface %} on {{ p.interface }}{% endif %}"
    "{% elif p.status == 'indexing' %}<progress max=\"1\" value=\"{{ p.fraction or 0 }}\"></progress>"
    " Indexing {{ (100 * (p.fraction or 0)) | round | int }}%"
    "{% else %}{{ p.status | capitalize }}{% endif %}"
    " · {{ '{:,}'.format(p.packets) }} packets"
    "{% if p.rate %} · {{ p.rate }} packets/s{% endif %}"
    "{% if p.drops %} · {{ '{:,}'.format(p.drops) }} dropped{% endif %}</span>"
)
_STATUS = templates.env.from_string(
    '<span class="capture-status status-{{ c.status }}" data-status="{{ c.status }}">{{ c.status }}</span>'
)
_MESSAGE = templates.env.from_string(
    '<span class="stream-{{ kind }}" data-after="{{ after }}">{{ text }}</span>'
)


def _hub(request: Request) -> Hub:
    return request.app.state.feeds


def _start(request: Request, last_event_id: int | None, after: int | None) -> int:
    header = request.headers.get("last-event-id")
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError:
            raise WirelensError("Last-Event-ID must be a frame number.", {"last_event_id": header}) from None
        if value < 0:
            raise WirelensError("Last-Event-ID must be a frame number.", {"last_event_id": header})
        return value
    if last_event_id is not None:
        return last_event_id
    return after or 0


def event(name: str, data: str, event_id: int | None = None) -> str:
    """One SSE event; every line of ``data`` gets its own ``data:`` field."""
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


class Encoder:
    """Turns queued events into SSE text, JSON or HTML (the HTML twin)."""

    def __init__(self, html: bool, capture_id: str, filter_text: str) -> None:
        self.html = html
        self.capture_id = capture_id
        self.filter = filter_text
        self.format = "html" if html else "json"

    def rows(self, batch: Batch, rows: list[dict], indexes: list[int]) -> str:
        whole = len(rows) == len(batch.rows)
        if whole and self.format in batch.encoded:
            return batch.encoded[self.format]  # same batch, same filter: encoded once
        if self.html:
            data = _ROWS.render(rows=rows, indexes=indexes, capture_id=self.capture_id,
                                filter=self.filter).rstrip("\n")
        else:
            data = json.dumps(rows, separators=(",", ":"))
        text = event("rows", data, rows[-1]["number"])
        if whole:
            batch.encoded[self.format] = text
        return text

    def other(self, kind: str, payload) -> str:
        payload = payload if payload is not None else {}
        if not self.html:
            event_id = payload.get("after") if kind == "resync" else None
            return event(kind, json.dumps(payload, separators=(",", ":")), event_id)
        if kind == "progress":
            data = _PROGRESS.render(p=payload)
        elif kind == "status":
            data = _STATUS.render(c=payload)
        elif kind == "resync":
            data = _MESSAGE.render(kind="resync", after=payload.get("after", ""),
                                   text="Rows were skipped; reload the packet list.")
        elif kind == "error":
            data = _MESSAGE.render(kind="error", after="", text=payload.get("error", "Stream error."))
        else:
            data = _MESSAGE.render(kind=kind, after="", text=payload.get("status", kind))
        return event(kind, data, payload.get("after") if kind == "resync" else None)


async def _stream(hub: Hub, sub: Subscriber, encoder: Encoder, keepalive: float,
                  first_status: dict) -> AsyncIterator[str]:
    sent = sub.start  # the last frame number this client has
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield encoder.other("status", first_status)
        while True:
            # Rows this client reads itself: first those before the feed's batches, then those
            # of a feed tick it joined in the middle of (the feed queues "catchup" for that).
            async for batch in hub.catch_up(sub):
                sent, text = _rows(batch, sent, encoder)
                if text:
                    yield text
            item = await sub.next(keepalive)
            if item is None:
                yield ": keep-alive\n\n"
                continue
            kind, payload = item
            if kind == "catchup":
                continue
            if kind == "rows":
                sent, text = _rows(payload, sent, encoder)
                if text:
                    yield text
                continue
            if kind == "shutdown":
                return
            if kind == "resync":
                sent = max(sent, int(payload["after"]))
                sub.caught = max(sub.caught, sent)  # the client reloads those rows itself
            yield encoder.other(kind, payload)
            if kind in ("done", "error"):
                return
    finally:
        hub.unsubscribe(sub)


def _rows(batch: Batch, sent: int, encoder: Encoder) -> tuple[int, str | None]:
    """The event for the batch's rows after frame ``sent`` (if any) and the new last frame sent."""
    if not batch.rows:
        return sent, None
    if batch.rows[0]["number"] > sent:
        rows, indexes = batch.rows, batch.indexes
    else:  # overlap with what this client already has: never send a frame twice
        keep = [k for k, row in enumerate(batch.rows) if row["number"] > sent]
        if not keep:
            return sent, None
        rows = [batch.rows[k] for k in keep]
        indexes = [batch.indexes[k] for k in keep]
    return rows[-1]["number"], encoder.rows(batch, rows, indexes)


async def _open(request: Request, capture_id: str, filter: str | None, last_event_id: int | None,
                after: int | None, html: bool) -> StreamingResponse:
    settings = request.app.state.settings
    hub = _hub(request)
    record = await run_in_threadpool(request.app.state.captures.library.get, capture_id)
    text = (filter or "").strip()
    if len(text) > settings.max_filter_length:
        raise WirelensError(f"The filter is longer than {settings.max_filter_length} characters.",
                            {"position": settings.max_filter_length, "filter": text})
    start = _start(request, last_event_id, after)
    await hub.check_filter(capture_id, text)
    sub = await hub.subscribe(capture_id, text, start)
    sub.status = record.status  # told in the first event; the feed reports changes from there
    encoder = Encoder(html, capture_id, text)
    stream = _stream(hub, sub, encoder, float(settings.sse_keepalive_seconds), record.as_dict())
    return StreamingResponse(stream, media_type="text/event-stream", headers=HEADERS)


FilterParam = Annotated[str | None, Query(description="A Wireshark display filter.", max_length=65536)]
LastId = Annotated[int | None, Query(ge=0, description="Resume after this frame (as Last-Event-ID).")]
After = Annotated[int | None, Query(ge=0, description="Start after this frame number (default 0).")]


@router.get("/api/captures/{capture_id}/events", tags=["events"],
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Events rows, progress, status, resync, error, done."}})
async def capture_events(request: Request, capture_id: str, filter: FilterParam = None,
                         last_event_id: LastId = None, after: After = None) -> StreamingResponse:
    """The capture's rows as they arrive (live capture or indexing upload), as server-sent events."""
    return await _open(request, capture_id, filter, last_event_id, after, html=False)


@router.get("/captures/{capture_id}/events", include_in_schema=False)
async def capture_events_html(request: Request, capture_id: str, filter: FilterParam = None,
                              last_event_id: LastId = None, after: After = None) -> StreamingResponse:
    """The HTML twin: ``rows`` events carry ``<tr>`` rows of the packet list for htmx."""
    return await _open(request, capture_id, filter, last_event_id, after, html=True)


def end_streams_on_signal(hub: Hub) -> None:
    """End every event stream as soon as SIGINT or SIGTERM arrives.

    The server stops by waiting for open responses to complete, and an event stream never
    completes by itself; so the handler the server installed is wrapped, and the streams are
    told to end (clients reconnect later with Last-Event-ID). Only possible in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):
            loop.call_soon_threadsafe(hub.shutdown)
            previous(signum, frame)

        signal.signal(sig, handler)
