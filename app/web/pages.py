"""HTML pages (htmx): the library, the three-pane capture view and packet details.

Every page has a JSON twin under ``/api/`` (a ``Link: rel="alternate"`` header and a ``<link>``
tag). Partials are named blocks of the page templates: an htmx request gets the block its target
needs, any other request the whole page, so one URL serves both (hence ``Vary: HX-Request``).
The pages carry no inline script or style, so the strict Content-Security-Policy that
``app.web.security`` puts on every response holds for them.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.core import filtering
from app.core.errors import WirelensError
from app.web.deps import CapturesDep, JobsDep, SettingsDep
from app.web.templating import templates
from app.web.uploads import store_upload

router = APIRouter(include_in_schema=False)

POLL_STATES = ("indexing", "capturing")


class Urls:
    """Every URL the pages link to, built in one place."""

    @staticmethod
    def _q(path: str, **params) -> str:
        # Falsy values are left out (an undefined template variable too), except a real 0.
        query = {k: v for k, v in params.items() if v or (v == 0 and v is not False)}
        return f"{path}?{urlencode(query)}" if query else path

    def library(self) -> str:
        return "/"

    def upload(self) -> str:
        return "/captures"

    def capture(self, capture_id: str, filter: str | None = None, offset: int | None = None,
                packet: int | None = None) -> str:
        return self._q(f"/captures/{capture_id}", filter=filter, offset=offset, packet=packet)

    def status(self, capture_id: str, follow: bool = False, filter: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/status", follow=1 if follow else None, filter=filter)

    def packet(self, capture_id: str, number: int | str = "") -> str:
        return f"/captures/{capture_id}/packets/{number}"

    def api_captures(self) -> str:
        return "/api/captures"

    def api_capture(self, capture_id: str) -> str:
        return f"/api/captures/{capture_id}"

    def api_packets(self, capture_id: str, filter: str | None = None, offset: int | None = None,
                    limit: int | None = None) -> str:
        return self._q(f"/api/captures/{capture_id}/packets", filter=filter, offset=offset, limit=limit)

    def api_packet(self, capture_id: str, number: int) -> str:
        return f"/api/captures/{capture_id}/packets/{number}"

    def download(self, capture_id: str, filter: str | None = None) -> str:
        return self._q(f"/api/captures/{capture_id}/download", filter=filter)

    # -- flows, ladders, follow stream and statistics (app/web/pages_flows.py) ----------------

    def flows(self, capture_id: str, filter: str | None = None, protocol: str | None = None,
              sort: str | None = None, order: str | None = None, offset: int | None = None) -> str:
        return self._q(f"/captures/{capture_id}/flows", filter=filter, protocol=protocol, sort=sort,
                       order=order, offset=offset)

    def flow_graph(self, capture_id: str, filter: str | None = None, offset: int | None = None,
                   mode: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/ladder", filter=filter,
                       mode=mode if mode == "packets" else None, offset=offset)

    def ladder(self, flow_id: str, raw: bool = False, spacing: str | None = None, explain: bool = False,
               offset: int | None = None) -> str:
        return self._q(f"/flows/{flow_id}/ladder", raw=1 if raw else None,
                       spacing=spacing if spacing == "time" else None, explain=1 if explain else None,
                       offset=offset)

    def ladder_svg(self, flow_id: str, raw: bool = False, spacing: str | None = None,
                   offset: int | None = None) -> str:
        return self._q(f"/flows/{flow_id}/ladder.svg", raw=1 if raw else None,
                       spacing=spacing if spacing == "time" else None, offset=offset)

    def ladder_mmd(self, flow_id: str, raw: bool = False, offset: int | None = None) -> str:
        return self._q(f"/flows/{flow_id}/ladder.mmd", raw=1 if raw else None, offset=offset)

    def follow(self, flow_id: str, format: str | None = None, side: str | None = None) -> str:
        return self._q(f"/flows/{flow_id}/follow", format=format if format != "ascii" else None,
                       side=side if side != "both" else None)

    def conversations(self, capture_id: str, type: str | None = None, sort: str | None = None,
                      order: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/conversations", type=type, sort=sort, order=order)

    def endpoints(self, capture_id: str, type: str | None = None, sort: str | None = None,
                  order: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/endpoints", type=type, sort=sort, order=order)

    def api_flows(self, capture_id: str, protocol: str | None = None, filter: str | None = None,
                  offset: int | None = None, limit: int | None = None) -> str:
        return self._q("/api/flows", capture=capture_id, protocol=protocol, filter=filter,
                       offset=offset, limit=limit)

    def api_ladder(self, flow_id: str, offset: int | None = None, limit: int | None = None) -> str:
        return self._q(f"/api/flows/{flow_id}/ladder", offset=offset, limit=limit)

    def api_stream(self, flow_id: str) -> str:
        return f"/api/flows/{flow_id}/stream"

    def api_conversations(self, capture_id: str, type: str) -> str:
        return self._q(f"/api/captures/{capture_id}/conversations", type=type)

    def api_endpoints(self, capture_id: str, type: str) -> str:
        return self._q(f"/api/captures/{capture_id}/endpoints", type=type)


URLS = Urls()


# -- formatting helpers for the templates ------------------------------------------------------

def _count(n: int | None) -> str:
    return f"{int(n or 0):,}"


def _size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _duration(seconds: float | None) -> str:
    s = float(seconds or 0)
    if s < 60:
        return f"{s:.3f} s"
    minutes, s = divmod(int(s), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {s:02d} s"


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _percent(fraction: float | None) -> str:
    return f"{100 * float(fraction or 0):.0f}%"


templates.env.globals["urls"] = URLS
templates.env.filters.update(count=_count, size=_size, duration=_duration, when=_when, percent=_percent)


def hexdump(hex_bytes: str) -> list[dict]:
    """Rows of 16 bytes for the bytes pane: offset, hex pairs and printable ASCII (else '.')."""
    data = bytes.fromhex(hex_bytes or "")
    rows = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        rows.append({
            "offset": f"{start:04x}",
            "cells": [(start + i, f"{b:02x}", chr(b) if 0x20 <= b < 0x7F else ".") for i, b in enumerate(chunk)],
        })
    return rows


# -- rendering ---------------------------------------------------------------------------------

def _partial(request: Request) -> bool:
    """An htmx request that swaps a fragment (history restores and boosts want whole pages)."""
    h = request.headers
    return h.get("hx-request") == "true" and not h.get("hx-history-restore-request") and not h.get("hx-boosted")


def render(request: Request, name: str, context: dict, *, alternate: str, block: str | None = None,
           status: int = 200, headers: dict | None = None) -> HTMLResponse:
    """The page ``name`` (or one of its blocks) with its JSON twin announced."""
    template = templates.get_template(name)
    values = {"request": request, "alternate": alternate, **context}
    if block:
        html = "".join(template.blocks[block](template.new_context(values)))
    else:
        html = template.render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Link"] = f'<{alternate}>; rel="alternate"; type="application/json"'
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response


# -- the library -------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
async def library_page(request: Request, captures: CapturesDep) -> HTMLResponse:
    records = await run_in_threadpool(captures.library.list)
    block = "capture_rows" if _partial(request) and request.headers.get("hx-target") == "capture-rows" else None
    return render(request, "library.html", {"captures": [r.as_dict() for r in records]},
                  alternate=URLS.api_captures(), block=block)


@router.post("/captures")
async def upload_form(request: Request, captures: CapturesDep, jobs: JobsDep) -> RedirectResponse:
    """The upload form without JavaScript: store the file, start indexing, go to its page."""
    record = await store_upload(request, captures, jobs)
    return RedirectResponse(URLS.capture(record.id), status_code=303)


@router.get("/captures/{capture_id}/status", response_class=HTMLResponse)
async def capture_status(request: Request, capture_id: str, captures: CapturesDep,
                         follow: bool = False, filter: str | None = None) -> HTMLResponse:
    """One capture's status line; it polls itself while indexing (see partials/status.html)."""
    record = await run_in_threadpool(captures.library.get, capture_id)
    headers = {}
    if record.status not in POLL_STATES:
        if follow and record.status == "ready":
            headers["HX-Redirect"] = URLS.capture(capture_id, filter=filter)
        # The library table listens for this to refresh its rows (packet counts and so on).
        headers["HX-Trigger"] = "capture-ready"
    return render(request, "partials/status.html",
                  {"capture": record.as_dict(), "follow": follow, "filter": filter},
                  alternate=URLS.api_capture(capture_id), headers=headers)


