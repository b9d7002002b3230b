"""JSON routes for the library, packets and packet details (see docs: the HTTP contract)."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from app import __version__
from app.core import filtering, stats
from app.models import (Capture, CaptureList, ConversationList, EndpointList, ErrorBody, Extraction,
                        Health, PacketDetail, PacketPage)
from app.web.deps import CapturesDep, JobsDep, SettingsDep
from app.web.uploads import store_upload

ERRORS = {code: {"model": ErrorBody} for code in (400, 404, 409, 413, 422)}
router = APIRouter(prefix="/api", responses=ERRORS)

MAX_WAIT = 60  # seconds a request may wait for indexing to end
FilterParam = Annotated[str | None, Query(description="A Wireshark display filter.", max_length=65536)]


@router.get("/health", response_model=Health, tags=["health"])
async def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/captures", response_model=CaptureList, tags=["captures"])
async def list_captures(captures: CapturesDep) -> dict:
    records = await run_in_threadpool(captures.library.list)
    return {"captures": [r.as_dict() for r in records]}


@router.post("/captures", response_model=Capture, status_code=201, tags=["captures"])
async def upload_capture(request: Request, captures: CapturesDep, jobs: JobsDep) -> dict:
    """Upload a pcap or pcapng file (optionally gzip-compressed) as multipart field ``file``."""
    record = await store_upload(request, captures, jobs)
    return record.as_dict()


@router.get("/captures/{capture_id}", response_model=Capture, tags=["captures"])
async def get_capture(capture_id: str, captures: CapturesDep, jobs: JobsDep,
                      wait: Annotated[float, Query(
                          ge=0, le=MAX_WAIT,
                          description="Seconds to wait for a capture still being indexed to be "
                                      "ready (or fail) before answering; the answer comes as soon "
                                      "as it is, so a script need not poll.")] = 0) -> dict:
    record = await run_in_threadpool(captures.library.get, capture_id)
    ended = jobs.ended(capture_id) if record.status == "indexing" and wait > 0 else None
    if ended is not None:
        await asyncio.wait([asyncio.wrap_future(ended)], timeout=wait)
        record = await run_in_threadpool(captures.library.get, capture_id)
    return record.as_dict()


@router.delete("/captures/{capture_id}", status_code=204, tags=["captures"])
async def delete_capture(capture_id: str, captures: CapturesDep) -> Response:
    captures.forget(capture_id)
    await run_in_threadpool(captures.library.delete, capture_id)
    return Response(status_code=204)


@router.get("/captures/{capture_id}/download", tags=["captures"],
            response_class=FileResponse, responses={200: {"content": {"application/octet-stream": {}}}})
async def download_capture(capture_id: str, captures: CapturesDep, settings: SettingsDep,
                           filter: FilterParam = None):
    """The capture file as uploaded; with ``filter``, only the matching packets."""
    record = await run_in_threadpool(captures.library.get, capture_id)
    if not filter:
        return FileResponse(captures.library.original_path(capture_id), filename=record.name,
                            media_type="application/octet-stream")
    view = await run_in_threadpool(captures.open, capture_id)
    mask = await run_in_threadpool(filtering.mask, view, filter, settings.max_filter_length)
    data = await run_in_threadpool(filtering.export, view, mask)
    name = record.name.rsplit(".", 1)[0] + "-filtered." + ("pcapng" if view.index.meta.format == "pcapng" else "pcap")
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"})


@router.get("/captures/{capture_id}/packets", response_model=PacketPage, tags=["packets"])
async def list_packets(capture_id: str, captures: CapturesDep, settings: SettingsDep,
                       filter: FilterParam = None,
                       offset: Annotated[int, Query(ge=0)] = 0,
                       limit: Annotated[int, Query(ge=0, le=1000)] = 100) -> dict:
    view = await run_in_threadpool(captures.open, capture_id)
    mask = None
    if filter and filter.strip():
        mask = await run_in_threadpool(filtering.mask, view, filter, settings.max_filter_length)
    return await run_in_threadpool(view.page, offset, limit, mask, filter)


@router.get("/captures/{capture_id}/packets/{number}", response_model=PacketDetail, tags=["packets"])
async def packet_detail(capture_id: str, number: int, captures: CapturesDep) -> dict:
    view = await run_in_threadpool(captures.open, capture_id)
    return await run_in_threadpool(view.detail, number)


@router.get("/captures/{capture_id}/extraction", response_model=Extraction, tags=["filters"])
async def filter_extraction(capture_id: str, captures: CapturesDep) -> dict:
    """Progress of reading a filter field the index lacks (``http.user_agent`` ...) from the
    packets: a filter on such a field answers once this pass is done, later ones at once."""
    view = await run_in_threadpool(captures.open, capture_id)
    return view.extraction


def _quote(name: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(name, safe="")



@router.get("/captures/{capture_id}/conversations", response_model=ConversationList, tags=["statistics"])
async def capture_conversations(capture_id: str, captures: CapturesDep,
                                type: Literal["eth", "ipv4", "ipv6", "tcp", "udp"] = "tcp") -> dict:
    """Statistics → Conversations: unordered address (and port) pairs with traffic per direction."""
    view = await run_in_threadpool(captures.open, capture_id)
    return {"type": type, "conversations": await run_in_threadpool(stats.conversations, view.index, type)}


@router.get("/captures/{capture_id}/endpoints", response_model=EndpointList, tags=["statistics"])
async def capture_endpoints(capture_id: str, captures: CapturesDep,
                            type: Literal["eth", "ipv4", "ipv6", "tcp", "udp"] = "ipv4") -> dict:
    """Statistics → Endpoints: each address (and port) with what it sent and received."""
    view = await run_in_threadpool(captures.open, capture_id)
    return {"type": type, "endpoints": await run_in_threadpool(stats.endpoints, view.index, type)}
