"""HTML pages of a capture's conversations: the flow table, ladder diagrams, follow stream.

* ``/captures/{id}/flows`` — TCP and UDP conversations matching a display filter, sortable.
* ``/captures/{id}/ladder`` — the flow graph: one ladder per flow matching the filter, or every
  matching packet between address lanes (app/web/flowgraph.py), paged.
* ``/flows/{flow_id}/ladder`` — one flow's ladder (server-rendered SVG whose arrows link to the
  packets), with its explanations, relative or raw numbers, order or time spacing, and the
  ``.svg`` and ``.mmd`` (Mermaid) downloads.
* ``/flows/{flow_id}/follow`` — the payload of both directions, as text, hex dump or raw hex.

Each page names its JSON twin (app/web/api_flows.py); the statistics pages are in pages_stats.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.core import filtering
from app.core.errors import WirelensError
from app.core.flows import parse_flow_id
from app.core.follow import as_text, decoded, follow, hexdump
from app.core.ladder import MAX_EVENTS, ladder, label
from app.core.ladder_render import mermaid, svg
from app.web import flowgraph, pages_stats
from app.web.deps import CapturesDep, SettingsDep
from app.web.pages import URLS, render
from app.web.sorting import Column, address_key, header_links, sort_rows

router = APIRouter(include_in_schema=False)
router.include_router(pages_stats.router)

FLOWS_PAGE = 500          # rows of the flow table per page
GRAPH_FLOWS = 6           # ladders per page of the flow graph
GRAPH_EVENTS = 40         # arrows per ladder in the flow graph (the flow's own page has them all)
GRAPH_PACKETS = 200       # arrows per page of the flow graph of all packets
LADDER_PAGE = min(1000, MAX_EVENTS)  # arrows per page of a flow's ladder
# Bytes of payload a follow page shows per format (a hex dump is four times the text); the
# JSON twin has them all.
FOLLOW_SHOW = {"ascii": 1 << 20, "raw": 512 << 10, "hex": 256 << 10}
FilterParam = Annotated[str | None, Query(max_length=65536)]


# -- shared helpers ------------------------------------------------------------------------------

def _filtered(view, text: str, max_len: int):
    """(mask, error) of a display filter: a bad filter is explained on the page, not raised."""
    if not text:
        return None, None
    try:
        return filtering.mask(view, text, max_len), None
    except WirelensError as exc:
        return None, {"message": exc.message, "position": exc.detail.get("position"), "status": exc.status}


def sides(flow: dict) -> tuple[str, str]:
    """What to call the two ends: client and server once the SYN says who opened the flow."""
    return ("client", "server") if (flow.get("handshake") or {}).get("syn") else ("A", "B")


def endpoint(e: dict) -> str:
    address = e.get("address") or "?"
    return f"[{address}]:{e['port']}" if ":" in address else f"{address}:{e['port']}"


COMPLETENESS = ((0x20, "R", "RST"), (0x10, "F", "FIN"), (0x08, "D", "data"), (0x04, "A", "ACK"),
                (0x02, "S", "SYN-ACK"), (0x01, "S", "SYN"))


def completeness(value: int | None) -> dict | None:
    """Wireshark's tcp.completeness as its flag letters (R F D A S S) and words."""
    if value is None:
        return None
    letters = "".join(ch if value & bit else "·" for bit, ch, _ in COMPLETENESS)
    seen = [name for bit, _, name in reversed(COMPLETENESS) if value & bit]
    done = value & 0x07 == 0x07 and value & 0x30
    word = ("Complete, " + ("WITH_DATA" if value & 0x08 else "NO_DATA")) if done else "Incomplete"
    return {"letters": letters, "title": f"{word} ({value}): " + (", ".join(seen) or "nothing seen"),
            "complete": bool(done)}


_STYLE = re.compile(r"<style>.*?</style>", re.S)


def inline_svg(text: str, key: str) -> str:
    """An SVG document made fit to sit inside a page: its <style> moves to static/css (the CSP
    forbids inline styles) and its marker id gets the flow's key (several ladders, one page)."""
    text = _STYLE.sub("", text, count=1)
    return text.replace('id="arrow"', f'id="arrow-{key}"').replace("url(#arrow)", f"url(#arrow-{key})")


def _capture_link(capture_id: str):
    return lambda number: URLS.capture(capture_id, packet=number)


# -- the flow table --------------------------------------------------------------------------------

