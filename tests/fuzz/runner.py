"""Running fuzz cases in worker processes with a time bound and a memory bound per case.

Each worker is a separate process with an address-space limit (``RLIMIT_AS``), so a case that
tries to allocate without bound fails with MemoryError instead of taking the machine down, and
its allocations are traced (``tracemalloc``, which numpy reports to; or, cheaper, the growth of
its resident high-water mark) to check the peak of each case against a bound proportional to
the file. The parent gives each case a wall-clock limit and
kills a worker that exceeds it (a hang); a worker that dies (a crash) is replaced. Inside the
worker, the time of a case is also checked against a bound per packet.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

# A case may use this much CPU time plus this much per packet: linear work passes, a hang or a
# quadratic blow-up does not. (The unmutated corpus needs ~0.1 s plus ~1 ms per packet; a filter
# on a field outside the index dissects every packet, ~8 ms each, once per such field.)
BASE_SECONDS = 3.0
SECONDS_PER_PACKET = 0.1
# Peak traced memory of a case: a fixed allowance plus a multiple of the file's size (the
# index keeps ~250 bytes per packet, and the smallest packet record is 16 bytes).
BASE_BYTES = 96 << 20
BYTES_PER_FILE_BYTE = 40
ADDRESS_SPACE = 3 << 30  # per worker; far above a sane case, far below the machine
HANG_SECONDS = 120.0  # the parent's limit; the per-packet bound catches slowness before this


@dataclass
class Result:
    seed: int
    status: str  # ok | refused | fail | slow | memory | hang | crash
    description: str = ""
    message: str = ""
    seconds: float = 0.0
    packets: int = 0
    peak_bytes: int = 0

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "refused")


def _worker(conn: Connection, sources: list[str], workdir: str, dissecting: bool, trace: bool) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    import tracemalloc  # noqa: PLC0415

    from tests.fuzz.exercise import exercise  # noqa: PLC0415
    from tests.fuzz.mutate import make_case  # noqa: PLC0415

    paths = [Path(s) for s in sources]
    # Warm up (lazy imports, field tables) so the first case is timed like the others.
    try:
        exercise(paths[0].read_bytes(), Path(workdir) / "case")
    except Exception:  # noqa: BLE001 - the first real case reports it
        pass
    if trace:
        tracemalloc.start()
    while True:
        seed = conn.recv()
        if seed is None:
            return
        result = Result(seed, "ok")
        data = b""
        try:
            case = make_case(seed, paths)
            data = case.data
            result.description = case.describe()
            if trace:
                tracemalloc.reset_peak()
            high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            # CPU time, not wall time: a busy machine must not turn a fast case into a failure.
            start = time.process_time()
            stats = exercise(data, Path(workdir) / "case", seed, dissecting=dissecting)
            result.seconds = time.process_time() - start
            result.packets = stats.packets
            if stats.refused:
                result.status, result.message = "refused", stats.refused
            bound = BASE_SECONDS + SECONDS_PER_PACKET * stats.packets
            if result.seconds > bound:
                result.status = "slow"
                result.message = f"{result.seconds:.1f} s of CPU for {stats.packets} packets (bound {bound:.1f} s)"
        except MemoryError:
            result.status, result.message = "memory", traceback.format_exc(limit=-8)
        except Exception:  # anything but WirelensError is a bug; exercise lets those through
            result.status, result.message = "fail", traceback.format_exc(limit=-8)
        if trace:
            result.peak_bytes = tracemalloc.get_traced_memory()[1]
        else:  # how far this case pushed the process's high-water mark (cheaper than tracing)
            result.peak_bytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - high_water) * 1024
        limit = BASE_BYTES + BYTES_PER_FILE_BYTE * len(data)
        if result.peak_bytes > limit and not result.failed:
            result.status = "memory"
            result.message = f"peak {result.peak_bytes >> 20} MiB for a {len(data)}-byte file (bound {limit >> 20} MiB)"
        conn.send(result)


class _Slot:
    def __init__(self, ctx, sources: list[str], root: Path, n: int, dissecting: bool, trace: bool) -> None:
        self.workdir = root / f"w{n}"
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, sources, str(self.workdir), dissecting, trace),
                                daemon=True)
        self.proc.start()
        child.close()
        self.seed: int | None = None
        self.deadline = 0.0

    def give(self, seed: int, hang_seconds: float) -> None:
        self.seed = seed
        self.deadline = time.monotonic() + hang_seconds
        self.parent.send(seed)

    def stop(self) -> None:
        try:
            self.parent.send(None)
        except OSError:
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def run(seeds: list[int], sources: list[Path], workers: int = 2, dissecting: bool = True,
        hang_seconds: float = HANG_SECONDS, progress=None, trace: bool = True) -> list[Result]:
    """Run every seed; results in completion order.

    ``trace`` measures each case's peak with tracemalloc (precise, about twice the CPU time);
    without it, the growth of the worker's resident high-water mark is used.
    """
    ctx = multiprocessing.get_context("spawn")
    root = Path(tempfile.mkdtemp(prefix="wirelens-fuzz-"))
    names = [str(p) for p in sources]
    slots = [_Slot(ctx, names, root, n, dissecting, trace) for n in range(workers)]
    spawned = workers
    todo = list(reversed(seeds))
    results: list[Result] = []
    try:
        while todo or any(s.seed is not None for s in slots):
            for slot in slots:
                if slot.seed is None and todo:
                    slot.give(todo.pop(), hang_seconds)
            busy = [s for s in slots if s.seed is not None]
            timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.parent for s in busy] + [s.proc.sentinel for s in busy], timeout=timeout)
            for i, slot in enumerate(slots):
                if slot.seed is None:
                    continue
                result = None
                if slot.parent in ready:
                    try:
                        result = slot.parent.recv()
                    except (EOFError, OSError):
                        result = Result(slot.seed, "crash", message=f"worker died (exit {slot.proc.exitcode})")
                elif slot.proc.sentinel in ready:
                    slot.proc.join()
                    result = Result(slot.seed, "crash", message=f"worker died (exit {slot.proc.exitcode})")
                elif time.monotonic() > slot.deadline:
                    result = Result(slot.seed, "hang", message=f"no answer within {hang_seconds:.0f} s")
                if result is None:
                    continue
                results.append(result)
                if progress:
                    progress(result)
                slot.seed = None
                if result.status in ("hang", "crash"):
                    slot.proc.kill()
                    slot.proc.join()
                    slots[i] = _Slot(ctx, names, root, spawned, dissecting, trace)
                    spawned += 1
    finally:
        for slot in slots:
            slot.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


def corpus_sources(corpus: Path, max_bytes: int | None = None) -> list[Path]:
    """The capture files of the corpus (optionally only the small ones)."""
    out = []
    for p in sorted(corpus.iterdir()):
        if p.suffix in (".json", ".tsv", ".md") or not p.is_file():
            continue
        if max_bytes is None or p.stat().st_size <= max_bytes:
            out.append(p)
    return out
