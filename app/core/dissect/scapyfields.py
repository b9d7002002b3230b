"""Scapy field walker: a layer's fields with their byte offsets, parsed from one packet's bytes.

Scapy's ``Packet.do_dissect`` consumes the bytes field by field but keeps no positions; this walks
the same ``fields_desc`` with ``Field.getfield`` and records where each field started and ended
(bit fields share bytes, so their span is the bytes they touch). The payload is never dissected:
the caller decides what follows, the way Wireshark's dissector tables do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scapy.packet import Packet


@dataclass
class Fields:
    """Values and positions of a layer's fields (positions are frame offsets)."""

    values: dict[str, Any]
    spans: dict[str, tuple[int, int]]
    end: int          # frame offset just after the last parsed field
    complete: bool    # False when the bytes ran out (or Scapy choked) before the last field
    pkt: Packet | None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def off(self, name: str) -> int:
        return self.spans[name][0]

    def len(self, name: str) -> int:
        return self.spans[name][1]


def walk(cls: type[Packet], data: bytes, start: int, end: int,
         stop_after: str | None = None) -> Fields:
    """Parse the fields of ``cls`` from ``data[start:end]``.

    Stops after the field named ``stop_after`` when given. Never raises: a field that cannot be
    parsed ends the walk with ``complete=False``.
    """
    values: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    raw = data[start:end]
    total = len(raw)
    try:
        pkt = cls()
    except Exception:  # a layer class that cannot even be built: report nothing parsed
        return Fields(values, spans, start, False, None)
    s: Any = raw
    bitpos = 0
    complete = True
    for f in pkt.fields_desc:
        try:
            s2, val = f.getfield(pkt, s)
        except Exception:
            complete = False
            break
        if isinstance(s2, tuple):
            rest, bn = s2
        else:
            rest, bn = s2, 0
        newpos = (total - len(rest)) * 8 + bn
        if f.isconditional and val is None:
            s = s2
            continue
        pkt.fields[f.name] = val
        values[f.name] = val
        first = bitpos // 8
        last = (newpos + 7) // 8
        spans[f.name] = (start + first, max(last - first, 0))
        bitpos = newpos
        s = s2
        if stop_after is not None and f.name == stop_after:
            break
        if not rest and not bn and f is not pkt.fields_desc[-1] and (
                f.ismayend or (f.isconditional and getattr(f, "fld", None) is not None
                               and f.fld.ismayend)):
            break
    return Fields(values, spans, start + (bitpos + 7) // 8, complete, pkt)