def _ep_key(e: dict) -> tuple:
    return (*address_key(e.get("address")), e.get("port") or 0)


FLOW_COLUMNS = [
    Column("stream", "Stream", lambda f: (f["protocol"], f["stream"]), first_order="asc"),
    Column("a", "Endpoint A", lambda f: _ep_key(f["a"]), numeric=False, first_order="asc"),
    Column("b", "Endpoint B", lambda f: _ep_key(f["b"]), numeric=False, first_order="asc"),
    Column("packets", "Packets", lambda f: f["packets"]),
    Column("bytes", "Bytes", lambda f: f["bytes"]),
    Column("ab", "A → B", lambda f: f["a_to_b"]["bytes"]),
    Column("ba", "B → A", lambda f: f["b_to_a"]["bytes"]),
    Column("start", "Start", lambda f: f["start"], first_order="asc"),
    Column("duration", "Duration", lambda f: f["duration"]),
    Column("rtt", "RTT", lambda f: (f.get("handshake") or {}).get("rtt")),
    Column("state", "Final states", lambda f: (f.get("state") or {}).get("a"), numeric=False, first_order="asc"),
    Column("completeness", "Complete", lambda f: f.get("completeness")),
]


def _matching_flows(view, capture_id: str, protocols: list[str], mask) -> list[dict]:
    flows = []
    for protocol in protocols:
        table = view.flow_table(protocol)
        flows.extend(table.flows(capture_id, table.matching(mask)))
    return flows


def flow_row(flow: dict) -> dict:
    """A flow with the links and words its table row shows."""
    return {
        "flow": flow, "sides": sides(flow), "a": endpoint(flow["a"]), "b": endpoint(flow["b"]),
        "completeness": completeness(flow.get("completeness")),
        "ladder": URLS.ladder(flow["id"]), "follow": URLS.follow(flow["id"]),
        "packets": URLS.capture(flow["capture"], filter=f"{flow['protocol']}.stream == {flow['stream']}"),
    }


