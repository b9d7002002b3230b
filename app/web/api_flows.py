"""JSON routes for conversations (flows) of one capture or of the whole library."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from app.core import filtering
from app.core.errors import NotReady
from app.core.flows import parse_flow_id
from app.core.follow import follow
from app.core.ladder import MAX_EVENTS, ladder
from app.models import ErrorBody, Flow, FlowList, FollowStream, LadderModel
from app.web.deps import CapturesDep, SettingsDep

ERRORS = {code: {"model": ErrorBody} for code in (400, 404, 409, 422)}
router = APIRouter(prefix="/api", responses=ERRORS, tags=["flows"])


def _flows_of(captures, capture_id: str, protocols: list[str], text: str | None, max_len: int) -> list[dict]:
    view = captures.open(capture_id)
    mask = filtering.mask(view, text, max_len) if text and text.strip() else None
    out = []
    for protocol in protocols:
        table = view.flow_table(protocol)
        out.extend(table.flow(capture_id, int(s)) for s in table.matching(mask))
    return out


@router.get("/flows", response_model=FlowList)
async def list_flows(captures: CapturesDep, settings: SettingsDep,
                     capture: str | None = None,
                     protocol: Literal["tcp", "udp"] | None = None,
                     filter: Annotated[str | None, Query(max_length=65536)] = None,
                     offset: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=100000)] = 1000) -> dict:
    """TCP and UDP conversations of a capture, or of every ready capture in the library."""
    protocols = [protocol] if protocol else ["tcp", "udp"]
    if capture:
        flows = await run_in_threadpool(_flows_of, captures, capture, protocols, filter,
                                        settings.max_filter_length)
        return {"flows": flows[offset : offset + limit], "total": len(flows), "offset": offset}
    records = await run_in_threadpool(captures.library.list)
    flows: list[dict] = []
    for record in records:
        if record.status != "ready":
            continue
        try:
            flows.extend(await run_in_threadpool(_flows_of, captures, record.id, protocols, filter,
                                                 settings.max_filter_length))
        except NotReady:
            continue
    return {"flows": flows[offset : offset + limit], "total": len(flows), "offset": offset}


@router.get("/flows/{flow_id}", response_model=Flow)
async def get_flow(flow_id: str, captures: CapturesDep) -> dict:
    capture_id, protocol, stream = parse_flow_id(flow_id)
    view = await run_in_threadpool(captures.open, capture_id)
    table = await run_in_threadpool(view.flow_table, protocol)
    return table.flow(capture_id, stream)


@router.get("/flows/{flow_id}/ladder", response_model=LadderModel)
async def flow_ladder(flow_id: str, captures: CapturesDep,
                      offset: Annotated[int, Query(ge=0)] = 0,
                      limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = MAX_EVENTS) -> dict:
    """The ladder diagram model of one flow: lanes, events, states and explanations."""
    capture_id, protocol, stream = parse_flow_id(flow_id)
    view = await run_in_threadpool(captures.open, capture_id)
    table = await run_in_threadpool(view.flow_table, protocol)
    return await run_in_threadpool(ladder, view.index, table, capture_id, stream, offset, limit)


@router.get("/flows/{flow_id}/stream", response_model=FollowStream)
async def flow_stream(flow_id: str, captures: CapturesDep) -> dict:
    """Follow TCP/UDP stream: the payload of both directions in delivery order."""
    capture_id, protocol, stream = parse_flow_id(flow_id)
    view = await run_in_threadpool(captures.open, capture_id)
    table = await run_in_threadpool(view.flow_table, protocol)
    flow = table.flow(capture_id, stream)
    return await run_in_threadpool(follow, view.index, protocol, stream, bool(flow.get("swapped")))
