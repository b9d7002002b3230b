"""Live capture routes: the JSON API (interfaces, start, stop) and its pages.

JSON: ``GET /api/interfaces``, ``POST /api/captures/live``, ``POST /api/captures/{id}/stop``.
Pages: ``/live`` (the start form, also loaded into the library page), ``/captures/{id}/live``
(the packet list filling in as packets arrive, over the HTML event stream of ``events``) and
plain form posts to start and stop, so the pages work without JavaScript too.
"""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.core.errors import WirelensError
from app.live import interfaces, privileges
from app.live.manager import LiveCaptures, check_enabled
from app.models import Capture, ErrorBody, InterfaceList, LiveCaptureRequest
from app.web.deps import SettingsDep
from app.web.pages import URLS, render
from app.web.templating import templates

router = APIRouter(prefix="/api", tags=["live capture"],
                   responses={code: {"model": ErrorBody} for code in (400, 403, 404, 409)})
pages_router = APIRouter(include_in_schema=False)

TAIL_ROWS = 200  # rows a live page shows when it opens; the stream brings the next ones


class LiveUrls:
    """The URLs of the live-capture pages, built in one place (templates: ``live_urls``)."""

    @staticmethod
    def _q(path: str, **params) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return f"{path}?{urlencode(query)}" if query else path

    def start(self) -> str:
        return "/live"

    def form(self) -> str:
        return "/live/form"

    def live(self, capture_id: str, filter: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/live", filter=filter)

    def stop(self, capture_id: str) -> str:
        return f"/captures/{capture_id}/live/stop"

    def rows(self, capture_id: str, filter: str | None = None) -> str:
        return self._q(f"/captures/{capture_id}/live/rows", filter=filter)

    def events(self, capture_id: str, filter: str | None = None, after: int | None = None) -> str:
        return self._q(f"/captures/{capture_id}/events", filter=filter, after=after)


LIVE_URLS = LiveUrls()
templates.env.globals["live_urls"] = LIVE_URLS


def _live(request: Request) -> LiveCaptures:
    return request.app.state.live


# -- JSON --------------------------------------------------------------------------------------

@router.get("/interfaces", response_model=InterfaceList)
async def list_interfaces(settings: SettingsDep) -> dict:
    """The interfaces of this server, and whether it may capture on them (and if not, why)."""
    check_enabled(settings)
    found = await run_in_threadpool(interfaces.list_interfaces)
    rights = privileges.check()
    return {"interfaces": [i.as_dict() for i in found], "can_capture": rights.can_capture,
            "message": rights.message}


@router.post("/captures/live", response_model=Capture, status_code=201)
async def start_capture(body: LiveCaptureRequest, request: Request) -> dict:
    """Start capturing on an interface; the packets are recorded once this returns.

    A bad interface or capture filter is refused (400) with the reason; a server that may not
    capture answers 403 saying what to grant.
    """
    record = await run_in_threadpool(_live(request).start, body.interface, body.capture_filter, body.name)
    return record.as_dict()


@router.post("/captures/{capture_id}/stop", response_model=Capture)
async def stop_capture(capture_id: str, request: Request, settings: SettingsDep) -> dict:
    """Stop a live capture; answers once the final index is built (status ``ready``).

    A capture that is not running is answered as it is.
    """
    check_enabled(settings)
    record = await run_in_threadpool(_live(request).stop, capture_id)
    return record.as_dict()


# -- pages -------------------------------------------------------------------------------------

async def _form_context(request: Request, **extra) -> dict:
    found = await run_in_threadpool(interfaces.list_interfaces)
    rights = privileges.check()
    running = [r.as_dict() for r in await run_in_threadpool(request.app.state.captures.library.list)
               if r.status == "capturing"]
    return {"interfaces": [i.as_dict() for i in found], "can_capture": rights.can_capture,
            "message": rights.message, "running": running, "error": None, "values": {}, **extra}


@pages_router.get("/live", response_class=HTMLResponse)
async def live_start_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    check_enabled(settings)
    context = await _form_context(request)
    return render(request, "live_start.html", context, alternate="/api/interfaces")


@pages_router.get("/live/form", response_class=HTMLResponse)
async def live_start_form(request: Request, settings: SettingsDep) -> Response:
    """The start form alone, for the library page (nothing at all when live capture is off)."""
    if not settings.live_capture:
        return Response(status_code=204)
    context = await _form_context(request)
    return render(request, "partials/live_form.html", context, alternate="/api/interfaces")


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _go(request: Request, url: str) -> Response:
    """Go to ``url``: a redirect, or for htmx (which would swap the next page in) HX-Redirect."""
    if _htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@pages_router.post("/live")
async def live_start_submit(request: Request, settings: SettingsDep) -> Response:
    """The start form's post: on to the live page, or the form again with the reason.

    htmx posts it from the library page: the answer is then the form itself (with the reason,
    swapped in place), since htmx swaps no 4xx answer.
    """
    check_enabled(settings)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("interface", "capture_filter", "name")}
    try:
        record = await run_in_threadpool(_live(request).start, values["interface"],
                                         values["capture_filter"] or None, values["name"] or None)
    except WirelensError as exc:
        context = await _form_context(request, error=exc.message, values=values)
        if _htmx(request):
            return render(request, "partials/live_form.html", context, alternate="/api/interfaces")
        return render(request, "live_start.html", context, alternate="/api/interfaces", status=exc.status)
    return _go(request, LIVE_URLS.live(record.id))


