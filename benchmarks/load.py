#!/usr/bin/env python3
"""Load: 50 server-sent-event subscribers and 5 uploads at once, with latency percentiles.

    .venv/bin/python benchmarks/load.py                      # starts its own server
    .venv/bin/python benchmarks/load.py --packets 100000 --subscribers 50 --uploads 5
    .venv/bin/python benchmarks/load.py --url http://host:8000 --token TOKEN

Starts a real server (``python -m app.cli serve``, fresh data dir) unless ``--url`` is given,
generates the captures (with ../shared/tools/gen_pcap.py when it is there, else with the test
suite's generator), then at the same moment: uploads them all, subscribes the SSE clients to
``GET /api/captures/{id}/events`` of the uploads (spread evenly; each follows one capture's
indexing to its ``done`` event), pages through the packet lists, and probes ``/api/health``
every 20 ms. The health probe measures the event loop: indexing runs in worker threads, so its
latency shows whether they ever hold the loop (or the GIL) for long. Prints percentiles of every
kind of request, the number of requests not answered, and the server's peak memory.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT.parent / "shared" / "tools" / "gen_pcap.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def make_capture(path: Path, packets: int, seed: int) -> Path:
    if GENERATOR.exists():
        subprocess.run([sys.executable, str(GENERATOR), "--packets", str(packets), "--seed", str(seed),
                        "-o", str(path)], check=True, capture_output=True)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.security import bigcap  # noqa: PLC0415

        bigcap.write(path, packets - packets % 10)
    return path


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    v = sorted(values)

    def at(q: float) -> float:
        return v[min(len(v) - 1, int(q * len(v)))] * 1000

    return (f"n={len(v):5d}  p50={at(0.5):8.1f}  p90={at(0.9):8.1f}  p99={at(0.99):8.1f}  "
            f"max={v[-1] * 1000:8.1f}  mean={statistics.fmean(v) * 1000:8.1f} ms")


class Run:
    def __init__(self, base: str, token: str | None) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.lat: dict[str, list[float]] = {}
        self.failures: list[str] = []
        self.indexing = True
        self.streams = {"done": 0, "resync": 0, "rows": 0}
        self.health_during_indexing: list[float] = []

    def record(self, kind: str, seconds: float) -> None:
        self.lat.setdefault(kind, []).append(seconds)

    async def health(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                r = await client.get("/api/health", timeout=30)
                r.raise_for_status()
                took = time.perf_counter() - start
                self.record("health", took)
                if self.indexing:
                    self.health_during_indexing.append(took)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                self.failures.append(f"health: {exc!r}")
            await asyncio.sleep(0.02)

    async def upload(self, client: httpx.AsyncClient, path: Path) -> dict | None:
        start = time.perf_counter()
        try:
            with open(path, "rb") as f:
                r = await client.post("/api/captures", files={"file": (path.name, f)}, timeout=600)
            self.record("upload (to 201)", time.perf_counter() - start)
            if r.status_code != 201:
                self.failures.append(f"upload {path.name}: {r.status_code} {r.text[:200]}")
                return None
            return r.json()
        except Exception as exc:  # noqa: BLE001
            self.failures.append(f"upload {path.name}: {exc!r}")
            return None

    async def subscribe(self, client: httpx.AsyncClient, capture: dict) -> None:
        start = time.perf_counter()
        first = None
        rows = 0
        last_id = 0
        try:
            async with client.stream("GET", f"/api/captures/{capture['id']}/events", timeout=600) as r:
                if r.status_code != 200:
                    self.failures.append(f"events {capture['id']}: {r.status_code}")
                    return
                event = None
                async for line in r.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "resync":  # this client fell behind and is told to reload
                            self.streams["resync"] += 1
                        if first is None:
                            first = time.perf_counter() - start
                            self.record("SSE first event", first)
                    elif line.startswith("id: ") and event == "rows":
                        new = int(line[4:])
                        rows += new - last_id
                        last_id = new
                    if event == "done" and line == "":
                        self.streams["done"] += 1
                        break
            self.record("SSE until done", time.perf_counter() - start)
            self.streams["rows"] += rows
        except Exception as exc:  # noqa: BLE001
            self.failures.append(f"events {capture['id']}: {exc!r}")

    async def pages(self, client: httpx.AsyncClient, captures: list[dict], stop: asyncio.Event) -> None:
        rng = random.Random(1)
        while not stop.is_set():
            capture = rng.choice(captures)
            start = time.perf_counter()
            try:
                r = await client.get(f"/api/captures/{capture['id']}/packets",
                                     params={"offset": rng.randrange(0, 5000), "limit": 100}, timeout=60)
                if r.status_code not in (200, 409):
                    self.failures.append(f"packets: {r.status_code} {r.text[:200]}")
                self.record("packet list page", time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                self.failures.append(f"packets: {exc!r}")
            await asyncio.sleep(0.05)


async def main_async(args, base: str, token: str | None, files: list[Path], packets: int) -> Run:
    run = Run(base, token)
    limits = httpx.Limits(max_connections=args.subscribers + args.uploads + 20)
    async with httpx.AsyncClient(base_url=base, headers=run.headers, limits=limits) as client:
        stop = asyncio.Event()
        prober = asyncio.create_task(run.health(client, stop))
        await asyncio.sleep(0.5)  # a baseline of the idle loop
        idle = len(run.lat.get("health", []))
        started = time.perf_counter()
        captures = await asyncio.gather(*(run.upload(client, f) for f in files))
        captures = [c for c in captures if c]
        pager = asyncio.create_task(run.pages(client, captures, stop)) if captures else None
        subs = [run.subscribe(client, captures[i % len(captures)]) for i in range(args.subscribers)] if captures else []
        await asyncio.gather(*subs)
        # Every subscriber saw "done": every upload is indexed.
        run.indexing = False
        run.total_seconds = time.perf_counter() - started
        await asyncio.sleep(0.5)
        stop.set()
        await prober
        if pager:
            await pager
        run.idle_health = run.lat["health"][:idle]
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--token", help="its access token, if it needs one")
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--packets", type=int, default=30_000, help="packets per uploaded capture")
    parser.add_argument("--work", default=None, help="where to keep generated captures")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="wirelens-load-"))
    work.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(args.uploads):
        path = work / f"load-{args.packets}-{k}.pcap"
        if not path.exists():
            make_capture(path, args.packets, seed=k + 1)
        files.append(path)
    packets = args.packets - (0 if GENERATOR.exists() else args.packets % 10)
    proc = None
    data_dir = None
    base = args.url
    if not base:
        port = free_port()
        data_dir = Path(tempfile.mkdtemp(prefix="wirelens-load-data-"))
        env = {**os.environ, "WIRELENS_MAX_UPLOADS": str(max(args.uploads, 4))}
        log = open(work / "server.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                                 "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                print("the server did not start", file=sys.stderr)
                return 2
            time.sleep(0.1)
    try:
        run = asyncio.run(main_async(args, base, args.token, files, packets))
    finally:
        rss = peak_rss(proc.pid) if proc else 0
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    size = sum(f.stat().st_size for f in files) / 1e6
    print(f"{args.uploads} uploads of {packets:,} packets ({size:.0f} MB in all), "
          f"{args.subscribers} SSE subscribers, on {os.cpu_count()} CPUs; all indexed and streamed "
          f"in {run.total_seconds:.1f} s")
    print(f"{'health, idle loop':28s} {percentiles(run.idle_health)}")
    print(f"{'health, while indexing':28s} {percentiles(run.health_during_indexing)}")
    for kind in ("upload (to 201)", "SSE first event", "SSE until done", "packet list page"):
        print(f"{kind:28s} {percentiles(run.lat.get(kind, []))}")
    print(f"SSE streams ended with done: {run.streams['done']}/{args.subscribers}; rows received "
          f"{run.streams['rows']:,} of {args.subscribers * packets:,}; resync events "
          f"(a client fell behind and was told to reload): {run.streams['resync']}")
    answered = sum(len(v) for v in run.lat.values())
    print(f"requests answered: {answered}, not answered or failed: {len(run.failures)}")
    for failure in run.failures[:10]:
        print("  " + failure)
    if run.failures and proc:
        print(f"server log: {work / 'server.log'}")
    if rss:
        print(f"server peak memory (VmHWM): {rss / 2**20:.0f} MiB")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
