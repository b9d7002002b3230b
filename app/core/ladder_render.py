"""Rendering a ladder model as SVG (server-side, works without JavaScript) and as Mermaid.

Every piece of text that came from a capture (addresses are safe, but labels and states are
built from packet fields) is escaped for XML, and Mermaid text is reduced to a safe alphabet, so
neither export can carry markup.
"""
from __future__ import annotations

import re
from html import escape

from app.core.ladder import label

LANE_GAP = 420
LEFT = 170
TOP = 96
ROW = 46
BADGE = {"retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
         "duplicate_ack", "lost_segment", "ack_lost_segment", "zero_window", "window_full",
         "reused_ports", "keep_alive", "window_update", "zero_window_probe"}


def _x(lane: int) -> int:
    return LEFT + lane * LANE_GAP


def _ys(events: list[dict], spacing: str) -> list[float]:
    if spacing != "time" or len(events) < 2:
        return [TOP + 40 + k * ROW for k in range(len(events))]
    t0, t1 = events[0]["time"], events[-1]["time"]
    span = max(t1 - t0, 1e-9)
    height = max(ROW * len(events), 400)
    ys, last = [], None
    for e in events:
        y = TOP + 40 + (e["time"] - t0) / span * height
        if last is not None and y < last + 18:  # keep labels readable when packets bunch up
            y = last + 18
        ys.append(y)
        last = y
    return ys


def svg(model: dict, raw: bool = False, spacing: str = "order", link=None) -> str:
    """The ladder as an SVG document. ``link(number)`` gives the URL an arrow opens."""
    lanes = model["lanes"]
    events = model["events"]
    ys = _ys(events, spacing)
    height = int((ys[-1] if ys else TOP + 40) + 80)
    width = _x(1) + 260
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="TCP ladder diagram">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" "
        "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>",
        "<style>.lane{stroke:#888;stroke-dasharray:4 3}.ep{font:bold 14px sans-serif}"
        ".lbl{font:12px monospace}.t{font:11px monospace;fill:#555}.st{font:11px sans-serif;fill:#06c}"
        ".badge{font:bold 10px sans-serif;fill:#fff}.bb{fill:#b00}.arr{stroke:#222;stroke-width:1.4}"
        ".arr.bad{stroke:#b00}a:hover .lbl,a:focus .lbl{fill:#06c;text-decoration:underline}</style>",
    ]
    for k, lane in enumerate(lanes):
        x = _x(k)
        name = escape(f"{lane['address']}:{lane['port']}")
        role = ("client" if k == 0 else "server") if model["flow"].get("protocol") == "tcp" and model["flow"].get("handshake", {}).get("syn") else ""
        out.append(f'<text class="ep" x="{x}" y="30" text-anchor="middle">{name}</text>')
        if role:
            out.append(f'<text class="t" x="{x}" y="48" text-anchor="middle">{role}</text>')
        out.append(f'<line class="lane" x1="{x}" y1="{TOP - 30}" x2="{x}" y2="{height - 20}"/>')
    out.append(f'<text class="t" x="10" y="{TOP - 20}">time (s)</text>')
    prev_states = [None, None]
    for e, y in zip(events, ys):
        src, dst = (0, 1) if e["direction"] == "a>b" else (1, 0)
        x1, x2 = _x(src), _x(dst)
        bad = any(a in BADGE for a in e["analysis"])
        href = escape(link(e["number"])) if link else ""
        text = escape(label(e, raw))
        tip = escape(e.get("explain") or "")
        out.append(f'<a href="{href}" class="ev" data-number="{e["number"]}" tabindex="0">')
        out.append(f"<title>Frame {e['number']}: {tip}</title>")
        out.append(f'<text class="t" x="10" y="{y + 4:.1f}">{e["time"]:.6f}</text>')
        out.append(f'<line class="arr{" bad" if bad else ""}" x1="{x1}" y1="{y:.1f}" x2="{x2}" '
                   f'y2="{y:.1f}" marker-end="url(#arrow)"/>')
        mid = (x1 + x2) / 2
        out.append(f'<text class="lbl" x="{mid:.1f}" y="{y - 6:.1f}" text-anchor="middle">'
                   f'#{e["number"]} {text}</text>')
        bx = mid - 60
        for flag in e["analysis"]:
            if flag not in BADGE:
                continue
            word = escape(flag.replace("_", " "))
            w = 6 * len(flag) + 10
            out.append(f'<rect class="bb" x="{bx:.1f}" y="{y + 4:.1f}" width="{w}" height="14" rx="3"/>'
                       f'<text class="badge" x="{bx + 5:.1f}" y="{y + 14:.1f}">{word}</text>')
            bx += w + 4
        out.append("</a>")
        for k, state in enumerate((e.get("state_a"), e.get("state_b"))):
            if state and state != prev_states[k]:
                anchor, dx = ("end", -8) if k == 0 else ("start", 8)
                out.append(f'<text class="st" x="{_x(k) + dx}" y="{y + 16:.1f}" '
                           f'text-anchor="{anchor}">{escape(state)}</text>')
                prev_states[k] = state
    out.append("</svg>")
    return "\n".join(out)


_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:=\[\]()#/+_-]")


def _mermaid_text(text: str) -> str:
    """Mermaid message text in a safe alphabet (no markup, no statement separators)."""
    return _MERMAID_UNSAFE.sub(" ", text)


def mermaid(model: dict, raw: bool = False) -> str:
    """The ladder as a Mermaid ``sequenceDiagram``."""
    names = []
    lines = ["sequenceDiagram"]
    for k, lane in enumerate(model["lanes"]):
        alias = "A" if k == 0 else "B"
        names.append(alias)
        endpoint = f"{lane['address']}:{lane['port']}"
        lines.append(f"    participant {alias} as {_mermaid_text(endpoint)}")
    prev = [None, None]
    for e in model["events"]:
        src, dst = ("A", "B") if e["direction"] == "a>b" else ("B", "A")
        text = f"#{e['number']} {label(e, raw)}"
        if e["analysis"]:
            text += " (" + ", ".join(a.replace("_", " ") for a in e["analysis"]) + ")"
        lines.append(f"    {src}->>{dst}: {_mermaid_text(text)}")
        for k, state in enumerate((e.get("state_a"), e.get("state_b"))):
            if state and state != prev[k]:
                lines.append(f"    Note over {names[k]}: {_mermaid_text(state)}")
                prev[k] = state
    return "\n".join(lines) + "\n"
