"""Hand-made TCP segment sequences for the unit tests.

``build("A S 1000 0", "B SA 5000 1001", ...)``: one string per segment, sender (A/B), flags
(letters S A F R P), seq, ack, then optional ``len=``, ``win=``, ``ws=``, ``t=`` (seconds; by
default 10 ms after the previous segment), ``stream=`` (default 0).
"""
from __future__ import annotations

from app.core.tcp import TcpSegments

_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def build(*lines: str) -> TcpSegments:
    cols: dict[str, list] = {k: [] for k in (
        "number", "time", "stream", "direction", "seq_raw", "ack_raw", "flags", "payload_len",
        "window_value", "ws_option")}
    t = 0.0
    for no, line in enumerate(lines, start=1):
        who, fl, seq, ack, *opts = line.split()
        kw = dict(o.split("=") for o in opts)
        t = float(kw["t"]) if "t" in kw else (t + 0.01 if no > 1 else 0.0)
        cols["number"].append(no)
        cols["time"].append(t)
        cols["stream"].append(int(kw.get("stream", 0)))
        cols["direction"].append(0 if who == "A" else 1)
        cols["seq_raw"].append(int(seq))
        cols["ack_raw"].append(int(ack))
        cols["flags"].append(sum(_BITS[c] for c in fl))
        cols["payload_len"].append(int(kw.get("len", 0)))
        cols["window_value"].append(int(kw.get("win", 1000)))
        cols["ws_option"].append(int(kw.get("ws", -1)))
    return TcpSegments(**cols)
