"""The combined flow graph (Wireshark's Statistics → Flow Graph): every displayed packet as one
arrow between lanes, one lane per address, in a single SVG drawn on the server.

It reads the packet-list rows (source, destination, protocol, info), so every protocol takes
part, not only TCP and UDP. Arrows are links to their packets and use the class names of the
flow ladders (static/css/flows.css styles both, static/js/ladder.js walks both). Every piece of
text is escaped for XML; the SVG carries no style of its own (the page's CSP forbids it).
"""
from __future__ import annotations

from html import escape
from typing import Callable

LEFT = 120     # x of the first lane
GAP = 210      # between lanes
TOP = 78       # y of the first arrow
ROW = 34       # between arrows
CHAR = 7.2     # width of a 12px monospace character, to cut labels to the space they have
INFO = 90      # characters of the comment column


def lanes_of(rows: list[dict]) -> list[str]:
    """Addresses in order of first appearance (Wireshark's lane order)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row["source"] or "?", None)
        seen.setdefault(row["destination"] or "?", None)
    return list(seen)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def svg(rows: list[dict], link: Callable[[int], str], key: str = "all") -> str:
    """The rows as one SVG; ``link(number)`` is the URL an arrow opens."""
    lanes = lanes_of(rows)
    x = {address: LEFT + i * GAP for i, address in enumerate(lanes)}
    right = LEFT + max(0, len(lanes) - 1) * GAP
    loops = any((r["source"] or "?") == (r["destination"] or "?") for r in rows)
    info_x = right + (GAP if loops else 70)  # a loop's label sits right of its lane
    width = int(info_x + INFO * CHAR * 0.92)
    height = TOP + max(1, len(rows)) * ROW + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder flowgraph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Flow graph of {len(rows)} packets">',
        f'<defs><marker id="arrow-{key}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
        f'<text class="t" x="10" y="{TOP - 30}">time (s)</text>',
        f'<text class="t" x="{info_x}" y="{TOP - 30}">comment</text>',
    ]
    for i, address in enumerate(lanes):
        # Neighbouring lane titles alternate between two heights, so long addresses do not collide.
        y = 22 if i % 2 == 0 else 40
        out.append(f'<text class="ep" x="{x[address]}" y="{y}" text-anchor="middle">'
                   f'<title>{escape(address)}</title>{escape(_cut(address, 30))}</text>')
        out.append(f'<line class="lane" x1="{x[address]}" y1="{TOP - 24}" x2="{x[address]}" y2="{height - 10}"/>')
    for k, row in enumerate(rows):
        y = TOP + k * ROW
        src, dst = x[row["source"] or "?"], x[row["destination"] or "?"]
        info = row["info"] or ""
        out.append(f'<a href="{escape(link(row["number"]))}" class="ev" data-number="{row["number"]}" tabindex="0">')
        out.append(f'<title>Frame {row["number"]}: {escape(row["protocol"])} {escape(info)}</title>')
        out.append(f'<text class="t" x="10" y="{y + 4}">{row["time"]:.6f}</text>')
        if src == dst:
            # A packet to its own address: a small loop out of the lane and back.
            out.append(f'<path class="arr" fill="none" d="M{src},{y - 6} h40 v12 h-38" marker-end="url(#arrow-{key})"/>')
            label_x, room = src + 48, GAP - 60
            anchor = "start"
        else:
            out.append(f'<line class="arr" x1="{src}" y1="{y}" x2="{dst}" y2="{y}" marker-end="url(#arrow-{key})"/>')
            label_x, room = (src + dst) / 2, abs(dst - src) - 16
            anchor = "middle"
        label = escape(_cut(info, int(room / CHAR)))
        out.append(f'<text class="lbl" x="{label_x:.1f}" y="{y - 6}" text-anchor="{anchor}">{label}</text>')
        out.append(f'<text class="t" x="{info_x}" y="{y + 4}">{escape(_cut(row["protocol"] + ": " + info, INFO))}</text>')
        out.append("</a>")
    out.append("</svg>")
    return "\n".join(out)
