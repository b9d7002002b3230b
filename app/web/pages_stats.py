"""HTML pages of Statistics → Conversations and Endpoints, one tab per address type.

Tables sort on the server (``?sort=&order=``) so they work without JavaScript. Every row links to
the packet list filtered to it; TCP and UDP conversations also to their ladder and follow view.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.core import stats
from app.web.deps import CapturesDep
from app.web.pages import URLS, render
from app.web.sorting import Column, address_key, header_links, sort_rows

router = APIRouter(include_in_schema=False)

KINDS = {"eth": "Ethernet", "ipv4": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}
Kind = Literal["eth", "ipv4", "ipv6", "tcp", "udp"]
SHOW_ROWS = 2000  # rows a table shows; the JSON twin has them all
SortParam = Annotated[str | None, Query(max_length=20)]


def split(kind: str, text: str) -> tuple[str, int | None]:
    """"10.0.0.1:80" -> ("10.0.0.1", 80) for TCP and UDP; other kinds have no port."""
    if kind not in ("tcp", "udp"):
        return text, None
    host, _, port = text.rpartition(":")
    return host, int(port)


def _addr_field(kind: str, address: str) -> str:
    if kind == "eth":
        return "eth.addr"
    if kind == "ipv6" or (kind in ("tcp", "udp") and ":" in address):
        return "ipv6.addr"
    return "ip.addr"


def _endpoint_filter(kind: str, address: str, port: int | None) -> str:
    text = f"{_addr_field(kind, address)}=={address}"
    return text if port is None else f"{text} && {kind}.port=={port}"


def _bits_per_second(n_bytes: int, seconds: float) -> float | None:
    return n_bytes * 8 / seconds if seconds > 0 else None


def _streams(view, capture_id: str, kind: str) -> dict[frozenset, list[int]]:
    """Wireshark's stream numbers of each TCP/UDP endpoint pair (a reused pair has several)."""
    table = view.flow_table(kind)
    out: dict[frozenset, list[int]] = {}
    for s in range(table.count):
        if table.first[s] < 0 or table.last[s] < 0:
            continue
        flow = table.flow(capture_id, s)
        key = frozenset((f"{flow['a']['address']}:{flow['a']['port']}", f"{flow['b']['address']}:{flow['b']['port']}"))
        out.setdefault(key, []).append(s)
    return out


def conversation_rows(view, capture_id: str, kind: str) -> list[dict]:
    rows = []
    streams = _streams(view, capture_id, kind) if kind in ("tcp", "udp") else {}
    for c in stats.conversations(view.index, kind):
        a, pa = split(kind, c["a"])
        b, pb = split(kind, c["b"])
        found = streams.get(frozenset((c["a"], c["b"])), [])
        if len(found) == 1:
            flt = f"{kind}.stream=={found[0]}"
        elif kind in ("tcp", "udp"):
            flt = f"{_endpoint_filter(kind, a, pa)} && {_endpoint_filter(kind, b, pb)}"
        else:
            field = _addr_field(kind, a)
            flt = f"{field}=={a} && {field}=={b}"
        flow_id = f"{capture_id}-{kind}-{found[0]}" if found else None
        rows.append({**c, "addr_a": a, "port_a": pa, "addr_b": b, "port_b": pb, "filter": flt,
                     "bps_ab": _bits_per_second(c["a_to_b"]["bytes"], c["duration"]),
                     "bps_ba": _bits_per_second(c["b_to_a"]["bytes"], c["duration"]),
                     "packets_url": URLS.capture(capture_id, filter=flt),
                     "ladder_url": URLS.ladder(flow_id) if flow_id else None,
                     "follow_url": URLS.follow(flow_id) if flow_id else None})
    return rows


def endpoint_rows(view, capture_id: str, kind: str) -> list[dict]:
    rows = []
    for e in stats.endpoints(view.index, kind):
        address, port = split(kind, e["address"])
        flt = _endpoint_filter(kind, address, port)
        rows.append({**e, "addr": address, "port": port, "filter": flt,
                     "packets_url": URLS.capture(capture_id, filter=flt)})
    return rows


