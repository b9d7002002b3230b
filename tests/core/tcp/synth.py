"""Hand-made TCP segment sequences for the unit tests.

``build("A S 1000 0", "B SA 5000 1001", ...)``: one string per segment, sender (A/B), flags
(letters S A F R P), seq, ack, then optional ``len=``, ``win=``, ``ws=``, ``t=`` (seconds; by
default 10 ms after the previous segment), ``stream=`` (default 0).
``random_connection(rng, stream)``: the segments of one generated connection, for comparisons.
"""
from __future__ import annotations

import random

from app.core.tcp import TcpSegments

M32 = 0xFFFFFFFF

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


def random_connection(rng: random.Random, sid: int) -> list[tuple]:
    """One connection as (stream, sender, flags, seq, ack, len, win) tuples: plain, or with
    one or two irregularities of the kinds the sequence analysis flags (lost, repeated and
    reordered segments, duplicate ACKs, zero windows, keep-alives, resets, new SYNs ...)."""
    edge = rng.random() < 0.2  # sequence numbers at the loop's sentinels or wrapping
    isn = [rng.choice([M32 - rng.randrange(300), 0, M32 - 1]) if edge else rng.randrange(1 << 32),
           rng.choice([M32 - rng.randrange(300), 0]) if edge else rng.randrange(1 << 32)]
    nxt = [(isn[0] + 1) & M32, (isn[1] + 1) & M32]
    segs = [(0, "S", isn[0], rng.choice([0, rng.randrange(1 << 32)]), 0, 1000),
            (1, "SA", isn[1], nxt[0], 0, 1000),
            (0, "A", nxt[0], nxt[1], 0, 1000)]
    for _ in range(rng.randrange(1, 8)):
        who = rng.randrange(2)
        size = rng.choice([1, 10, 100, 1000])
        segs.append((who, "PA", nxt[who], nxt[1 - who], size, 1000))
        nxt[who] = (nxt[who] + size) & M32
        segs.append((1 - who, "A", nxt[1 - who], nxt[who], 0, 1000))
    if rng.random() < 0.8:
        segs += [(0, "FA", nxt[0], nxt[1], 0, 1000), (1, "FA", nxt[1], (nxt[0] + 1) & M32, 0, 1000),
                 (0, "A", (nxt[0] + 1) & M32, (nxt[1] + 1) & M32, 0, 1000)]
    if rng.random() < 0.2:
        del segs[:rng.randrange(1, 4)]  # the capture began after the handshake
        if not segs:
            return []
    for _ in range(rng.choice([0, 0, 1, 2])):
        k = rng.randrange(1, len(segs))
        who, fl, seq, ack, size, win = segs[k]
        kind = rng.randrange(11)
        if kind == 0:
            del segs[k]  # lost
        elif kind == 1:
            segs.insert(k, segs[k])  # retransmitted / duplicated
        elif kind == 2 and k + 1 < len(segs):
            segs[k], segs[k + 1] = segs[k + 1], segs[k]  # reordered
        elif kind == 3:
            segs.insert(k + 1, (who, "A", seq, ack, 0, win))  # duplicate ACK
        elif kind == 4:
            segs.insert(k + 1, (who, "A", seq, ack, 0, win + 1))  # window update
        elif kind == 5:
            segs[k] = (who, fl, seq, ack, size, 0)  # zero window
        elif kind == 6:
            segs.insert(k + 1, (who, "A", (seq - 1) & M32, ack, rng.choice([0, 1]), win))  # keep-alive
        elif kind == 7:
            if rng.random() < 0.5:  # the ACK field of a segment without ACK is noise
                segs.insert(k, (who, "R", seq, rng.randrange(1 << 32), 0, win))
            else:
                segs.insert(k, (who, "RA", seq, ack, 0, win))
        elif kind == 8:
            segs.insert(k, (0, "S", rng.choice([isn[0], rng.randrange(1 << 32)]), 0, 0, 1000))
        elif kind == 9:
            segs[k] = (who, fl, seq, (ack + rng.randrange(1, 5000)) & M32, size, win)  # ACK ahead
        elif len(segs) > 2 and segs[1][1] == "SA":
            # the SYN-ACK arrives after the ACK that set its flow's base, with another ISN
            other = (1, "SA", rng.randrange(1 << 32), (isn[0] + 1) & M32, 0, 1000)
            segs[1], segs[2] = segs[2], other
    return [(sid,) + s for s in segs]