@pages_router.get("/captures/{capture_id}/live", response_class=HTMLResponse)
async def live_page(request: Request, capture_id: str, settings: SettingsDep,
                    filter: Annotated[str | None, Query(max_length=65536)] = None) -> Response:
    """A capture being captured (or an upload being indexed): its newest rows, then every new
    one as it arrives; once the capture is ready, its ordinary page."""
    text = (filter or "").strip()
    record = await run_in_threadpool(request.app.state.captures.library.get, capture_id)
    if record.status not in ("capturing", "indexing"):
        return RedirectResponse(URLS.capture(capture_id, filter=text), status_code=303)
    hub = request.app.state.feeds
    filter_error = None
    try:
        tail = await run_in_threadpool(hub.tail, capture_id, text, TAIL_ROWS)
    except WirelensError as exc:
        filter_error = {"message": exc.message, "position": exc.detail.get("position")}
        tail = await run_in_threadpool(hub.tail, capture_id, "", 0)
    session = _live(request).session(capture_id)
    context = {
        "capture": tail["record"].as_dict(), "filter": text, "filter_error": filter_error,
        "rows": tail["rows"], "indexes": tail["indexes"], "total": tail["total"],
        "matched": tail["matched"], "last": tail["last"],
        "progress": session.progress() if session else {},
    }
    return render(request, "live.html", context, status=400 if filter_error else 200,
                  alternate=f"/api/captures/{capture_id}/events")


@pages_router.get("/captures/{capture_id}/live/rows", response_class=HTMLResponse)
async def live_rows(request: Request, capture_id: str,
                    filter: Annotated[str | None, Query(max_length=65536)] = None) -> HTMLResponse:
    """The newest rows again (a page that fell behind its stream reloads them)."""
    text = (filter or "").strip()
    tail = await run_in_threadpool(request.app.state.feeds.tail, capture_id, text, TAIL_ROWS)
    context = {"capture": tail["record"].as_dict(), "filter": text, "rows": tail["rows"],
               "indexes": tail["indexes"]}
    return render(request, "partials/live_rows.html", context, alternate=f"/api/captures/{capture_id}/packets")


@pages_router.post("/captures/{capture_id}/live/stop")
async def live_stop_submit(request: Request, capture_id: str, settings: SettingsDep) -> Response:
    check_enabled(settings)
    await run_in_threadpool(_live(request).stop, capture_id)
    return _go(request, URLS.capture(capture_id))
