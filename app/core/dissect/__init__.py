"""Packet details (Wireshark's middle pane): the protocol tree of one frame.

``dissect(frame, linktype, meta)`` returns a list of layers, the first being the Frame layer. Every
node is a dict ``{"name", "label", "value", "offset", "length", "children"}``: ``name`` is the
Wireshark field or protocol abbreviation (``tcp.srcport``, ``ip``), ``label`` the text Wireshark
shows, ``value`` the typed value a display filter compares (int, str for addresses and text, bytes,
bool/0-1 for flags, float for times, None for text-only lines), ``offset``/``length`` the frame
bytes the node covers (None for generated items).

Each protocol is parsed with Scapy's field definitions on the bytes of this one packet
(``scapyfields.walk``); which protocol follows which is decided here, with Wireshark's tables.
Cut or self-contradicting packets never raise: what parsed stays, followed by a
``_ws.short`` ("[Packet size limited during capture: TCP truncated]") or ``_ws.malformed``
("[Malformed Packet: TCP]") layer.

``tcp_context`` (optional dict, from the capture-wide TCP analysis) adds what one packet cannot
know: ``seq``, ``ack``, ``nxtseq`` (relative), ``stream``, ``analysis`` (flag names such as
"retransmission"), and optionally ``window`` (scaled), ``window_scale``, ``dup_ack_num``,
``dup_ack_frame``, ``acks_frame``, ``rtt``, ``bytes_in_flight``, ``reassembled_pdu`` (this segment
is part of a PDU completed later: no application layer here) and ``app_data`` (the reassembled
application bytes ending in this segment: the application layer is dissected from them).
"""
from __future__ import annotations

import struct
from typing import Any

from . import app_text, dhcp, dns, http, icmp, ip, ipv6, llc, misc, ntp, tcp, tls, udp  # noqa: F401
from .frame import frame_node, set_protocols, unknown_note
from .link import dissect_eth, dissect_null, dissect_raw, dissect_sll, dissect_sll2
from .meta import FrameMeta
from .node import Ctx, Malformed, Node, Short, Tvb, expert, mk
from . import registry as reg

__all__ = ["dissect", "field_values", "FrameMeta"]


def _link(ctx: Ctx, linktype: int, tvb: Tvb) -> bool:
    """Dissect from the link layer; False when the link type is not handled."""
    if linktype == 1:
        dissect_eth(ctx, tvb)
    elif linktype == 0:
        dissect_null(ctx, tvb, network_order=False)
    elif linktype == 108:
        dissect_null(ctx, tvb, network_order=True)
    elif linktype in (101, 12, 14):
        dissect_raw(ctx, tvb)
    elif linktype == 228:
        reg.ETHERTYPE[0x0800](ctx, tvb, None)
    elif linktype == 229:
        reg.ETHERTYPE[0x86DD](ctx, tvb, None)
    elif linktype == 113:
        dissect_sll(ctx, tvb)
    elif linktype == 276:
        dissect_sll2(ctx, tvb)
    else:
        return False
    return True


def _short_node(proto: str) -> Node:
    n = mk("_ws.short", f"[Packet size limited during capture: {proto} truncated]", None, None, None)
    expert(n, "Packet size limited during capture", "Note", "Malformed")
    return n


def _malformed_node(proto: str, reason: str) -> Node:
    n = mk("_ws.malformed", f"[Malformed Packet: {proto}]", None, None, None)
    expert(n, f"Malformed Packet ({reason})", "Error", "Malformed")
    return n


def _clip(nodes: list[Node], cap: int) -> None:
    """Keep highlighted byte ranges inside the captured bytes (Wireshark clips them too)."""
    for n in nodes:
        off, ln = n["offset"], n["length"]
        if off is not None:
            if off > cap:
                n["offset"], n["length"] = cap, 0
            elif ln is not None and off + ln > cap:
                n["length"] = cap - off
        if n["children"]:
            _clip(n["children"], cap)


def dissect(frame: bytes, linktype: int, meta: FrameMeta,
            tcp_context: dict[str, Any] | None = None) -> list[dict]:
    """The protocol tree of one frame (see the module docstring). Never raises."""
    frame = bytes(frame)
    fr = frame_node(meta, linktype)
    ctx = Ctx(frame, meta, tcp_context)
    ctx.layers.append(fr)
    ctx.protocols.append("frame")
    wire = max(meta.wire_len, len(frame))
    tvb = Tvb(0, len(frame), wire)
    try:
        if not _link(ctx, linktype, tvb):
            unknown_note(fr, linktype)
            reg.data_layer(ctx, tvb)
    except Short as e:
        ctx.layers.append(_short_node(e.proto))
    except Malformed as e:
        ctx.layers.append(_malformed_node(e.proto, e.reason))
    except (IndexError, struct.error, ValueError):
        # byte-level parsing ran off the end of the data (see registry._run)
        if len(frame) < wire:
            ctx.layers.append(_short_node(reg.proto_title(ctx)))
        else:
            ctx.layers.append(_malformed_node(reg.proto_title(ctx), "Exception occurred"))
    except RecursionError:
        ctx.layers.append(_malformed_node("Frame", "Nesting too deep"))
    except Exception as e:  # noqa: BLE001 - a dissector bug must not take the packet pane down
        last = (ctx.protocols[-1] if ctx.protocols else "frame").upper()
        n = mk("_ws.malformed", f"[Dissector bug, protocol {last}: {type(e).__name__}: {e}]", None, None, None)
        expert(n, f"Dissector bug, protocol {last}", "Error", "Malformed")
        ctx.layers.append(n)
    set_protocols(fr, ctx.protocols[1:])
    _clip(ctx.layers, len(frame))
    return ctx.layers


def field_values(layers: list[dict]) -> dict[str, list]:
    """Every named node's value, by field name, in tree order (all occurrences)."""
    out: dict[str, list] = {}

    def walk(nodes: list[dict]) -> None:
        for n in nodes:
            name = n.get("name")
            if name:
                out.setdefault(name, []).append(n.get("value"))
            ch = n.get("children")
            if ch:
                walk(ch)

    walk(layers)
    return out