def _columns(page: str, kind: str) -> list[Column]:
    ports = kind in ("tcp", "udp")
    if page == "conversations":
        cols = [Column("a", "Address A", lambda r: address_key(r["addr_a"]), False, "asc")]
        if ports:
            cols.append(Column("port_a", "Port A", lambda r: r["port_a"], True, "asc"))
        cols.append(Column("b", "Address B", lambda r: address_key(r["addr_b"]), False, "asc"))
        if ports:
            cols.append(Column("port_b", "Port B", lambda r: r["port_b"], True, "asc"))
        return cols + [
            Column("packets", "Packets", lambda r: r["packets"]),
            Column("bytes", "Bytes", lambda r: r["bytes"]),
            Column("ab_packets", "Packets A → B", lambda r: r["a_to_b"]["packets"]),
            Column("ab_bytes", "Bytes A → B", lambda r: r["a_to_b"]["bytes"]),
            Column("ba_packets", "Packets B → A", lambda r: r["b_to_a"]["packets"]),
            Column("ba_bytes", "Bytes B → A", lambda r: r["b_to_a"]["bytes"]),
            Column("start", "Rel Start", lambda r: r["start"], True, "asc"),
            Column("duration", "Duration", lambda r: r["duration"]),
            Column("bps_ab", "Bits/s A → B", lambda r: r["bps_ab"]),
            Column("bps_ba", "Bits/s B → A", lambda r: r["bps_ba"]),
        ]
    cols = [Column("address", "Address", lambda r: address_key(r["addr"]), False, "asc")]
    if ports:
        cols.append(Column("port", "Port", lambda r: r["port"], True, "asc"))
    return cols + [
        Column("packets", "Packets", lambda r: r["packets"]),
        Column("bytes", "Bytes", lambda r: r["bytes"]),
        Column("tx_packets", "Tx Packets", lambda r: r["tx"]["packets"]),
        Column("tx_bytes", "Tx Bytes", lambda r: r["tx"]["bytes"]),
        Column("rx_packets", "Rx Packets", lambda r: r["rx"]["packets"]),
        Column("rx_bytes", "Rx Bytes", lambda r: r["rx"]["bytes"]),
    ]


async def _stats_page(request: Request, captures, capture_id: str, page: str, kind: str,
                      sort: str | None, order: str | None) -> HTMLResponse:
    view = await run_in_threadpool(captures.open, capture_id)
    counting = stats.conversations if page == "conversations" else stats.endpoints
    url = URLS.conversations if page == "conversations" else URLS.endpoints
    api = URLS.api_conversations if page == "conversations" else URLS.api_endpoints

    def build():
        tabs = [{"kind": k, "title": t, "count": len(counting(view.index, k)), "href": url(capture_id, k)}
                for k, t in KINDS.items()]
        rows = (conversation_rows if page == "conversations" else endpoint_rows)(view, capture_id, kind)
        return tabs, rows

    tabs, rows = await run_in_threadpool(build)
    columns = _columns(page, kind)
    rows, sort, order = sort_rows(rows, columns, sort, order)
    headers = header_links(columns, sort, order, lambda key, o: url(capture_id, kind, key, o))
    context = {"capture": view.record.as_dict(), "page": page, "kind": kind, "kind_title": KINDS[kind],
               "tabs": tabs, "rows": rows[:SHOW_ROWS], "total": len(rows), "headers": headers,
               "ports": kind in ("tcp", "udp"), "nav": page, "filter": ""}
    return render(request, "stats.html", context, alternate=api(capture_id, kind))


@router.get("/captures/{capture_id}/conversations", response_class=HTMLResponse)
async def conversations_page(request: Request, capture_id: str, captures: CapturesDep, type: Kind = "tcp",
                             sort: SortParam = None, order: Literal["asc", "desc"] | None = None) -> HTMLResponse:
    """Statistics → Conversations: address pairs with the traffic of each direction."""
    return await _stats_page(request, captures, capture_id, "conversations", type, sort, order)


@router.get("/captures/{capture_id}/endpoints", response_class=HTMLResponse)
async def endpoints_page(request: Request, capture_id: str, captures: CapturesDep, type: Kind = "ipv4",
                         sort: SortParam = None, order: Literal["asc", "desc"] | None = None) -> HTMLResponse:
    """Statistics → Endpoints: each address with what it sent and received."""
    return await _stats_page(request, captures, capture_id, "endpoints", type, sort, order)
