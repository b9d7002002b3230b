"""JSON routes for conversations (flows) of one capture or of the whole library."""
from __future__ import annotations

import json
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from app.core import filtering
from app.core.errors import NotReady
from app.core.flows import FlowTable, parse_flow_id
from app.core.follow import follow
from app.core.ladder import MAX_EVENTS, ladder
from app.models import ErrorBody, Flow, FlowList, FollowStream, LadderModel
from app.web.deps import CapturesDep, SettingsDep

ERRORS = {code: {"model": ErrorBody} for code in (400, 404, 409, 422)}
router = APIRouter(prefix="/api", responses=ERRORS, tags=["flows"])

Selection = list[tuple[str, FlowTable, np.ndarray]]  # (capture id, table, matching streams)


def _flows_of(captures, capture_id: str, protocols: list[str], text: str | None, max_len: int) -> Selection:
    view = captures.open(capture_id)
    mask = filtering.mask(view, text, max_len) if text and text.strip() else None
    return [(capture_id, table, table.matching(mask))
            for table in (view.flow_table(protocol) for protocol in protocols)]


def flows_json(table: FlowTable, capture_id: str, streams: np.ndarray) -> list[str]:
    """The JSON text of each flow of ``streams``, as ``Flow`` (app.models) serializes it.

    A capture holds tens of thousands of flows: building dicts, validating them against the
    model and encoding them costs seconds, writing the text from the columns a small part of it.
    """
    if len(streams) == 0:
        return []
    c = table.columns(streams)
    quoted = {text: json.dumps(text) for text in {*c["a_address"], *c["b_address"]}}
    head = json.dumps(f"{capture_id}-{table.protocol}-")[:-1]  # the id without its closing quote
    common = f'"capture":{json.dumps(capture_id)},"protocol":"{table.protocol}"'
    if table.protocol == "tcp":
        null = "null"
        states = {name: json.dumps(name) for name in {*c["state_a"], *c["state_b"]}}
        tails = [
            f'"handshake":{{"syn":{null if syn is None else syn},'
            f'"syn_ack":{null if syn_ack is None else syn_ack},"ack":{null if ack is None else ack},'
            f'"client_isn":{null if c_isn is None else c_isn},"server_isn":{null if s_isn is None else s_isn},'
            f'"rtt":{null if rtt is None else repr(rtt)}}},'
            f'"state":{{"a":{states[st_a]},"b":{states[st_b]}}},"completeness":{completeness}}}'
            for syn, syn_ack, ack, c_isn, s_isn, rtt, st_a, st_b, completeness in zip(
                c["syn"], c["syn_ack"], c["ack"], c["client_isn"], c["server_isn"], c["rtt"],
                c["state_a"], c["state_b"], c["completeness"])
        ]
    else:
        tails = ['"handshake":null,"state":null,"completeness":null}'] * len(c["stream"])
    return [
        f'{{"id":{head}{stream}",{common},"stream":{stream},'
        f'"a":{{"address":{quoted[a]},"port":{a_port}}},"b":{{"address":{quoted[b]},"port":{b_port}}},'
        f'"packets":{pab + pba},"bytes":{bab + bba},'
        f'"a_to_b":{{"packets":{pab},"bytes":{bab}}},"b_to_a":{{"packets":{pba},"bytes":{bba}}},'
        f'"start":{start!r},"duration":{duration!r},"first_packet":{first},"last_packet":{last},{tail}'
        for stream, a, a_port, b, b_port, pab, bab, pba, bba, start, duration, first, last, tail in zip(
            c["stream"], c["a_address"], c["a_port"], c["b_address"], c["b_port"], c["ab_packets"],
            c["ab_bytes"], c["ba_packets"], c["ba_bytes"], c["start"], c["duration"],
            c["first_packet"], c["last_packet"], tails)
    ]


def _page(selection: Selection, offset: int, limit: int) -> Response:
    """``FlowList`` of flows[offset:offset + limit] of the selection, only those built.

    A ``Response`` is returned as it is: FastAPI does not validate it against ``FlowList``,
    which is what made a big capture's list slow, so ``flows_json`` writes the model's exact shape.
    """
    total = sum(len(streams) for _, _, streams in selection)
    texts: list[str] = []
    start = 0
    for capture_id, table, streams in selection:
        lo = min(max(offset - start, 0), len(streams))
        hi = min(max(offset + limit - start, 0), len(streams))
        if lo < hi:
            texts.extend(flows_json(table, capture_id, streams[lo:hi]))
        start += len(streams)
    body = '{"flows":[' + ",".join(texts) + f'],"total":{total},"offset":{offset}}}'
    return Response(body.encode(), media_type="application/json")


@router.get("/flows", response_model=FlowList)
async def list_flows(captures: CapturesDep, settings: SettingsDep,
                     capture: str | None = None,
                     protocol: Literal["tcp", "udp"] | None = None,
                     filter: Annotated[str | None, Query(max_length=65536)] = None,
                     offset: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=100000)] = 1000) -> Response:
    """TCP and UDP conversations of a capture, or of every ready capture in the library."""
    protocols = [protocol] if protocol else ["tcp", "udp"]
    if capture:
        selection = await run_in_threadpool(_flows_of, captures, capture, protocols, filter,
                                            settings.max_filter_length)
        return await run_in_threadpool(_page, selection, offset, limit)
    records = await run_in_threadpool(captures.library.list)
    selection = []
    for record in records:
        if record.status != "ready":
            continue
        try:
            selection.extend(await run_in_threadpool(_flows_of, captures, record.id, protocols, filter,
                                                     settings.max_filter_length))
        except NotReady:
            continue
    return await run_in_threadpool(_page, selection, offset, limit)


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
