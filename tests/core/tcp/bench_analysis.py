"""Benchmark of the TCP analysis on a large Ethernet pcap (not collected by pytest).

    python3 /work/shared/tools/gen_pcap.py --packets 300000 -o /tmp/x.pcap
    .venv/bin/python -m tests.core.tcp.bench_analysis /tmp/x.pcap [repeat]

TCP fields are read here with struct (Ethernet + IPv4/IPv6 without extension headers); ``repeat``
concatenates the capture with itself (streams renumbered) to measure larger inputs.
"""
from __future__ import annotations

import struct
import sys
import time

import numpy as np

from app.core.tcp import TcpSegments, analyze, assign_streams


def read_tcp(path: str) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {k: [] for k in (
        "number", "time", "src", "dst", "sport", "dport", "seq", "ack", "flags", "plen", "win",
        "ws")}
    addr_ids: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        head = fh.read(24)
        endian = "<" if head[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        rec = struct.Struct(endian + "IIII")
        number = 0
        while True:
            h = fh.read(16)
            if len(h) < 16:
                break
            sec, usec, incl, _orig = rec.unpack(h)
            data = fh.read(incl)
            number += 1
            etype = int.from_bytes(data[12:14], "big")
            off = 14
            if etype == 0x0800:
                ihl = (data[off] & 15) * 4
                if data[off + 9] != 6:
                    continue
                total = int.from_bytes(data[off + 2:off + 4], "big")
                src, dst = data[off + 12:off + 16], data[off + 16:off + 20]
                t, iplen = off + ihl, total - ihl
            elif etype == 0x86DD:
                if data[off + 6] != 6:
                    continue
                iplen = int.from_bytes(data[off + 4:off + 6], "big")
                src, dst = data[off + 8:off + 24], data[off + 24:off + 40]
                t = off + 40
            else:
                continue
            sport, dport, seq, ack, offx, fl, win = struct.unpack_from(">HHIIBBH", data, t)
            hlen = (offx >> 4) * 4
            ws = -1
            if fl & 2:
                o, end = t + 20, t + hlen
                while o < end:
                    k = data[o]
                    if k == 0:
                        break
                    if k == 1:
                        o += 1
                        continue
                    if k == 3:
                        ws = data[o + 2]
                    o += max(data[o + 1], 2)
            c = cols
            c["number"].append(number)
            c["time"].append(sec + usec * 1e-6)
            c["src"].append(addr_ids.setdefault(src, len(addr_ids)))
            c["dst"].append(addr_ids.setdefault(dst, len(addr_ids)))
            c["sport"].append(sport)
            c["dport"].append(dport)
            c["seq"].append(seq)
            c["ack"].append(ack)
            c["flags"].append(((offx & 1) << 8) | fl)
            c["plen"].append(iplen - hlen)
            c["win"].append(win)
            c["ws"].append(ws)
    return {k: np.array(v) for k, v in cols.items()}


def main() -> None:
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.perf_counter()
    cols = read_tcp(path)
    t1 = time.perf_counter()
    if repeat > 1:
        span = cols["time"].max() - cols["time"].min() + 1
        nsrc = int(max(cols["src"].max(), cols["dst"].max())) + 1
        parts = []
        for k in range(repeat):
            part = dict(cols)
            part["time"] = cols["time"] + k * span
            part["src"] = cols["src"] + k * nsrc  # new addresses: new conversations
            part["dst"] = cols["dst"] + k * nsrc
            parts.append(part)
        cols = {key: np.concatenate([p[key] for p in parts]) for key in cols}
        cols["number"] = np.arange(1, len(cols["number"]) + 1)
    n = len(cols["number"])
    best: dict[str, tuple[float, float]] = {}

    def timed(label: str, fn):
        for _ in range(3):  # best of three; CPU time too, as the machine may be shared
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            now = (time.perf_counter() - t, time.process_time() - c)
            best[label] = min(best.get(label, now), now)
        return out

    stream, direction, reused = timed("assign_streams", lambda: assign_streams(
        cols["src"], cols["dst"], cols["sport"], cols["dport"], cols["flags"], cols["seq"],
        cols["ack"]))
    seg = TcpSegments(number=cols["number"], time=cols["time"], stream=stream,
                      direction=direction, seq_raw=cols["seq"], ack_raw=cols["ack"],
                      flags=cols["flags"], payload_len=cols["plen"], window_value=cols["win"],
                      ws_option=cols["ws"], reused=reused)
    timed("analyze, no states", lambda: analyze(seg, states=False))
    res = timed("analyze", lambda: analyze(seg))
    print(f"{n} TCP segments, {int(stream.max()) + 1} streams (read in {t1 - t0:.2f}s)")
    for label, (wall, cpu) in best.items():
        print(f"{label:20s} {wall:6.2f}s wall {cpu:6.2f}s CPU  ({cpu / n * 1e6:.2f} us/segment)")
    print(f"segments with analysis flags: {np.count_nonzero(res.analysis)}")
    t = time.perf_counter()
    total = 0
    for i in range(5_000_000):  # machine speed reference: scale the figures above with it
        total += i & 7
    print(f"reference loop (5M trivial iterations) {time.perf_counter() - t:.2f}s")


if __name__ == "__main__":
    main()
