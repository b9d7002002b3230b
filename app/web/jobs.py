"""Indexing off the event loop: a small pool of worker threads, one job per capture.

The pool is bounded (the machine has few cores, and two indexing passes at once already use
them); the request that uploaded a capture returns at once and the page follows the progress.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from app.core import memory
from app.core.capture import Captures
from app.core.index import IndexBuilder

log = logging.getLogger("wirelens")


class Jobs:
    def __init__(self, captures: Captures, workers: int = 2) -> None:
        self.captures = captures
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index")
        self._ended: dict[str, Future] = {}  # per capture: done when its indexing has ended

    def ended(self, capture_id: str) -> Future | None:
        """A future done once the capture's current index job has ended (its status is then
        ``ready`` or ``error``); None when no job of it runs or waits."""
        return self._ended.get(capture_id)

    def index(self, capture_id: str, builder: IndexBuilder | None = None) -> Future:
        """Index a capture; ``builder`` continues what was read of it while it arrived."""
        # Handed over in a list the job empties: the pool keeps a job's arguments until the
        # job is done, and the builder's memory should be gone before the job trims the heap.
        ended: Future = Future()
        self._ended[capture_id] = ended
        return self._pool.submit(self._run, capture_id, [builder], ended)

    def _run(self, capture_id: str, handed: list, ended: Future):
        try:
            return self.captures.index(capture_id, builder=handed.pop())
        except Exception:  # a fault in indexing must not kill the worker thread
            log.exception("indexing %s failed", capture_id)
            self.captures.library.update(
                capture_id, status="error", progress=1.0,
                error="Indexing failed with an internal error; the file is kept.",
            )
        finally:
            if self._ended.get(capture_id) is ended:
                del self._ended[capture_id]
            ended.set_result(None)  # before the heap is trimmed: waiting clients answer now
            memory.release()  # what the build freed, kept by this thread's heap otherwise

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
