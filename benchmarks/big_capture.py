#!/usr/bin/env python3
"""Time Wirelens on a big generated capture, beside tshark on the same file.

    python benchmarks/big_capture.py --packets 1000000

Generates the capture with the corpus generator (cached in --work), starts a real server
(`wirelens serve`) on a free port with an empty data dir, uploads the file over loopback, and
measures every row of the big-capture targets. tshark runs on the same file in the same run when
it is installed, so the ratios hold on a noisy machine; the upload and tshark are then repeated
in turns (--repeat, 3 in all by default), and the ready row compares the medians. Memory is the server's peak RSS (VmHWM),
alone and added to the peak of its index worker process; the memory kept for the capture is the
growth of its resident memory (VmRSS) from before the upload, a second after the capture is
ready and again after the timed requests. Requests are timed until their response has arrived.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_CANDIDATES = [ROOT.parent / "shared" / "tools" / "gen_pcap.py", ROOT / "benchmarks" / "gen_pcap.py"]


# Filters the index answers (target: the full count in 0.1 s), then filters on fields read from
# the packets once and kept: within a stream set (only those packets are read), over the whole
# capture, and the same again (answered from what was kept).
INDEXED_FILTERS = ("tcp.port==8080", "ip.addr==10.0.0.12 && tcp.flags.syn==1",
                   "tcp.analysis.retransmission")
LAZY_FILTERS = ('tcp.stream < 100 && http.request.method == "POST"', "udp && !dns.id",
                'http.user_agent contains "curl"', 'http.user_agent contains "curl"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(pid: int, field: str = "VmHWM") -> int:
    """The process's peak resident memory (or, with field="VmRSS", its current one) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def children(pid: int) -> list[int]:
    """The processes started by ``pid`` (the server's index worker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _spin(_: int) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(5_000_000):
        x += i
    return time.perf_counter() - t


def core_balance() -> float:
    """How much slower the slowest core is than the fastest, a spin loop run on every core at
    once (1.0: all alike). The ratios against tshark assume alike cores: tshark runs on one,
    Wirelens on two, so a virtual machine whose cores are throttled unevenly favours tshark."""
    import multiprocessing  # noqa: PLC0415

    cores = os.cpu_count() or 1
    if cores < 2:
        return 1.0
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        times = pool.map(_spin, range(cores))
    return max(times) / min(times)


def get(url: str) -> tuple[float, dict]:
    """(seconds until the whole response arrived, its JSON). The parsing is not timed: this
    client's json module takes longer over the 15 MB flow list than the server's answer."""
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        raw = r.read()
    elapsed = time.perf_counter() - t
    return elapsed, json.loads(raw)


def generate(packets: int, work: Path) -> Path:
    path = work / f"gen-{packets}.pcap"
    if path.exists():
        return path
    gen = next((g for g in GENERATOR_CANDIDATES if g.exists()), None)
    if gen is None:
        sys.exit("gen_pcap.py not found; pass --file")
    subprocess.run([sys.executable, str(gen), "--packets", str(packets), "-o", str(path)], check=True)
    return path


def run_tshark(path: Path) -> tuple[float, int] | None:
    if not shutil.which("tshark"):
        return None
    t = time.perf_counter()
    proc = subprocess.Popen(["tshark", "-n", "-r", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t, usage.ru_maxrss * 1024


def start_server(data: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            get(base + "/api/health")
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("server did not start: " + proc.stderr.read().decode()[-2000:])


def upload(base: str, path: Path) -> tuple[float, dict]:
    """Stream the file as a multipart body (never read whole into memory)."""
    boundary = "wirelensbenchmark"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)

    def body():
        yield head
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield tail

    import http.client  # noqa: PLC0415

    parsed = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=600)
    t = time.perf_counter()
    conn.putrequest("POST", "/api/captures")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    for chunk in body():
        conn.send(chunk)
    resp = conn.getresponse()
    capture = json.loads(resp.read())
    elapsed = time.perf_counter() - t
    if resp.status != 201:
        sys.exit(f"upload failed: {resp.status} {capture}")
    return elapsed, capture


def upload_and_wait(base: str, path: Path) -> tuple[float, float | None, float, dict]:
    """Upload ``path``; (upload time, then first rows and ready, counted from the upload's
    response, and the capture as it is then)."""
    # Files written before (the generated capture, an earlier run's data) are flushed to disk
    # now, not while the upload is measured.
    os.sync()
    up_time, capture = upload(base, path)
    cid = capture["id"]
    t0 = time.perf_counter()
    first_rows = None
    while first_rows is None and capture["status"] in ("ready", "indexing"):
        try:
            get(f"{base}/api/captures/{cid}/packets?limit=100")
            first_rows = time.perf_counter() - t0
        except urllib.error.HTTPError:  # no row decoded yet
            time.sleep(0.02)
            _, capture = get(f"{base}/api/captures/{cid}")
    # The server answers as soon as indexing ends: no polling (which would take CPU time from
    # the indexing it measures).
    while capture["status"] == "indexing":
        _, capture = get(f"{base}/api/captures/{cid}?wait=60")
    return up_time, first_rows, time.perf_counter() - t0, capture


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def row(what: str, value: float, unit: str, target: float | None, note: str = "") -> None:
    ratio = f"{value / target:6.2f}x of target" if target else ""
    verdict = "" if not target else ("ok" if value <= target else "OVER")
    tgt = f"{target:.3f}{unit}" if target else "-"
    print(f"| {what:<52} | {value:10.3f}{unit:<2} | {tgt:>10} | {ratio} {verdict} {note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "wirelens-bench")
    ap.add_argument("--samples", type=int, default=20, help="random pages/details to time")
    ap.add_argument("--no-lazy", action="store_true",
                    help="skip the filters on fields read from the packets (they take minutes)")
    ap.add_argument("--no-tshark", action="store_true", help="do not run tshark for the targets")
    ap.add_argument("--repeat", type=int, default=3,
                    help="uploads (and tshark runs) whose median ready time is compared")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.file or generate(args.packets, args.work)
    size = path.stat().st_size
    print(f"capture: {path} ({size / 1e6:.0f} MB), cores: {os.cpu_count()}")
    balance = [core_balance()]

    tshark = None if args.no_tshark else run_tshark(path)
    if tshark:
        print(f"tshark -r FILE > /dev/null: {tshark[0]:.2f} s, peak RSS {tshark[1] / 1e6:.0f} MB")
    else:
        print("tshark not run (not installed, or --no-tshark): ratios against it are left out")

    data = args.work / "data"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data, port)
    try:
        before = peak_rss(server.pid, "VmRSS")  # the idle server, before the capture exists
        # Files written before (the generated capture, an earlier run's data) are flushed to
        # disk now, not while the upload is measured.
        up_time, first_rows, ready, capture = upload_and_wait(base, path)
        cid = capture["id"]
        balance.append(core_balance())
        if capture["status"] != "ready":
            sys.exit(f"indexing failed: {capture}")
        n = capture["packets"]
        rss = peak_rss(server.pid)
        worker_rss = sum(peak_rss(child) for child in children(server.pid))
        time.sleep(1)  # the build's job lets go of its memory just after the capture is ready
        kept_ready = peak_rss(server.pid, "VmRSS") - before
        pages = [get(f"{base}/api/captures/{cid}/packets?offset={random.randrange(max(1, n - 100))}&limit=100")[0]
                 for _ in range(args.samples)]
        details = [get(f"{base}/api/captures/{cid}/packets/{random.randrange(1, n + 1)}")[0]
                   for _ in range(args.samples)]
        filters = []
        for text in INDEXED_FILTERS + (() if args.no_lazy else LAZY_FILTERS):
            q = urllib.parse.quote(text)
            filters.append((text, *get(f"{base}/api/captures/{cid}/packets?limit=100&filter={q}")))
        flows_time, flows = get(f"{base}/api/flows?capture={cid}&limit=100000")
        tcp_flows = [f for f in flows["flows"] if f["protocol"] == "tcp"]
        ladders = [get(f"{base}/api/flows/{random.choice(tcp_flows)['id']}/ladder")[0]
                   for _ in range(min(args.samples, len(tcp_flows)))]
        kept_used = peak_rss(server.pid, "VmRSS") - before
    finally:
        server.terminate()
        server.wait()
    server = start_server(data, port)
    readies, tsharks = [ready], [tshark[0]] if tshark else []
    try:
        t = time.perf_counter()
        get(f"{base}/api/captures/{cid}/packets?offset={n // 2}&limit=100")
        reopen = time.perf_counter() - t
        index_bytes = sum(p.stat().st_size for p in (data / "captures" / cid / "index").glob("*.npy"))
        # The ratio of two wall times on a shared machine: both are taken again, in turns, and
        # compared by their medians (one slow moment of the host then moves neither).
        for _ in range(args.repeat - 1):
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/captures/{cid}",
                                                          method="DELETE")).close()
            _, _, again, capture = upload_and_wait(base, path)
            cid = capture["id"]
            readies.append(again)
            balance.append(core_balance())
            if tshark:
                tsharks.append(run_tshark(path)[0])
    finally:
        server.terminate()
        server.wait()

    print(f"\npackets: {n}, index on disk: {index_bytes / n:.0f} bytes/packet")
    worst = max(balance)
    print(f"cores alike: the slowest took {worst:.2f}x the fastest's time (before the upload "
          f"and after indexing: {' / '.join(f'{b:.2f}' for b in balance)})")
    if worst > 1.25:
        print("WARNING: the cores ran at unequal speeds (a busy host): the ratios against "
              "tshark, which uses one core, understate Wirelens, which uses two; run again")
    print()
    print(f"| {'what':<52} | {'measured':>12} | {'target':>10} |")
    row("upload of the file over loopback", up_time, "s", 6.0 * size / 600e6)
    runs = "" if len(readies) == 1 else (
        f"median of {len(readies)}: " + " ".join(f"{r:.2f}" for r in readies) + " s"
        + (", tshark " + " ".join(f"{t:.1f}" for t in tsharks) + " s" if tshark else ""))
    row("upload finished -> capture ready", median(readies), "s",
        median(tsharks) / 6 if tshark else None, runs)
    row("upload finished -> first rows", first_rows or ready, "s", 1.0)
    row("server peak RSS", rss / 1e6, "MB", tshark[1] / 2e6 if tshark else None)
    row("... with the index worker process's peak", (rss + worker_rss) / 1e6, "MB",
        tshark[1] / 2e6 if tshark else None, "both peaks added, as if at the same moment")
    row("index kept in memory once ready, per packet", kept_ready / n, "B", 120)
    row("... after the requests below, per packet", kept_used / n, "B", None,
        "with the flow tables, filter caches and file pages they read")
    row("page of 100 rows at a random offset (worst)", max(pages), "s", 0.05)
    row("page of 100 rows at a random offset (median)", sorted(pages)[len(pages) // 2], "s", 0.05)
    row("one packet's details (worst)", max(details), "s", 0.05)
    row("one packet's details (median)", sorted(details)[len(details) // 2], "s", 0.05)
    seen = set()
    for text, elapsed, body in filters:
        lazy = text in LAZY_FILTERS
        note = ("the same again" if text in seen else "fields read from the packets") if lazy else ""
        seen.add(text)
        row(f"filter {text[:34]!r} ({body['matched']} matches)", elapsed, "s", None if lazy else 0.1, note)
    row(f"/api/flows ({flows['total']} flows)", flows_time, "s", 0.5)
    if ladders:
        row("one flow's ladder (worst)", max(ladders), "s", 0.2)
    row("reopen after restart -> a page of rows", reopen, "s", 1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
