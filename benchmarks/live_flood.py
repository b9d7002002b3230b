"""Live capture under a loopback flood: does the capture keep up, and does the kernel drop?

Starts a live capture on ``lo`` through the same ``LiveCaptures`` the server uses (capture
process, incremental index), filtered to one UDP port, then floods that port from a separate
process at a fixed rate for a fixed time (bounded: it stops by itself). Prints the rate reached,
what the capture process wrote, the kernel's counters for the socket (PACKET_STATISTICS:
packets passed by the filter and ``tp_drops``), how far behind the incremental index was, and
how long the final index took.

    .venv/bin/python benchmarks/live_flood.py [--rate 30000] [--seconds 10] [--size 64]

Needs root (or CAP_NET_RAW). Nothing dropped is the target.
"""
from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.capture import Captures  # noqa: E402
from app.core.library import Library  # noqa: E402
from app.live.manager import LiveCaptures  # noqa: E402
from app.settings import Settings  # noqa: E402


def flood(port: int, rate: int, seconds: float, size: int, sent, spent) -> None:
    """Send UDP datagrams to 127.0.0.1:port at ``rate`` per second for ``seconds``, then stop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    payload = b"\xab" * size
    target = ("127.0.0.1", port)
    burst = max(1, rate // 2000)  # packets per half-millisecond slot
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end:
        due = int((now - start) * rate)
        if count < due:
            for _ in range(min(burst, due - count)):
                sock.sendto(payload, target)
            count += min(burst, due - count)
        else:
            time.sleep(0.0002)
    sent.value = count
    spent.value = time.perf_counter() - start


def free_port() -> socket.socket:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sink.bind(("127.0.0.1", 0))
    return sink


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=30_000, help="packets per second (default 30000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="flood duration (default 10)")
    parser.add_argument("--size", type=int, default=64, help="UDP payload bytes (default 64)")
    args = parser.parse_args()

    # The sink port is bound (and never read) so the flood gets no ICMP "port unreachable" back.
    sink = free_port()
    port = sink.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        captures = Captures(Library(settings.data_dir))
        live = LiveCaptures(captures, settings)
        record = live.start("lo", f"udp dst port {port}")
        session = live.session(record.id)
        sent = multiprocessing.Value("q", 0)
        spent = multiprocessing.Value("d", 0.0)
        sender = multiprocessing.Process(target=flood, args=(port, args.rate, args.seconds, args.size,
                                                            sent, spent))
        sender.start()
        worst_lag = 0
        while sender.is_alive():
            time.sleep(0.25)
            captured = int(session.stats.get("packets") or 0)
            worst_lag = max(worst_lag, captured - session.builder.count)
        sender.join()
        flood_time = spent.value
        time.sleep(0.3)  # let the capture process write what is still queued
        stop_at = time.perf_counter()
        final = live.stop(record.id)
        stop_time = time.perf_counter() - stop_at
        stats = session.stats
        sink.close()

    print(f"flood: {sent.value} UDP packets of {args.size} bytes in {flood_time:.2f} s "
          f"= {sent.value / flood_time:,.0f} packets/s (target {args.rate:,})")
    print(f"capture: {stats['packets']} packets written, {stats['bytes']:,} bytes; "
          f"rate {stats['packets'] / flood_time:,.0f} packets/s")
    print(f"kernel (PACKET_STATISTICS): {stats['kernel_packets']} packets passed the filter, "
          f"{stats['drops']} dropped (tp_drops)")
    print(f"index: at most {worst_lag} packets behind the capture while it ran; "
          f"stop + final index {stop_time:.2f} s; {final.packets} packets, status {final.status}")
    missing = sent.value - int(stats["packets"])
    print("result:", "nothing dropped" if not stats["drops"] and missing == 0
          else f"{stats['drops']} dropped by the kernel, {missing} sent packets not captured")
    return 0 if not stats["drops"] and missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
