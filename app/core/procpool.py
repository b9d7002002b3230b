"""A second process for the index passes that split by TCP stream.

Streams are independent, so a pass can hand some of its streams to a worker process and do the
others itself (app.core.tcppasses cuts them in pieces both take): on a machine with two cores
that halves its wall time.  The worker is a single, reused process started on first need; it is
spawned, never forked, because the server has threads (a fork would copy locks held by them).
Anything that goes wrong with it (no process allowed, a worker killed, data that cannot be
pickled) only costs time: the caller then computes the same part itself.

A spawned process imports the program's main module, as multiprocessing documents: a script that
builds indexes must keep its top level under ``if __name__ == "__main__":``.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import numpy as np

from app.core import memory, parcels

log = logging.getLogger("wirelens")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_job: Future | None = None  # the job last given to the worker ...
_job_pool: ProcessPoolExecutor | None = None  # ... and the pool that runs it


def _new_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker)


def _start_worker() -> None:
    """In the worker: the allocator settings of an indexing process, and an exit when the server
    process ends, however it ends.  The worker holds its own end of the job queue, so a killed
    server would otherwise leave it waiting forever."""
    memory.keep_freed_memory()
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def wait() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=wait, name="follow-parent", daemon=True).start()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _discard(pool: ProcessPoolExecutor | None) -> None:
    """Forget a broken pool so that the next need starts a new worker."""
    global _pool
    with _lock:
        if pool is not None and _pool is pool:
            _pool = None
    if pool is not None:
        try:
            pool.shutdown(wait=False, cancel_futures=True)
        except Exception:  # noqa: BLE001 - it is broken already; nothing more to release
            pass


def _run(parcel: parcels.Parcel) -> parcels.Parcel:
    """A job in the worker process, which keeps no more memory than it needs between jobs."""
    try:
        fn, args = parcels.unpack(parcel)
        del parcel
        result = fn(*args)
        del fn, args
        packed = parcels.pack(result)
        del result  # its arrays are in the parcel's file now
        return packed
    finally:
        memory.release()


def _deliver(job: Future, future: Future, parcel: parcels.Parcel) -> None:
    """Hand the worker's result of ``job`` to ``future``, the caller's (in the pool's thread,
    which reads the result's file mostly without the interpreter lock)."""
    parcels.discard(parcel)  # read by the worker already, unless it never will be
    try:
        future.set_result(parcels.unpack(job.result()))
    except BaseException as exc:  # noqa: BLE001 - the caller's future carries any failure
        future.set_exception(exc)


def _ready() -> None:
    """In the worker: load what the index passes run, before the first of them needs it."""
    import app.core.splitdecode  # noqa: F401, PLC0415
    import app.core.tcppasses  # noqa: F401, PLC0415


def warm() -> None:
    """Start the worker now (a big upload has begun): spawning it and loading its modules
    takes about half a second, better spent while the upload still arrives."""
    global _pool
    if _cores() < 2:
        return
    with _lock:
        if _pool is not None:
            return
        try:
            _pool = _new_pool()
            # not a job: a build submitting now is queued behind it
            _pool.submit(_run, parcels.pack((_ready, ())))
        except Exception as exc:  # noqa: BLE001 - the first real job will try (and fall back)
            log.warning("No worker process for the index yet (%s)", str(exc))
            _pool = None


def submit(fn: Callable[..., Any], *args: Any) -> Future | None:
    """Run ``fn(*args)`` in the worker process; None when it cannot take the job now.

    One job at a time: while another index build uses the worker, both cores are busy anyway,
    so the caller computes its part itself instead of queueing behind that build.
    """
    global _pool, _job, _job_pool
    if _cores() < 2:
        return None
    try:
        parcel = parcels.pack((fn, args))
    except Exception as exc:  # noqa: BLE001 - e.g. a local function: the job fails on its way
        failed: Future = Future()
        failed.set_exception(exc)
        return failed
    with _lock:
        if _job is not None and not _job.done():
            parcels.discard(parcel)
            return None
        pool = _pool
        try:
            if pool is None:
                pool = _pool = _new_pool()
            job = pool.submit(_run, parcel)
            future: Future | None = Future()
            job.add_done_callback(lambda done: _deliver(done, future, parcel))
        except Exception as exc:  # noqa: BLE001 - e.g. the platform refuses new processes
            # the message only: a handler keeping the record must not keep the caller's frames
            log.warning("No worker process for the index (%s): one core does the work", str(exc))
            future = None
        if future is not None:
            _job, _job_pool = future, pool
    if future is None:
        parcels.discard(parcel)
        _discard(pool)
    return future


def result(future: Future | None, here: Callable[[], Any]) -> Any:
    """The worker's result of ``future``, or ``here()`` (the same job computed in this process)
    when there is no future or the worker failed."""
    global _job, _job_pool
    if future is None:
        return here()
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a failing worker must not fail the index
        log.warning("The index worker process failed (%s: %s): this process does its part",
                    type(exc).__name__, str(exc))
        # The future keeps the exception, whose traceback keeps the caller's frame alive in a
        # reference cycle, and with it the caller's view of the mapped capture (the capture's
        # mmap could then not be closed).
        exc.__traceback__ = None
        if isinstance(exc, BrokenProcessPool):
            with _lock:
                pool = _job_pool if future is _job else None
            _discard(pool)
    finally:
        # the module must not hold the job's result (its arrays) until the next job
        with _lock:
            if _job is future:
                _job = _job_pool = None
    return here()


def pieces(stream: np.ndarray, weights: np.ndarray | None = None, count: int = 2) -> np.ndarray:
    """For rows with the given stream numbers (>= 0): the piece (0 to ``count`` - 1) of each,
    pieces of about the same number of rows (of their ``weights``, the work each row costs,
    when given), never splitting a stream.

    Streams are taken in number order; a stream across a cut goes to the piece that holds its
    middle, so no piece is off by more than half of one stream's work."""
    counts = np.bincount(stream, weights)
    middle = np.cumsum(counts) - counts / 2
    total = counts.sum()
    piece = (middle * count // total).astype(np.int64) if total else np.zeros(len(counts), np.int64)
    return np.minimum(piece, count - 1)[stream]