# -- the capture view --------------------------------------------------------------------------

def _position(total: int, mask: np.ndarray | None, number: int) -> int | None:
    """Row of frame ``number`` in the displayed list, or None when it is not displayed."""
    if not 1 <= number <= total:
        return None
    if mask is None:
        return number - 1
    return int(np.count_nonzero(mask[: number - 1])) if mask[number - 1] else None


@router.get("/captures/{capture_id}", response_class=HTMLResponse)
async def capture_page(
    request: Request, capture_id: str, captures: CapturesDep, settings: SettingsDep,
    filter: Annotated[str | None, Query(max_length=65536)] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    packet: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    # The filter form always sends the selected packet, empty when there is none: not an error.
    packet = int(packet) if packet and packet.isdigit() and int(packet) > 0 else None
    record = await run_in_threadpool(captures.library.get, capture_id)
    text = (filter or "").strip()
    limit = min(limit or settings.page_size, settings.max_page_size)
    context: dict = {"capture": record.as_dict(), "filter": text, "limit": limit, "ready": False}
    if record.status != "ready":
        return render(request, "capture.html", context, alternate=URLS.api_capture(capture_id))

    view = await run_in_threadpool(captures.open, capture_id)
    status, mask, filter_error = 200, None, None
    if text:
        try:
            mask = await run_in_threadpool(filtering.mask, view, text, settings.max_filter_length)
        except WirelensError as exc:
            status = exc.status
            filter_error = {"message": exc.message, "position": exc.detail.get("position")}
    position = _position(view.total, mask, packet) if packet and not filter_error else None
    if filter_error:
        page = {"total": view.total, "matched": 0, "offset": 0, "limit": limit, "filter": text, "packets": []}
    else:
        matched = view.total if mask is None else int(np.count_nonzero(mask))
        if offset is None:
            offset = position // limit * limit if position is not None else 0
        if matched and offset >= matched:
            offset = (matched - 1) // limit * limit
        page = await run_in_threadpool(view.page, offset, limit, mask, text)
    detail = None
    if packet and packet <= view.total and not _partial(request):
        detail = await run_in_threadpool(view.detail, packet)
    context.update(
        ready=True, page=page, filter_error=filter_error, packet=packet, position=position,
        detail=detail, hexrows=hexdump(detail["bytes"]) if detail else [],
    )
    swap = _partial(request) and request.headers.get("hx-target") == "list-pane"
    return render(request, "capture.html", context, status=status, block="list_swap" if swap else None,
                  alternate=URLS.api_packets(capture_id, filter=text, offset=page["offset"], limit=limit))


@router.get("/captures/{capture_id}/packets/{number}", response_class=HTMLResponse)
async def packet_page(request: Request, capture_id: str, number: int, captures: CapturesDep) -> HTMLResponse:
    """One packet's tree and bytes: the two lower panes for htmx, a page of its own otherwise."""
    view = await run_in_threadpool(captures.open, capture_id)
    detail = await run_in_threadpool(view.detail, number)
    context = {"capture": view.record.as_dict(), "detail": detail, "packet": number,
               "hexrows": hexdump(detail["bytes"])}
    return render(request, "packet.html", context, block="detail_swap" if _partial(request) else None,
                  alternate=URLS.api_packet(capture_id, number))