@router.get("/captures/{capture_id}/flows", response_class=HTMLResponse)
async def flows_page(request: Request, capture_id: str, captures: CapturesDep, settings: SettingsDep,
                     filter: FilterParam = None, protocol: Annotated[str | None, Query(max_length=8)] = None,
                     sort: Annotated[str | None, Query(max_length=20)] = None,
                     order: Literal["asc", "desc"] | None = None,
                     offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """The TCP and UDP conversations of a capture (those with a packet matching the filter)."""
    text = (filter or "").strip()
    protocol = protocol if protocol in ("tcp", "udp") else None
    view = await run_in_threadpool(captures.open, capture_id)

    def build():
        mask, error = _filtered(view, text, settings.max_filter_length)
        flows = [] if error else _matching_flows(view, capture_id, [protocol] if protocol else ["tcp", "udp"], mask)
        return flows, error

    flows, error = await run_in_threadpool(build)
    flows, sort, order = sort_rows(flows, FLOW_COLUMNS, sort, order)
    headers = header_links(FLOW_COLUMNS, sort, order, lambda key, o: URLS.flows(
        capture_id, filter=text, protocol=protocol, sort=key, order=o))
    offset = min(offset, max(0, (len(flows) - 1) // FLOWS_PAGE * FLOWS_PAGE))
    pager = {"offset": offset, "total": len(flows), "size": FLOWS_PAGE,
             "prev": URLS.flows(capture_id, text, protocol, sort, order, max(0, offset - FLOWS_PAGE)) if offset else None,
             "next": URLS.flows(capture_id, text, protocol, sort, order, offset + FLOWS_PAGE)
             if offset + FLOWS_PAGE < len(flows) else None}
    context = {"capture": view.record.as_dict(), "filter": text, "filter_error": error, "protocol": protocol,
               "rows": [flow_row(f) for f in flows[offset : offset + FLOWS_PAGE]], "headers": headers,
               "pager": pager, "nav": "flows"}
    return render(request, "flows.html", context, status=error["status"] if error else 200,
                  alternate=URLS.api_flows(capture_id, protocol=protocol, filter=text or None))


# -- the flow graph: every matching flow's ladder ---------------------------------------------------

@router.get("/captures/{capture_id}/ladder", response_class=HTMLResponse)
async def flow_graph_page(request: Request, capture_id: str, captures: CapturesDep, settings: SettingsDep,
                          filter: FilterParam = None, mode: Literal["flows", "packets"] = "flows",
                          offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """Wireshark's Flow Graph of the packets matching the filter: one ladder per TCP/UDP flow
    (``mode=flows``), or every packet of any protocol between address lanes (``mode=packets``)."""
    text = (filter or "").strip()
    view = await run_in_threadpool(captures.open, capture_id)
    size = GRAPH_FLOWS if mode == "flows" else GRAPH_PACKETS

    def by_flow(mask):
        flows = sorted(_matching_flows(view, capture_id, ["tcp", "udp"], mask), key=lambda f: f["first_packet"])
        graphs = []
        for flow in flows[offset : offset + size]:
            table = view.flow_table(flow["protocol"])
            model = ladder(view.index, table, capture_id, flow["stream"], 0, GRAPH_EVENTS)
            graphs.append({**flow_row(flow), "model": model,
                           "svg": inline_svg(svg(model, link=_capture_link(capture_id)), flow["id"])})
        return graphs, len(flows)

    def by_packet(mask):
        page = view.page(offset, size, mask, text)
        drawing = flowgraph.svg(page["packets"], lambda n: URLS.capture(capture_id, filter=text, packet=n))
        return [{"svg": drawing, "rows": len(page["packets"])}] if page["packets"] else [], page["matched"]

    def build():
        mask, error = _filtered(view, text, settings.max_filter_length)
        if error:
            return [], 0, error
        return (*(by_flow if mode == "flows" else by_packet)(mask), None)

    graphs, total, error = await run_in_threadpool(build)
    pager = {"offset": offset, "total": total, "size": size,
             "prev": URLS.flow_graph(capture_id, text, max(0, offset - size), mode) if offset else None,
             "next": URLS.flow_graph(capture_id, text, offset + size, mode) if offset + size < total else None}
    context = {"capture": view.record.as_dict(), "filter": text, "filter_error": error, "graphs": graphs,
               "mode": mode, "pager": pager, "events_shown": GRAPH_EVENTS, "nav": "graph"}
    twin = (URLS.api_flows(capture_id, filter=text or None) if mode == "flows"
            else URLS.api_packets(capture_id, filter=text or None, offset=offset, limit=size))
    return render(request, "flowgraph.html", context, status=error["status"] if error else 200, alternate=twin)


# -- one flow's ladder ---------------------------------------------------------------------------

def _ladder_of(captures, flow_id: str, offset: int, limit: int):
    capture_id, protocol, stream = parse_flow_id(flow_id)
    view = captures.open(capture_id)
    table = view.flow_table(protocol)
    return view, ladder(view.index, table, capture_id, stream, offset, limit)


def explanations(model: dict, raw: bool) -> list[dict]:
    """The events as the explanation list shows them: who sent what, why, and state changes."""
    names = sides(model["flow"])
    previous = [None, None]
    out = []
    for e in model["events"]:
        changes = []
        for k, state in enumerate((e.get("state_a"), e.get("state_b"))):
            if state and state != previous[k]:
                changes.append(f"{names[k]} {state}")
                previous[k] = state
        src, dst = names if e["direction"] == "a>b" else names[::-1]
        out.append({"event": e, "label": label(e, raw), "from": src, "to": dst, "changes": changes})
    return out


@router.get("/flows/{flow_id}/ladder", response_class=HTMLResponse)
async def ladder_page(request: Request, flow_id: str, captures: CapturesDep, raw: bool = False,
                      spacing: Literal["order", "time"] = "order", explain: bool = False,
                      offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """One flow's ladder diagram; every arrow opens its packet in the capture view."""
    view, model = await run_in_threadpool(_ladder_of, captures, flow_id, offset, LADDER_PAGE)
    capture_id = model["flow"]["capture"]
    drawing = inline_svg(svg(model, raw=raw, spacing=spacing, link=_capture_link(capture_id)), "flow")
    total = model["total_events"]

    def page(at: int) -> str:
        return URLS.ladder(flow_id, raw=raw, spacing=spacing, explain=explain, offset=at or None)

    pager = {"offset": offset, "total": total, "size": LADDER_PAGE, "shown": len(model["events"]),
             "prev": page(max(0, offset - LADDER_PAGE)) if offset else None,
             "next": page(offset + LADDER_PAGE) if offset + LADDER_PAGE < total else None}
    context = {"capture": view.record.as_dict(), "flow": model["flow"], "model": model, "svg": drawing,
               "raw": raw, "spacing": spacing, "explain": explain, "pager": pager,
               "sides": sides(model["flow"]), "a": endpoint(model["flow"]["a"]), "b": endpoint(model["flow"]["b"]),
               "events": explanations(model, raw) if explain else [], "nav": "flows",
               "row": flow_row(model["flow"])}
    return render(request, "ladder.html", context,
                  alternate=URLS.api_ladder(flow_id, offset=offset or None, limit=LADDER_PAGE))


def _attachment(body: str, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/flows/{flow_id}/ladder.svg")
async def ladder_svg(request: Request, flow_id: str, captures: CapturesDep, raw: bool = False,
                     spacing: Literal["order", "time"] = "order",
                     offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The ladder as an SVG file; its arrows link back to the packets on this server."""
    _, model = await run_in_threadpool(_ladder_of, captures, flow_id, offset, MAX_EVENTS)
    base = str(request.base_url).rstrip("/")
    capture_id = model["flow"]["capture"]
    text = svg(model, raw=raw, spacing=spacing, link=lambda n: base + URLS.capture(capture_id, packet=n))
    # The flow id is [0-9a-f-] and digits only (parse_flow_id): safe in a header as it is.
    return _attachment('<?xml version="1.0" encoding="UTF-8"?>\n' + text, "image/svg+xml", f"{flow_id}.svg")


@router.get("/flows/{flow_id}/ladder.mmd")
async def ladder_mermaid(flow_id: str, captures: CapturesDep, raw: bool = False,
                         offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The ladder as a Mermaid ``sequenceDiagram`` (paste it into Markdown)."""
    _, model = await run_in_threadpool(_ladder_of, captures, flow_id, offset, MAX_EVENTS)
    return _attachment(mermaid(model, raw=raw), "text/plain; charset=utf-8", f"{flow_id}.mmd")


# -- follow stream ---------------------------------------------------------------------------------

def follow_runs(segments: list[tuple[dict, bytes]], fmt: str, side: str) -> dict:
    """Payload chunks in delivery order, grouped into runs of one direction, formatted."""
    wanted = {"both": ("a>b", "b>a"), "a": ("a>b",), "b": ("b>a",)}[side]
    base = {"a>b": 0, "b>a": 0}        # hex dump offsets count each direction on its own
    totals = {"a>b": [0, 0], "b>a": [0, 0]}
    runs: list[dict] = []
    shown = turns = 0
    cut = False
    last = None
    for seg, data in segments:
        d = seg["direction"]
        totals[d][0] += 1
        totals[d][1] += len(data)
        if last is not None and d != last:
            turns += 1
        last = d
        if d not in wanted or cut:
            base[d] += len(data)
            continue
        if shown + len(data) > FOLLOW_SHOW[fmt]:
            cut = True
            continue
        shown += len(data)
        if fmt == "hex":
            text = hexdump(data, base[d]) + "\n"
        elif fmt == "raw":
            text = data.hex() + "\n"
        else:
            text = as_text(data)
        base[d] += len(data)
        if not runs or runs[-1]["direction"] != d:
            runs.append({"direction": d, "chunks": []})
        runs[-1]["chunks"].append({"number": seg["number"], "length": len(data), "text": text})
    return {"runs": runs, "totals": totals, "turns": turns, "shown": shown, "cut": cut}


@router.get("/flows/{flow_id}/follow", response_class=HTMLResponse)
async def follow_page(request: Request, flow_id: str, captures: CapturesDep,
                      format: Literal["ascii", "hex", "raw"] = "ascii",
                      side: Literal["both", "a", "b"] = "both") -> HTMLResponse:
    """Follow TCP/UDP stream: what each side received, coloured by direction."""
    capture_id, protocol, stream = parse_flow_id(flow_id)
    view = await run_in_threadpool(captures.open, capture_id)

    def build():
        table = view.flow_table(protocol)
        flow = table.flow(capture_id, stream)
        data = follow(view.index, protocol, stream, bool(flow.get("swapped")))
        return flow, data, follow_runs(decoded(data["segments"]), format, side)

    flow, data, shown = await run_in_threadpool(build)
    context = {"capture": view.record.as_dict(), "flow": flow, "format": format, "side": side,
               "sides": sides(flow), "a": endpoint(flow["a"]), "b": endpoint(flow["b"]),
               "total_bytes": data["bytes"], "truncated": data["truncated"], **shown,
               "row": flow_row(flow), "nav": "flows"}
    return render(request, "follow.html", context, alternate=URLS.api_stream(flow_id))
